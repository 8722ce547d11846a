/* tools/pirogue/cmd_case.c — `pirogue case add|list|show|retry`: the clinic's deferred cases. */
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
#include "tools/pirogue/compose.h"

static void case_usage(FILE *f)
{
	fprintf(f,
	        "usage: pirogue case add [--priority urgent|normal|bulk] [--title TEXT]\n"
	        "                        [--note TEXT | --note-file FILE] [--file PATH]...\n"
	        "       pirogue case list\n"
	        "       pirogue case show ID\n"
	        "       pirogue case retry ID\n"
	        "  common options: --config FILE (default $PIROGUE_CONFIG or %s), --json\n"
	        "  add   encrypts the note and files for the hub and queues them in one durable\n"
	        "        write; prints the new case id (returns at once, link up or not)\n"
	        "  list  every case with its state (queued, sending n %%, delivered, answered,\n"
	        "        refused (reason): the peer refused it for good, it is not sent again)\n"
	        "  show  one case (ID or a unique prefix of >= 8 hex digits) and its replies\n"
	        "  retry queues a refused case again (at a hub: a refused reply, id from show)\n",
	        CMD_DEFAULT_CONFIG);
}

#define STATE_TEXT_MAX 64

static void state_text(const struct sync_record_info *r, char *out, size_t cap)
{
	if (r->state == SYNC_ST_SENDING || r->state == SYNC_ST_RECEIVING)
		snprintf(out, cap, "%s %u%%", sync_state_name(r->state), sync_record_progress(r));
	else if (r->state == SYNC_ST_REFUSED)
		snprintf(out, cap, "refused (%s)", sync_refusal_reason(r->refused_code));
	else
		snprintf(out, cap, "%s", sync_state_name(r->state));
}

/* Shared with `inbox show` in spirit: one record in text. */
static void print_record(const struct sync_record_info *r, const struct sync_env_content *sum,
                         const char *indent)
{
	char hex[SYNC_ENV_ID_HEX_LEN], st[STATE_TEXT_MAX], sz[16], t[MTIME_ISO_LEN];

	sync_env_id_hex(r->id, hex);
	state_text(r, st, sizeof st);
	printf("%s%s %s  %s  %s  %s\n", indent, r->kind == SYNC_ENV_REPLY ? "reply" : "case", hex,
	       st, sync_env_priority_name(r->priority),
	       sync_size_human(r->plain_size, sz, sizeof sz));
	printf("%s  created %s\n", indent, mtime_iso8601(r->created_ms, t));
	if (r->state == SYNC_ST_REFUSED)
		printf("%s  refused %s by the peer: %s (code %d); not sent again until\n"
		       "%s          `pirogue case retry %s`\n",
		       indent, mtime_iso8601(r->changed_ms, t), sync_strerror(r->refused_code),
		       (int)r->refused_code, indent, hex);
	printf("%s  title:  %s\n", indent, r->title);
	if (sum) {
		if (sum->note_len)
			printf("%s  note:   %s\n", indent, sum->note);
		for (size_t i = 0; i < sum->part_count; i++)
			printf("%s  file:   %s (%s, %s)\n", indent, sum->parts[i].name,
			       sum->parts[i].type,
			       sync_size_human(sum->parts[i].size, sz, sizeof sz));
	}
}

static int case_add(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        COMPOSE_LONGOPTS,
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cfg = NULL, *title;
	char err[SYNC_SITE_ERR_MAX], hex[SYNC_ENV_ID_HEX_LEN], msg[64];
	struct compose cp = {.prio = SYNC_PRIO_NORMAL};
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info info;
	uint8_t id[SYNC_ENV_ID_BYTES];
	bool json = false;
	int c, ret = CMD_FAIL, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:j" COMPOSE_SHORTOPTS "h", opts, NULL)) != -1) {
		if ((r = compose_option(&cp, c, optarg, "case add")) != 0) {
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
			case_usage(stdout);
			ret = CMD_OK;
			goto out;
		default:
			case_usage(stderr);
			ret = CMD_USAGE;
			goto out;
		}
	}
	if (optind != argc) {
		case_usage(stderr);
		ret = CMD_USAGE;
		goto out;
	}
	title = cp.title ? cp.title : "";
	if (!*title && !cp.note && !cp.nparts) {
		fprintf(stderr,
		        "pirogue case add: nothing to send (give --title, --note or --file)\n");
		ret = CMD_USAGE;
		goto out;
	}
	if ((r = compose_check(&cp, "case add")) != 0) {
		ret = -r;
		goto out;
	}
	if (sync_site_open_all(sync_site_config_path(cfg, CMD_DEFAULT_CONFIG), 0, &site, &store,
	                       err) != 0) {
		fprintf(stderr, "pirogue case add: %s\n", err);
		goto out;
	}
	if (site->role != SYNC_ROLE_CLINIC) {
		fprintf(stderr, "pirogue case add: this site is a hub; cases are added at a clinic "
		                "(a hub answers with `pirogue reply`)\n");
		goto out;
	}
	{
		struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
		                           .priority = cp.prio,
		                           .title = title,
		                           .note = cp.note,
		                           .parts = cp.parts,
		                           .part_count = cp.nparts,
		                           .chunk_size = site->chunk_size};
		r = sync_store_enqueue(store, site->keys, &site->hub_pub, &req, id);
	}
	if (r != 0) {
		if (r == SYNC_ENOSPC || r == SYNC_EMAPFULL)
			fprintf(stderr, "pirogue case add: %s (store %s); nothing was queued\n",
			        sync_strerror(r), site->store_dir);
		else if (r == -EIO)
			/* LMDB reports a short write on a full disk as EIO */
			fprintf(stderr,
			        "pirogue case add: cannot write the store %s (disk full or "
			        "failing: "
			        "%s); nothing was queued\n",
			        site->store_dir, sync_strerror(r));
		else if (r == SYNC_ENV_ENAME || r == SYNC_EEXIST)
			fprintf(stderr,
			        "pirogue case add: %s (file names must be plain, distinct names)\n",
			        sync_strerror(r));
		else
			fprintf(stderr, "pirogue case add: %s\n", sync_strerror(r));
		goto out;
	}
	sync_env_id_hex(id, hex);
	snprintf(msg, sizeof msg, "case %s", hex);
	(void)!sync_notify_send(site->store_dir, msg); /* no daemon running is fine */
	if (json) {
		if (sync_store_get(store, id, &info) != 0)
			goto out;
		ret = cmd_print_json(sync_record_json(&info, NULL, NULL));
	} else {
		puts(hex);
		ret = CMD_OK;
	}
out:
	sync_store_close(store);
	sync_site_free(site);
	compose_free(&cp);
	return ret;
}

static int parse_common(int argc, char **argv, const char **cfg, bool *json)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			*cfg = optarg;
			break;
		case 'j':
			*json = true;
			break;
		case 'h':
			case_usage(stdout);
			return CMD_OK;
		default:
			case_usage(stderr);
			return CMD_USAGE;
		}
	}
	return -1;
}

/* A REFUSED reply to case `id` among outbox rows (a hub's replies), or NULL. */
static const struct sync_record_info *refused_reply(const struct sync_record_info *outs, size_t n,
                                                    const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (outs[i].kind == SYNC_ENV_REPLY && outs[i].state == SYNC_ST_REFUSED &&
		    !memcmp(outs[i].ref, id, SYNC_ENV_ID_BYTES))
			return &outs[i];
	return NULL;
}

static int case_list(int argc, char **argv)
{
	const char *cfg = NULL;
	bool json = false;
	char err[SYNC_SITE_ERR_MAX];
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info *recs = NULL, *outs = NULL;
	size_t n = 0, nout = 0;
	int ret, r;

	if ((ret = parse_common(argc, argv, &cfg, &json)) >= 0)
		return ret;
	if (optind != argc) {
		case_usage(stderr);
		return CMD_USAGE;
	}
	ret = CMD_FAIL;
	if (sync_site_open_all(sync_site_config_path(cfg, CMD_DEFAULT_CONFIG), SYNC_SITE_NO_KEYS,
	                       &site, &store, err) != 0) {
		fprintf(stderr, "pirogue case list: %s\n", err);
		return CMD_FAIL;
	}
	/* A clinic's cases are its outbox; at a hub, the cases it received (its inbox). */
	if ((r = sync_store_list(store, site->role == SYNC_ROLE_CLINIC ? SYNC_OUTBOX : SYNC_INBOX,
	                         false, &recs, &n)) != 0) {
		fprintf(stderr, "pirogue case list: %s\n", sync_strerror(r));
		goto out;
	}
	/* At a hub, a case whose reply the clinic refused says so (the reply is in the outbox). */
	if (site->role == SYNC_ROLE_HUB &&
	    (r = sync_store_list(store, SYNC_OUTBOX, false, &outs, &nout)) != 0) {
		fprintf(stderr, "pirogue case list: %s\n", sync_strerror(r));
		goto out;
	}
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; arr && i < n; i++) {
			const struct sync_record_info *rr = refused_reply(outs, nout, recs[i].id);
			json_t *o;
			char hex[SYNC_ENV_ID_HEX_LEN];
			if (recs[i].kind != SYNC_ENV_CASE)
				continue;
			o = sync_record_json(&recs[i], NULL, NULL);
			if (o && rr) {
				sync_env_id_hex(rr->id, hex);
				json_object_set_new(o, "refused_reply", json_string(hex));
				json_object_set_new(
				        o, "refused_reply_reason",
				        json_string(sync_refusal_reason(rr->refused_code)));
			}
			if (json_array_append_new(arr, o) != 0) {
				json_decref(arr);
				arr = NULL;
			}
		}
		ret = cmd_print_json(arr);
		goto out;
	}
	printf("%-32s  %-13s  %-6s  %9s  %-24s  %s\n", "ID", "STATE", "PRIO", "SIZE", "CREATED",
	       "TITLE");
	for (size_t i = 0; i < n; i++) {
		char hex[SYNC_ENV_ID_HEX_LEN], st[STATE_TEXT_MAX], sz[16], t[MTIME_ISO_LEN];
		const struct sync_record_info *rr = refused_reply(outs, nout, recs[i].id);
		if (recs[i].kind != SYNC_ENV_CASE)
			continue;
		sync_env_id_hex(recs[i].id, hex);
		if (rr)
			snprintf(st, sizeof st, "reply refused (%s)",
			         sync_refusal_reason(rr->refused_code));
		else
			state_text(&recs[i], st, sizeof st);
		printf("%-32s  %-13s  %-6s  %9s  %-24s  %s\n", hex, st,
		       sync_env_priority_name(recs[i].priority),
		       sync_size_human(recs[i].plain_size, sz, sizeof sz),
		       mtime_iso8601(recs[i].created_ms, t), recs[i].title);
	}
	ret = CMD_OK;
out:
	free(recs);
	free(outs);
	sync_store_close(store);
	sync_site_free(site);
	return ret;
}

/* `case show|retry [options] ID`: parses the options and opens the site (no keys needed) and
 * its store. Returns -1 when the caller goes on (the ID is argv[optind]; it closes *store and
 * frees *site), else the exit status. */
static int open_for_record(int argc, char **argv, const char *action, bool *json,
                           struct sync_site **site, struct sync_store **store)
{
	const char *cfg = NULL;
	char err[SYNC_SITE_ERR_MAX];
	int ret;

	if ((ret = parse_common(argc, argv, &cfg, json)) >= 0)
		return ret;
	if (optind + 1 != argc) {
		case_usage(stderr);
		return CMD_USAGE;
	}
	if (sync_site_open_all(sync_site_config_path(cfg, CMD_DEFAULT_CONFIG), SYNC_SITE_NO_KEYS,
	                       site, store, err) != 0) {
		fprintf(stderr, "pirogue %s: %s\n", action, err);
		return CMD_FAIL;
	}
	return -1;
}

static int case_show(int argc, char **argv)
{
	bool json = false;
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info info;
	struct sync_env_content *sum = NULL;
	uint8_t id[SYNC_ENV_ID_BYTES], *reps = NULL;
	size_t nrep = 0;
	json_t *o = NULL, *arr;
	int ret, r;

	if ((ret = open_for_record(argc, argv, "case show", &json, &site, &store)) >= 0)
		return ret;
	ret = CMD_FAIL;
	if ((r = sync_store_find(store, argv[optind], id)) != 0 ||
	    (r = sync_store_get(store, id, &info)) != 0) {
		cmd_record_error("case show", argv[optind], r, "case", "no such case");
		goto out;
	}
	if (info.kind != SYNC_ENV_CASE) {
		fprintf(stderr,
		        "pirogue case show: %s is a reply, not a case (see `pirogue inbox "
		        "show`)\n",
		        argv[optind]);
		goto out;
	}
	if ((r = sync_store_summary(store, id, &sum)) != 0 && r != SYNC_ENOTFOUND) {
		fprintf(stderr, "pirogue case show: %s\n", sync_strerror(r));
		goto out;
	}
	if ((r = sync_store_replies(store, id, &reps, &nrep)) != 0) {
		fprintf(stderr, "pirogue case show: %s\n", sync_strerror(r));
		goto out;
	}
	if (json) {
		if (!(o = sync_record_json(&info, sum, NULL)) || !(arr = json_array()) ||
		    json_object_set_new(o, "reply_records", arr) != 0)
			goto out;
	} else {
		print_record(&info, sum, "");
	}
	for (size_t i = 0; i < nrep; i++) {
		struct sync_record_info ri;
		struct sync_env_content *rs = NULL;
		if (sync_store_get(store, reps + 16 * i, &ri) != 0)
			continue; /* purged */
		if (sync_store_summary(store, reps + 16 * i, &rs) != 0)
			rs = NULL;
		if (json)
			json_array_append_new(json_object_get(o, "reply_records"),
			                      sync_record_json(&ri, rs, NULL));
		else
			print_record(&ri, rs, "  ");
		sync_env_content_free(rs);
	}
	if (json) {
		ret = cmd_print_json(o);
		o = NULL;
	} else {
		ret = CMD_OK;
	}
out:
	json_decref(o);
	free(reps);
	sync_env_content_free(sum);
	sync_store_close(store);
	sync_site_free(site);
	return ret;
}

/* Re-queues a REFUSED outbox record (a case at a clinic, a reply at a hub) and pokes the
 * daemon so it is offered at once. */
static int case_retry(int argc, char **argv)
{
	bool json = false;
	char hex[SYNC_ENV_ID_HEX_LEN], msg[64];
	struct sync_site *site = NULL;
	struct sync_store *store = NULL;
	struct sync_record_info info;
	uint8_t id[SYNC_ENV_ID_BYTES];
	int ret, r;

	if ((ret = open_for_record(argc, argv, "case retry", &json, &site, &store)) >= 0)
		return ret;
	ret = CMD_FAIL;
	if ((r = sync_store_find(store, argv[optind], id)) != 0 ||
	    (r = sync_store_get(store, id, &info)) != 0 ||
	    (info.dir != SYNC_OUTBOX && (r = SYNC_ENOTFOUND))) {
		cmd_record_error("case retry", argv[optind], r, "case",
		                 "no such case or reply sent from this site");
		goto out;
	}
	if (info.state != SYNC_ST_REFUSED) {
		fprintf(stderr, "pirogue case retry: %s is %s, not refused: nothing to retry\n",
		        argv[optind], sync_state_name(info.state));
		goto out;
	}
	if ((r = sync_store_out_retry(store, id)) != 0 || (r = sync_store_get(store, id, &info))) {
		fprintf(stderr, "pirogue case retry: %s\n", sync_strerror(r));
		goto out;
	}
	sync_env_id_hex(id, hex);
	snprintf(msg, sizeof msg, "%s %s", info.kind == SYNC_ENV_REPLY ? "reply" : "case", hex);
	(void)!sync_notify_send(site->store_dir, msg); /* no daemon running is fine */
	if (json) {
		ret = cmd_print_json(sync_record_json(&info, NULL, NULL));
	} else {
		printf("%s %s queued again\n", info.kind == SYNC_ENV_REPLY ? "reply" : "case", hex);
		ret = CMD_OK;
	}
out:
	sync_store_close(store);
	sync_site_free(site);
	return ret;
}

int cmd_case(int argc, char **argv)
{
	if (argc < 2) {
		case_usage(stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		case_usage(stdout);
		return CMD_OK;
	}
	if (!strcmp(argv[1], "add"))
		return case_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return case_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "show"))
		return case_show(argc - 1, argv + 1);
	if (!strcmp(argv[1], "retry"))
		return case_retry(argc - 1, argv + 1);
	fprintf(stderr, "pirogue case: unknown action '%s' (add, list, show, retry)\n", argv[1]);
	case_usage(stderr);
	return CMD_USAGE;
}
