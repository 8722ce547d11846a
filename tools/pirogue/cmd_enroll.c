/* tools/pirogue/cmd_enroll.c — `pirogue enroll PUBKEY --name NAME` and `pirogue revoke NAME`:
 * the hub's allow-list of clinics (checked by pirogued at every handshake, no reload). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mtime.h"
#include "sync/notify.h"
#include "sync/site.h"
#include "sync/store.h"
#include "tools/pirogue/cmd.h"

static void enroll_usage(FILE *f)
{
	fprintf(f,
	        "usage: pirogue enroll PUBKEY --name NAME [--config FILE] [--json]\n"
	        "       pirogue enroll --list [--config FILE] [--json]\n"
	        "       pirogue revoke NAME [--config FILE] [--json]\n"
	        "  enroll  admits a clinic (its 88-character public key from `pirogue keygen`)\n"
	        "          under NAME ([A-Za-z0-9_.-], up to %d characters); enrolling an\n"
	        "          enrolled or revoked clinic again (same key and name) lifts a\n"
	        "          revocation and resets its handshake timestamps (a clinic whose\n"
	        "          clock went back is refused as a replay until then)\n"
	        "  revoke  refuses that clinic from its next handshake on (a connected one is\n"
	        "          dropped by the running daemon)\n"
	        "  --config default: $PIROGUE_CONFIG or %s\n",
	        SYNC_PEER_NAME_MAX, CMD_DEFAULT_CONFIG);
}

static json_t *peer_json(const struct sync_peer *p)
{
	char pub[KEYS_PUB_B64_LEN], t[MTIME_ISO_LEN];
	json_t *o = json_object();

	if (!o)
		return NULL;
	keys_pub_encode(&p->pub, pub);
	json_object_set_new(o, "name", json_string(p->name));
	json_object_set_new(o, "public_key", json_string(pub));
	json_object_set_new(o, "revoked", json_boolean(p->revoked));
	json_object_set_new(o, "enrolled", json_string(mtime_iso8601(p->enrolled_ms, t)));
	if (p->revoked)
		json_object_set_new(o, "revoked_at", json_string(mtime_iso8601(p->revoked_ms, t)));
	return o;
}

static int run(int argc, char **argv, bool revoke)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
	        {"name", required_argument, NULL, 'n'},   {"list", no_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	const char *cfg = NULL, *name = NULL, *who = revoke ? "revoke" : "enroll";
	char err[SYNC_SITE_ERR_MAX];
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_peer p, *all = NULL;
	struct keys_pub pub;
	size_t n = 0;
	bool json = false, list = false;
	int c, ret = CMD_FAIL, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jn:lh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			name = optarg;
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			enroll_usage(stdout);
			return CMD_OK;
		default:
			enroll_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (revoke ? (name || list || optind + 1 != argc)
	    : list ? (name || optind != argc)
	           : (!name || optind + 1 != argc)) {
		enroll_usage(stderr);
		return CMD_USAGE;
	}
	if (revoke)
		name = argv[optind];
	if (!revoke && !list && keys_pub_decode(argv[optind], &pub) != 0) {
		fprintf(stderr,
		        "pirogue enroll: %.100s: not a Pirogue public key (88 base64 "
		        "characters printed by `pirogue keygen`)\n",
		        argv[optind]);
		return CMD_USAGE;
	}
	if (sync_site_open_all(sync_site_config_path(cfg, CMD_DEFAULT_CONFIG), SYNC_SITE_NO_KEYS,
	                       &site, &store, err) != 0) {
		fprintf(stderr, "pirogue %s: %s\n", who, err);
		return CMD_FAIL;
	}
	if (site->role != SYNC_ROLE_HUB) {
		fprintf(stderr,
		        "pirogue %s: this site is a clinic; the allow-list lives on the hub "
		        "(a clinic pins its hub in [hub] public_key)\n",
		        who);
		goto out;
	}
	if (list) {
		if ((r = sync_store_peer_list(store, &all, &n)) != 0) {
			fprintf(stderr, "pirogue enroll: %s\n", sync_strerror(r));
			goto out;
		}
		if (json) {
			json_t *arr = json_array();
			for (size_t i = 0; arr && i < n; i++)
				json_array_append_new(arr, peer_json(&all[i]));
			ret = cmd_print_json(arr);
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			char k[KEYS_PUB_B64_LEN];
			keys_pub_encode(&all[i].pub, k);
			printf("%-20s %s %s\n", all[i].name,
			       all[i].revoked ? "REVOKED " : "enrolled", k);
		}
		ret = CMD_OK;
		goto out;
	}
	r = revoke ? sync_store_peer_revoke(store, name)
	           : sync_store_peer_enroll(store, name, &pub);
	if (r != 0) {
		fprintf(stderr, "pirogue %s: %s: %s\n", who, name,
		        r == -EINVAL          ? "bad name (use [A-Za-z0-9_.-], 1..64 characters)"
		        : r == SYNC_EEXIST    ? "that name or that key is already enrolled"
		        : r == SYNC_ENOTFOUND ? "no clinic enrolled under that name"
		                              : sync_strerror(r));
		if (r == -EINVAL)
			ret = CMD_USAGE;
		goto out;
	}
	(void)!sync_notify_send(site->store_dir, "peers");
	{
		struct sync_peer *arr = NULL;
		size_t m = 0;
		bool found = false;
		if (sync_store_peer_list(store, &arr, &m) == 0)
			for (size_t i = 0; i < m && !found; i++)
				if (!strcmp(arr[i].name, name)) {
					p = arr[i];
					found = true;
				}
		free(arr);
		if (json && found) {
			ret = cmd_print_json(peer_json(&p));
			goto out;
		}
	}
	printf("%s %s\n", revoke ? "revoked" : "enrolled", name);
	ret = CMD_OK;
out:
	free(all);
	sync_store_close(store);
	sync_site_free(site);
	return ret;
}

int cmd_enroll(int argc, char **argv)
{
	return run(argc, argv, false);
}

int cmd_revoke(int argc, char **argv)
{
	return run(argc, argv, true);
}
