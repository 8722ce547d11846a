/* tools/pirogue/cmd_reply.c — `pirogue reply ID`: the specialist's answer to a received case,
 * sealed to the clinic that sent it and queued like a case. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/notify.h"
#include "sync/site.h"
#include "sync/store.h"
#include "tools/pirogue/cmd.h"
#include "tools/pirogue/compose.h"

static void reply_usage(FILE *f)
{
	fprintf(f,
	        "usage: pirogue reply ID [--note TEXT | --note-file FILE] [--title TEXT]\n"
	        "                     [--priority urgent|normal|bulk] [--file PATH]...\n"
	        "                     [--config FILE] [--json]\n"
	        "  Queues an answer to the received case ID (or a unique prefix of >= 8 hex "
	        "digits),\n"
	        "  encrypted for the clinic that sent it; prints the reply's id.\n"
	        "  --config default: $PIROGUE_CONFIG or %s\n",
	        CMD_DEFAULT_CONFIG);
}

int cmd_reply(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        COMPOSE_LONGOPTS,
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cfg = NULL, *title;
	char err[SYNC_SITE_ERR_MAX], hex[SYNC_ENV_ID_HEX_LEN], msg[64],
	        deftitle[SYNC_ENV_TITLE_MAX + 1];
	struct compose cp = {.prio = SYNC_PRIO_NORMAL};
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info info;
	uint8_t cid[SYNC_ENV_ID_BYTES], id[SYNC_ENV_ID_BYTES];
	bool json = false;
	int c, ret = CMD_FAIL, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:j" COMPOSE_SHORTOPTS "h", opts, NULL)) != -1) {
		if ((r = compose_option(&cp, c, optarg, "reply")) != 0) {
			if (r < 0) {
				ret = -r;
				goto out;
			}
			continue;
		}
		switch (c) {
		case 'c':
			cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			reply_usage(stdout);
			ret = CMD_OK;
			goto out;
		default:
			reply_usage(stderr);
			ret = CMD_USAGE;
			goto out;
		}
	}
	if (optind + 1 != argc || (!cp.note && !cp.nparts)) {
		if (optind + 1 == argc)
			fprintf(stderr, "pirogue reply: nothing to send (give --note or --file)\n");
		reply_usage(stderr);
		ret = CMD_USAGE;
		goto out;
	}
	if ((r = compose_check(&cp, "reply")) != 0) {
		ret = -r;
		goto out;
	}
	if (sync_site_open_all(sync_site_config_path(cfg, CMD_DEFAULT_CONFIG), 0, &site, &store,
	                       err) != 0) {
		fprintf(stderr, "pirogue reply: %s\n", err);
		goto out;
	}
	if ((r = sync_store_find(store, argv[optind], cid)) != 0 ||
	    (r = sync_store_get(store, cid, &info)) != 0 || info.dir != SYNC_INBOX ||
	    info.kind != SYNC_ENV_CASE || info.state == SYNC_ST_RECEIVING) {
		cmd_record_error("reply", argv[optind], r, "case",
		                 "no such received case in the inbox");
		goto out;
	}
	title = cp.title;
	if (!title) {
		snprintf(deftitle, sizeof deftitle, "Re: %.1000s", info.title);
		title = deftitle;
	}
	if (strlen(title) > SYNC_ENV_TITLE_MAX) {
		fprintf(stderr, "pirogue reply: --title longer than %d bytes\n",
		        SYNC_ENV_TITLE_MAX);
		goto out;
	}
	{
		struct sync_enqueue req = {.kind = SYNC_ENV_REPLY,
		                           .priority = cp.prio,
		                           .ref = cid,
		                           .title = title,
		                           .note = cp.note,
		                           .parts = cp.parts,
		                           .part_count = cp.nparts,
		                           .chunk_size = site->chunk_size};
		r = sync_store_enqueue(store, site->keys, NULL, &req, id);
	}
	if (r != 0) {
		fprintf(stderr, "pirogue reply: %s%s\n", sync_strerror(r),
		        r == SYNC_ENOSPC || r == SYNC_EMAPFULL || r == -EIO ? "; nothing was queued"
		                                                            : "");
		goto out;
	}
	sync_env_id_hex(id, hex);
	snprintf(msg, sizeof msg, "reply %s", hex);
	(void)!sync_notify_send(site->store_dir, msg);
	if (json) {
		if (sync_store_get(store, id, &info) != 0 ||
		    cmd_print_json(sync_record_json(&info, NULL, NULL)) != CMD_OK)
			goto out;
	} else {
		puts(hex);
	}
	ret = CMD_OK;
out:
	sync_store_close(store);
	sync_site_free(site);
	compose_free(&cp);
	return ret;
}
