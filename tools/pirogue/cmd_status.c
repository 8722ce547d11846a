/* tools/pirogue/cmd_status.c — `pirogue status`: what the running daemon reports about sync
 * (sessions, bytes sent and re-sent, records in flight), read from its status file. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "sync/site.h"
#include "tools/pirogue/cmd.h"

static void status_usage(FILE *f)
{
	fprintf(f, "usage: pirogue status [--config FILE] [--json]\n"
	           "  Shows the sync state the running pirogued last wrote (at most 1 s old):\n"
	           "  sessions, bytes sent and re-sent after interruptions, duplicate bytes\n"
	           "  received, reconnects, refused peers, over udp the stream (rate, RTT, bytes\n"
	           "  re-sent), whether sync is yielding to a consultation, and each record in\n"
	           "  flight.\n"
	           "  --json   print the status file as JSON (adds \"running\": true|false)\n");
}

static long long geti(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cfg_path =
	        getenv("PIROGUE_CONFIG") ? getenv("PIROGUE_CONFIG") : CMD_DEFAULT_CONFIG;
	const char *status_file = NULL;
	struct sync_site *site = NULL;
	char err[SYNC_SITE_ERR_MAX], path[4200];
	json_t *root = NULL, *x, *recs, *st, *y;
	json_error_t jerr;
	bool json = false, running;
	int c, ret = CMD_FAIL;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			status_usage(stdout);
			return CMD_OK;
		default:
			status_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind != argc) {
		status_usage(stderr);
		return CMD_USAGE;
	}
	if (sync_site_load(&site, cfg_path, SYNC_SITE_NO_KEYS, err) != 0) {
		fprintf(stderr, "pirogue status: %s\n", err);
		return CMD_FAIL;
	}
	if (config_get_str(site->cfg, "sync", "status_file", NULL, &status_file, err) != 0) {
		fprintf(stderr, "pirogue status: %s\n", err);
		goto out;
	}
	if (status_file)
		snprintf(path, sizeof path, "%s", status_file);
	else
		snprintf(path, sizeof path, "%s/status.json", site->store_dir);
	root = json_load_file(path, 0, &jerr);
	if (!root || !json_is_object(root)) {
		fprintf(stderr, "pirogue status: no status in %s (has pirogued run?): %s\n", path,
		        jerr.text);
		goto out;
	}
	running = kill((pid_t)geti(root, "pid"), 0) == 0 || errno == EPERM;
	json_object_set_new(root, "running", json_boolean(running));
	if (json) {
		ret = cmd_print_json(json_incref(root));
		goto out;
	}
	x = json_object_get(root, "xfer");
	printf("pirogued (%s): %s, %lld session(s)\n",
	       json_string_value(json_object_get(root, "role")) ?: "?",
	       running ? "running" : "NOT running (last state shown)", geti(root, "sessions"));
	printf("sent %lld bytes (%lld re-sent in %lld chunks), %lld records delivered, %lld "
	       "refused by the peer (see `pirogue case list`), %lld offers\n",
	       geti(x, "bytes_sent"), geti(x, "bytes_resent"), geti(x, "chunks_resent"),
	       geti(x, "records_sent"), geti(x, "records_refused"), geti(x, "offers_sent"));
	printf("received %lld bytes (%lld duplicate in %lld chunks), %lld records, %lld refused, "
	       "%lld offers\n",
	       geti(x, "bytes_received"), geti(x, "dup_bytes_received"),
	       geti(x, "dup_chunks_received"), geti(x, "records_received"),
	       geti(x, "records_rejected"), geti(x, "offers_received"));
	printf("sessions: %lld opened, %lld closed; %lld handshakes refused, %lld replayed; rate "
	       "cap %lld B/s\n",
	       geti(x, "connects"), geti(x, "disconnects"), geti(x, "refused"), geti(x, "replays"),
	       geti(x, "rate_bytes_per_s"));
	if ((st = json_object_get(root, "stream")))
		printf("udp stream: rate %lld kbit/s (bottleneck %lld kbit/s), RTT %lld ms (min "
		       "%lld), "
		       "%lld bytes sent, %lld re-sent, %lld received%s\n",
		       geti(st, "rate_bps") / 1000, geti(st, "btlbw_bps") / 1000,
		       geti(st, "rtt_ms"), geti(st, "min_rtt_ms"), geti(st, "stream_bytes_sent"),
		       geti(st, "stream_bytes_resent"), geti(st, "stream_bytes_received"),
		       /* tunnel_up is the clinic's (it makes the session) */
		       strcmp(json_string_value(json_object_get(root, "role")) ?: "", "clinic") ? ""
		       : json_is_true(json_object_get(st, "tunnel_up")) ? "; tunnel up"
		                                                        : "; tunnel down");
	if (st && (geti(st, "streams_resumed") || geti(st, "streams_resume_refused")))
		printf("udp stream: %lld started from the path the previous one measured (careful "
		       "resume), %lld found another round-trip time and started cold\n",
		       geti(st, "streams_resumed"), geti(st, "streams_resume_refused"));
	y = json_object_get(root, "yield");
	if (json_is_true(json_object_get(y, "active")))
		printf("sync yielding to a consultation: capped at %lld kbit/s (lease %lld ms "
		       "left)\n",
		       geti(y, "cap_bps") / 1000, geti(y, "lease_left_ms"));
	recs = json_object_get(root, "records");
	for (size_t i = 0; i < json_array_size(recs); i++) {
		json_t *r = json_array_get(recs, i);
		long long done = geti(r, "done"), total = geti(r, "total");
		printf("  %s %-3s %3lld%% %lld/%lld\n", json_string_value(json_object_get(r, "id")),
		       json_string_value(json_object_get(r, "direction")),
		       total ? done * 100 / total : 0, done, total);
	}
	ret = CMD_OK;
out:
	json_decref(root);
	sync_site_free(site);
	return ret;
}
