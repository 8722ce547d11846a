/* tools/pirogue/cmd_inbox.c — `pirogue inbox list|show|export`: records this site received
 * (cases at a hub, replies at a clinic). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mtime.h"
#include "sync/site.h"
#include "sync/store.h"
#include "tools/pirogue/cmd.h"

static void inbox_usage(FILE *f)
{
	fprintf(f,
	        "usage: pirogue inbox list\n"
	        "       pirogue inbox show ID\n"
	        "       pirogue inbox export ID --to DIR\n"
	        "  common options: --config FILE (default $PIROGUE_CONFIG or %s), --json\n"
	        "  list    received records (verified and complete only), newest first\n"
	        "  show    one record: sender, title, note, files\n"
	        "  export  decrypts the note (note.txt) and every file into DIR, byte-identical "
	        "to\n"
	        "          what the sender added; never overwrites an existing file\n",
	        CMD_DEFAULT_CONFIG);
}

/* The enrolled name of a sender (hub side), or NULL. */
static const char *peer_name(struct sync_store *s, const struct keys_pub *pub, struct sync_peer *p)
{
	int r = sync_store_peer_check(s, pub->x25519, p);

	return (r == 0 || r == SYNC_EREVOKED) ? p->name : NULL;
}

static int resolve(struct sync_store *s, const char *arg, const char *who, uint8_t *id,
                   struct sync_record_info *info)
{
	char cmd[32];
	int r;

	if ((r = sync_store_find(s, arg, id)) == 0 && (r = sync_store_get(s, id, info)) == 0 &&
	    info->dir == SYNC_INBOX && info->state != SYNC_ST_RECEIVING)
		return 0;
	if (r == 0)
		r = SYNC_ENOTFOUND;
	snprintf(cmd, sizeof cmd, "inbox %s", who);
	cmd_record_error(cmd, arg, r, "record", "no such record in the inbox");
	return r;
}

int cmd_inbox(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"to", required_argument, NULL, 't'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cfg = NULL, *to = NULL, *action;
	char err[SYNC_SITE_ERR_MAX];
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info *recs = NULL, info;
	struct sync_env_content *sum = NULL;
	struct sync_peer peer;
	uint8_t id[SYNC_ENV_ID_BYTES];
	size_t n = 0;
	bool json = false;
	int c, ret = CMD_FAIL, r;

	if (argc < 2) {
		inbox_usage(stderr);
		return CMD_USAGE;
	}
	action = argv[1];
	if (!strcmp(action, "--help") || !strcmp(action, "-h")) {
		inbox_usage(stdout);
		return CMD_OK;
	}
	if (strcmp(action, "list") && strcmp(action, "show") && strcmp(action, "export")) {
		fprintf(stderr, "pirogue inbox: unknown action '%s' (list, show, export)\n",
		        action);
		inbox_usage(stderr);
		return CMD_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 't':
			to = optarg;
			break;
		case 'h':
			inbox_usage(stdout);
			return CMD_OK;
		default:
			inbox_usage(stderr);
			return CMD_USAGE;
		}
	}
	if ((!strcmp(action, "list") && optind != argc) ||
	    (strcmp(action, "list") && optind + 1 != argc) || (!strcmp(action, "export") && !to) ||
	    (strcmp(action, "export") && to)) {
		inbox_usage(stderr);
		return CMD_USAGE;
	}
	if (sync_site_open_all(sync_site_config_path(cfg, CMD_DEFAULT_CONFIG),
	                       strcmp(action, "export") ? SYNC_SITE_NO_KEYS : 0, &site, &store,
	                       err) != 0) {
		fprintf(stderr, "pirogue inbox %s: %s\n", action, err);
		return CMD_FAIL;
	}
	if (!strcmp(action, "list")) {
		if ((r = sync_store_list(store, SYNC_INBOX, false, &recs, &n)) != 0) {
			fprintf(stderr, "pirogue inbox list: %s\n", sync_strerror(r));
			goto out;
		}
		if (json) {
			json_t *arr = json_array();
			for (size_t i = 0; arr && i < n; i++)
				if (json_array_append_new(
				            arr, sync_record_json(&recs[i], NULL,
				                                  peer_name(store, &recs[i].peer,
				                                            &peer))) != 0) {
					json_decref(arr);
					arr = NULL;
				}
			ret = cmd_print_json(arr);
			goto out;
		}
		printf("%-32s  %-5s  %-9s  %-6s  %9s  %-16s  %s\n", "ID", "KIND", "STATE", "PRIO",
		       "SIZE", "FROM", "TITLE");
		for (size_t i = 0; i < n; i++) {
			char hex[SYNC_ENV_ID_HEX_LEN], sz[16];
			const char *from = peer_name(store, &recs[i].peer, &peer);
			sync_env_id_hex(recs[i].id, hex);
			printf("%-32s  %-5s  %-9s  %-6s  %9s  %-16s  %s\n", hex,
			       recs[i].kind == SYNC_ENV_REPLY ? "reply" : "case",
			       sync_state_name(recs[i].state),
			       sync_env_priority_name(recs[i].priority),
			       sync_size_human(recs[i].plain_size, sz, sizeof sz),
			       from                             ? from
			       : site->role == SYNC_ROLE_CLINIC ? "hub"
			                                        : "?",
			       recs[i].title);
		}
		ret = CMD_OK;
		goto out;
	}
	if (resolve(store, argv[optind], action, id, &info) != 0)
		goto out;
	if (!strcmp(action, "show")) {
		char hex[SYNC_ENV_ID_HEX_LEN], sz[16], t[MTIME_ISO_LEN], pub[KEYS_PUB_B64_LEN];
		const char *from = peer_name(store, &info.peer, &peer);
		if ((r = sync_store_summary(store, id, &sum)) != 0) {
			fprintf(stderr, "pirogue inbox show: %s\n", sync_strerror(r));
			goto out;
		}
		if (json) {
			ret = cmd_print_json(sync_record_json(&info, sum, from));
			goto out;
		}
		sync_env_id_hex(info.id, hex);
		keys_pub_encode(&info.peer, pub);
		printf("%s %s  %s  %s  %s\n", info.kind == SYNC_ENV_REPLY ? "reply" : "case", hex,
		       sync_state_name(info.state), sync_env_priority_name(info.priority),
		       sync_size_human(info.plain_size, sz, sizeof sz));
		if (info.kind == SYNC_ENV_REPLY) {
			sync_env_id_hex(info.ref, hex);
			printf("  answers case %s\n", hex);
		}
		printf("  from:    %s (%s)\n", from ? from : "-", pub);
		printf("  created: %s\n", mtime_iso8601(info.created_ms, t));
		printf("  title:   %s\n", info.title);
		if (sum->note_len)
			printf("  note:    %s\n", sum->note);
		for (size_t i = 0; i < sum->part_count; i++)
			printf("  file:    %s (%s, %s)\n", sum->parts[i].name, sum->parts[i].type,
			       sync_size_human(sum->parts[i].size, sz, sizeof sz));
		if (info.reply_count)
			printf("  replies: %u\n", info.reply_count);
		ret = CMD_OK;
		goto out;
	}
	/* export */
	if ((r = sync_store_export(store, id, site->keys, to)) != 0) {
		fprintf(stderr, "pirogue inbox export: %s: %s%s\n", to, sync_strerror(r),
		        r == -EEXIST ? " (a file of that name is already there; nothing was "
		                       "overwritten)"
		                     : "");
		goto out;
	}
	if (json) {
		json_t *o = json_object();
		char hex[SYNC_ENV_ID_HEX_LEN];
		sync_env_id_hex(id, hex);
		if (o) {
			json_object_set_new(o, "id", json_string(hex));
			json_object_set_new(o, "exported_to", json_string(to));
		}
		ret = cmd_print_json(o);
	} else {
		printf("exported to %s\n", to);
		ret = CMD_OK;
	}
out:
	free(recs);
	sync_env_content_free(sum);
	sync_store_close(store);
	sync_site_free(site);
	return ret;
}
