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

static char *slurp_note(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf = malloc(SYNC_ENV_NOTE_MAX + 2);
	size_t n = 0;

	if (fp && buf)
		n = fread(buf, 1, SYNC_ENV_NOTE_MAX + 1, fp);
	if (fp)
		fclose(fp);
	if (!fp || !buf || n > SYNC_ENV_NOTE_MAX || memchr(buf, 0, n)) {
		fprintf(stderr, "pirogue reply: --note-file %s: %s\n", path,
		        !fp ? strerror(errno) : "not a text note of at most 1 MiB");
		free(buf);
		return NULL;
	}
	buf[n] = 0;
	return buf;
}

int cmd_reply(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"priority", required_argument, NULL, 'p'},
	        {"title", required_argument, NULL, 't'},
	        {"note", required_argument, NULL, 'n'},
	        {"note-file", required_argument, NULL, 'N'},
	        {"file", required_argument, NULL, 'f'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cfg = NULL, *title = NULL, *note = NULL;
	char *note_buf = NULL, err[SYNC_SITE_ERR_MAX], hex[SYNC_ENV_ID_HEX_LEN], msg[64],
	     deftitle[SYNC_ENV_TITLE_MAX + 1];
	struct sync_part_src *parts = NULL;
	size_t nparts = 0;
	enum sync_env_priority prio = SYNC_PRIO_NORMAL;
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info info;
	uint8_t cid[SYNC_ENV_ID_BYTES], id[SYNC_ENV_ID_BYTES];
	bool json = false;
	int c, ret = CMD_FAIL, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jp:t:n:N:f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'p':
			if (sync_env_priority_parse(optarg, &prio) != 0) {
				fprintf(stderr,
				        "pirogue reply: --priority: urgent, normal or bulk\n");
				ret = CMD_USAGE;
				goto out;
			}
			break;
		case 't':
			title = optarg;
			break;
		case 'n':
			note = optarg;
			break;
		case 'N':
			if (!(note_buf = slurp_note(optarg)))
				goto out;
			note = note_buf;
			break;
		case 'f': {
			struct sync_part_src *t = realloc(parts, (nparts + 1) * sizeof *parts);
			if (!t)
				goto out;
			parts = t;
			memset(&parts[nparts], 0, sizeof parts[nparts]);
			parts[nparts++].path = optarg;
			break;
		}
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
	if (optind + 1 != argc || (!note && !nparts)) {
		if (optind + 1 == argc)
			fprintf(stderr, "pirogue reply: nothing to send (give --note or --file)\n");
		reply_usage(stderr);
		ret = CMD_USAGE;
		goto out;
	}
	if (note && strlen(note) > SYNC_ENV_NOTE_MAX) {
		fprintf(stderr, "pirogue reply: --note longer than %d bytes\n", SYNC_ENV_NOTE_MAX);
		ret = CMD_USAGE;
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
		fprintf(stderr, "pirogue reply: %s: %s\n", argv[optind],
		        r == -EINVAL                    ? "not a case id (hex, at least 8 digits)"
		        : r == SYNC_EEXIST              ? "ambiguous prefix (give more digits)"
		        : r == 0 || r == SYNC_ENOTFOUND ? "no such received case in the inbox"
		                                        : sync_strerror(r));
		goto out;
	}
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
		                           .priority = prio,
		                           .ref = cid,
		                           .title = title,
		                           .note = note,
		                           .parts = parts,
		                           .part_count = nparts,
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
		char *s;
		json_t *o;
		if (sync_store_get(store, id, &info) != 0 ||
		    !(o = sync_record_json(&info, NULL, NULL)))
			goto out;
		s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
		json_decref(o);
		if (!s)
			goto out;
		puts(s);
		free(s);
	} else {
		puts(hex);
	}
	ret = CMD_OK;
out:
	sync_store_close(store);
	sync_site_free(site);
	free(parts);
	free(note_buf);
	return ret;
}
