/* tests/unit/test_store.c — sync/store: durability, atomic add, priorities, resume, exactly-once,
 * map full, allow-list, retention, replies. Each test uses fresh store directories. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/keys.h"
#include "sync/notify.h"
#include "sync/store.h"

struct fx {
	char root[64], cdir[96], hdir[96];
	struct keys *clinic, *hub;
	struct sync_store *c, *h;
};

static struct keys *mk(uint8_t seed)
{
	uint8_t s[64];
	struct keys *k = NULL;

	memset(s, seed, sizeof s);
	assert_int_equal(keys_from_secret(s, &k), 0);
	return k;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	strcpy(f->root, "/tmp/test_store.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	snprintf(f->cdir, sizeof f->cdir, "%s/clinic", f->root);
	snprintf(f->hdir, sizeof f->hdir, "%s/hub", f->root);
	f->clinic = mk(11);
	f->hub = mk(22);
	assert_int_equal(sync_store_open(&f->c, f->cdir, 0, 1ull << 30), 0);
	assert_int_equal(sync_store_open(&f->h, f->hdir, 0, 1ull << 30), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	sync_store_close(f->c);
	sync_store_close(f->h);
	keys_free(f->clinic);
	keys_free(f->hub);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void add_case(struct fx *f, enum sync_env_priority prio, const char *title, const void *data,
                     size_t size, uint8_t id[16])
{
	struct sync_part_src part = {
	        .name = "data.bin", .type = "application/octet-stream", .data = data, .size = size};
	struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
	                           .priority = prio,
	                           .title = title,
	                           .note = "note text",
	                           .parts = &part,
	                           .part_count = 1,
	                           .chunk_size = 4096};
	int ret = sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, id);

	if (ret)
		fail_msg("enqueue: %s", sync_strerror(ret));
}

/* Moves outbox record `id` from `from` to `to`'s inbox through the sender and receiver APIs,
 * like the daemons would (without the network). Returns the finish result. */
static int transfer(struct sync_store *from, const struct keys *fk, struct sync_store *to,
                    const struct keys *tk, const uint8_t id[16], uint32_t stop_after)
{
	struct sync_recv_status st;
	uint8_t *hdr = NULL, *buf = malloc(SYNC_ENV_CHUNK_WIRE_MAX);
	size_t hlen, len;
	uint32_t sent = 0, next;
	bool fresh;
	int ret;

	assert_int_equal(sync_store_out_header(from, id, &hdr, &hlen), 0);
	assert_int_equal(sync_store_recv_begin(to, hdr, hlen, &fk->pub, &tk->pub, &st), 0);
	free(hdr);
	for (uint32_t i = st.next; i < st.chunk_count && !st.done; i++) {
		if (sent++ == stop_after) {
			free(buf);
			return -EINTR;
		}
		assert_int_equal(
		        sync_store_out_chunk(from, id, i, buf, SYNC_ENV_CHUNK_WIRE_MAX, &len), 0);
		assert_int_equal(sync_store_recv_chunk(to, id, i, buf, len, &next), 0);
		assert_int_equal(next, i + 1);
		assert_int_equal(sync_store_out_ack(from, id, next), 0);
	}
	free(buf);
	ret = sync_store_recv_finish(to, id, tk, &fresh, NULL);
	if (ret == 0)
		assert_int_equal(sync_store_out_delivered(from, id), 0);
	return ret;
}

static size_t count_dir(const char *dir, enum sync_dir d, struct sync_store *s)
{
	struct sync_record_info *arr = NULL;
	size_t n = 0;

	(void)dir;
	assert_int_equal(sync_store_list(s, d, true, &arr, &n), 0);
	free(arr);
	return n;
}

static void test_enqueued_case_survives_close_and_reopen(void **state)
{
	struct fx *f = *state;
	struct sync_env_content *c = NULL;
	struct sync_record_info info;
	uint8_t id[16], data[10000];

	randombytes_buf(data, sizeof data);
	add_case(f, SYNC_PRIO_NORMAL, "Plaie pied", data, sizeof data, id);
	sync_store_close(f->c);
	f->c = NULL;
	assert_int_equal(sync_store_open(&f->c, f->cdir, 0, 0), 0);
	assert_int_equal(sync_store_get(f->c, id, &info), 0);
	assert_int_equal(info.state, SYNC_ST_QUEUED);
	assert_int_equal(info.dir, SYNC_OUTBOX);
	assert_string_equal(info.title, "Plaie pied");
	assert_int_equal(info.chunk_count, 3);
	assert_int_equal(sync_store_summary(f->c, id, &c), 0);
	assert_string_equal(c->note, "note text");
	assert_int_equal(c->parts[0].size, sizeof data);
	sync_env_content_free(c);
}

static void test_failed_add_leaves_nothing(void **state)
{
	struct fx *f = *state;
	struct sync_part_src parts[2] = {{.name = "a", .data = "x", .size = 1},
	                                 {.path = "/nonexistent/file.pdf"}};
	struct sync_part_src dup[2] = {{.name = "a", .data = "x", .size = 1},
	                               {.name = "a", .data = "y", .size = 1}};
	struct sync_part_src bad[1] = {{.name = "../evil", .data = "x", .size = 1}};
	struct sync_enqueue req = {
	        .kind = SYNC_ENV_CASE, .title = "t", .parts = parts, .part_count = 2};
	uint8_t id[16];

	assert_int_equal(sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, id), -ENOENT);
	req.parts = dup;
	assert_int_equal(sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, id), SYNC_EEXIST);
	req.parts = bad;
	req.part_count = 1;
	assert_int_equal(sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, id),
	                 SYNC_ENV_ENAME);
	assert_int_equal(count_dir(f->cdir, SYNC_OUTBOX, f->c), 0);
}

static size_t count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* kill -9 during a large (spooled) add: after reopening there is either nothing or one
 * complete record, and no stray spool file. */
static void test_add_killed_midway_leaves_nothing_or_whole_record(void **state)
{
	struct fx *f = *state;
	char path[160], spool[160];
	uint8_t *data = malloc(8 << 20);
	FILE *fp;

	randombytes_buf(data, 8 << 20);
	snprintf(path, sizeof path, "%s/big.bin", f->root);
	snprintf(spool, sizeof spool, "%s/spool", f->cdir);
	fp = fopen(path, "wb");
	assert_int_equal(fwrite(data, 1, 8 << 20, fp), 8 << 20);
	fclose(fp);
	free(data);
	for (int round = 0; round < 6; round++) {
		struct sync_record_info *arr = NULL;
		size_t n = 0, before = count_dir(f->cdir, SYNC_OUTBOX, f->c);
		pid_t pid = fork();
		int status;
		if (pid == 0) {
			struct sync_store *s = NULL;
			struct sync_part_src part = {.path = path};
			struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
			                           .title = "big",
			                           .parts = &part,
			                           .part_count = 1};
			uint8_t id[16];
			if (sync_store_open(&s, f->cdir, 0, 1ull << 30) != 0)
				_exit(3);
			for (;;)
				if (sync_store_enqueue(s, f->clinic, &f->hub->pub, &req, id) != 0)
					_exit(2);
		}
		/* kill at a different moment each round */
		struct timespec ts = {0, (long)(5 + round * 23) * 1000000L};
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
		sync_store_close(f->c);
		f->c = NULL;
		assert_int_equal(sync_store_open(&f->c, f->cdir, 0, 1ull << 30), 0);
		assert_int_equal(sync_store_list(f->c, SYNC_OUTBOX, true, &arr, &n), 0);
		assert_true(n >= before);
		/* every listed record is whole: its chunks are all readable */
		for (size_t i = 0; i < n; i++) {
			uint8_t buf[SYNC_ENV_CHUNK_DEFAULT + 17];
			size_t len;
			for (uint32_t k = 0; k < arr[i].chunk_count; k++)
				assert_int_equal(sync_store_out_chunk(f->c, arr[i].id, k, buf,
				                                      sizeof buf, &len),
				                 0);
		}
		/* spool holds exactly one .rec per record, nothing else */
		assert_int_equal(count_files(spool), n);
		free(arr);
	}
}

/* Several processes enqueue into one store at once (CLI invocations next to the daemon). */
static void test_concurrent_processes_enqueue_without_loss(void **state)
{
	struct fx *f = *state;
	struct sync_record_info *arr = NULL;
	size_t n = 0;
	pid_t pids[4];

	for (int p = 0; p < 4; p++) {
		if ((pids[p] = fork()) == 0) {
			struct sync_store *s = NULL;
			struct sync_part_src part = {.name = "x", .data = "abc", .size = 3};
			struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
			                           .title = "c",
			                           .parts = &part,
			                           .part_count = 1};
			uint8_t id[16];
			if (sync_store_open(&s, f->cdir, 0, 1ull << 30) != 0)
				_exit(3);
			for (int i = 0; i < 25; i++)
				if (sync_store_enqueue(s, f->clinic, &f->hub->pub, &req, id) != 0)
					_exit(2);
			sync_store_close(s);
			_exit(0);
		}
	}
	for (int p = 0; p < 4; p++) {
		int status;
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(sync_store_list(f->c, SYNC_OUTBOX, true, &arr, &n), 0);
	assert_int_equal(n, 100);
	for (size_t i = 1; i < n; i++)
		assert_memory_not_equal(arr[i].id, arr[i - 1].id, 16);
	free(arr);
	{
		struct sync_out_item items[128];
		assert_int_equal(sync_store_out_pending(f->c, &f->hub->pub, items, 128, &n), 0);
		assert_int_equal(n, 100);
	}
}

static void test_pending_is_ordered_by_priority_then_age(void **state)
{
	struct fx *f = *state;
	struct sync_out_item items[8];
	uint8_t b[16], n1[16], u[16], n2[16];
	size_t n;

	add_case(f, SYNC_PRIO_BULK, "b", "x", 1, b);
	add_case(f, SYNC_PRIO_NORMAL, "n1", "x", 1, n1);
	add_case(f, SYNC_PRIO_URGENT, "u", "x", 1, u);
	add_case(f, SYNC_PRIO_NORMAL, "n2", "x", 1, n2);
	assert_int_equal(sync_store_out_pending(f->c, &f->hub->pub, items, 8, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(items[0].id, u, 16);
	assert_memory_equal(items[1].id, n1, 16);
	assert_memory_equal(items[2].id, n2, 16);
	assert_memory_equal(items[3].id, b, 16);
	/* another recipient sees nothing */
	assert_int_equal(sync_store_out_pending(f->c, &f->clinic->pub, items, 8, &n), 0);
	assert_int_equal(n, 0);
	/* delivered records leave the queue */
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, u, UINT32_MAX), 0);
	assert_int_equal(sync_store_out_pending(f->c, NULL, items, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(items[0].id, n1, 16);
}

static void test_transfer_then_export_is_byte_identical(void **state)
{
	struct fx *f = *state;
	struct sync_record_info info;
	uint8_t id[16], data[50000], back[50000];
	char out[160], file[200];
	FILE *fp;

	randombytes_buf(data, sizeof data);
	add_case(f, SYNC_PRIO_URGENT, "ECG", data, sizeof data, id);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, UINT32_MAX), 0);
	assert_int_equal(sync_store_get(f->c, id, &info), 0);
	assert_int_equal(info.state, SYNC_ST_DELIVERED);
	assert_int_equal(sync_store_get(f->h, id, &info), 0);
	assert_int_equal(info.state, SYNC_ST_RECEIVED);
	assert_int_equal(info.dir, SYNC_INBOX);
	assert_string_equal(info.title, "ECG");
	assert_memory_equal(&info.peer, &f->clinic->pub, sizeof info.peer);
	snprintf(out, sizeof out, "%s/export", f->root);
	assert_int_equal(sync_store_export(f->h, id, f->hub, out), 0);
	snprintf(file, sizeof file, "%s/data.bin", out);
	fp = fopen(file, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(back, 1, sizeof back, fp), sizeof data);
	fclose(fp);
	assert_memory_equal(back, data, sizeof data);
	snprintf(file, sizeof file, "%s/note.txt", out);
	assert_int_equal(access(file, R_OK), 0);
	/* exporting again never overwrites */
	assert_int_equal(sync_store_export(f->h, id, f->hub, out), -EEXIST);
	/* the wrong key cannot export (the key does not match the recipient) */
	assert_int_equal(sync_store_export(f->h, id, f->clinic, "/tmp/never-created-dir-x"),
	                 SYNC_ENV_ERECIPIENT);
}

static void test_large_spooled_record_round_trip(void **state)
{
	struct fx *f = *state;
	size_t size = 3 * 1024 * 1024 + 123;
	uint8_t *data = malloc(size), *back = malloc(size), id[16];
	struct sync_part_src part = {.name = "scan.dcm", .data = data, .size = size};
	struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
	                           .priority = SYNC_PRIO_BULK,
	                           .title = "scan",
	                           .parts = &part,
	                           .part_count = 1};
	char out[160], file[200];
	FILE *fp;

	randombytes_buf(data, size);
	assert_int_equal(sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, id), 0);
	/* interrupted after 10 chunks; the receiver restarts (no cache) and a torn write left
	 * garbage where chunk 10 goes: the persisted offset is still found to be 10 */
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, 10), -EINTR);
	sync_store_close(f->h);
	f->h = NULL;
	{
		char hex[SYNC_ENV_ID_HEX_LEN], spool[200];
		FILE *g;
		sync_env_id_hex(id, hex);
		snprintf(spool, sizeof spool, "%s/spool/%s.rec", f->hdir, hex);
		g = fopen(spool, "r+b");
		assert_non_null(g);
		assert_int_equal(fseek(g, 10L * (65536 + 17) + 100, SEEK_SET), 0);
		assert_int_equal(fwrite("torn", 1, 4, g), 4);
		fclose(g);
	}
	assert_int_equal(sync_store_open(&f->h, f->hdir, 0, 0), 0);
	{
		struct sync_recv_status st;
		uint8_t *hdr;
		size_t hlen;
		assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
		assert_int_equal(
		        sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &f->hub->pub, &st),
		        0);
		free(hdr);
		assert_int_equal(st.next, 10);
		assert_false(st.done);
	}
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, UINT32_MAX), 0);
	snprintf(out, sizeof out, "%s/export-big", f->root);
	assert_int_equal(sync_store_export(f->h, id, f->hub, out), 0);
	snprintf(file, sizeof file, "%s/scan.dcm", out);
	fp = fopen(file, "rb");
	assert_int_equal(fread(back, 1, size, fp), size);
	fclose(fp);
	assert_memory_equal(back, data, size);
	free(data);
	free(back);
}

static void test_resume_offset_survives_reopen_and_chunks_are_idempotent(void **state)
{
	struct fx *f = *state;
	struct sync_recv_status st;
	uint8_t id[16], data[40000], *hdr, buf[SYNC_ENV_CHUNK_WIRE_MAX];
	size_t hlen, len;
	uint32_t next;

	randombytes_buf(data, sizeof data);
	add_case(f, SYNC_PRIO_NORMAL, "r", data, sizeof data, id);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, 4), -EINTR);
	sync_store_close(f->h);
	f->h = NULL;
	assert_int_equal(sync_store_open(&f->h, f->hdir, 0, 0), 0);
	assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &f->hub->pub, &st),
	                 0);
	free(hdr);
	assert_int_equal(st.next, 4);
	assert_false(st.done);
	/* a duplicate of chunk 2: accepted, nothing changes */
	assert_int_equal(sync_store_out_chunk(f->c, id, 2, buf, sizeof buf, &len), 0);
	assert_int_equal(sync_store_recv_chunk(f->h, id, 2, buf, len, &next), 0);
	assert_int_equal(next, 4);
	/* a chunk beyond the next: refused */
	assert_int_equal(sync_store_out_chunk(f->c, id, 6, buf, sizeof buf, &len), 0);
	assert_int_equal(sync_store_recv_chunk(f->h, id, 6, buf, len, &next), SYNC_EORDER);
	/* a tampered chunk: refused, not persisted */
	assert_int_equal(sync_store_out_chunk(f->c, id, 4, buf, sizeof buf, &len), 0);
	buf[100] ^= 1;
	assert_int_equal(sync_store_recv_chunk(f->h, id, 4, buf, len, &next), SYNC_ENV_ECHUNKHASH);
	assert_int_equal(sync_store_recv_status(f->h, id, &st), 0);
	assert_int_equal(st.next, 4);
	/* finishing too early */
	assert_int_equal(sync_store_recv_finish(f->h, id, f->hub, NULL, NULL), SYNC_ESTATE);
	/* not visible in the inbox while receiving */
	{
		struct sync_record_info *arr;
		size_t n;
		assert_int_equal(sync_store_list(f->h, SYNC_INBOX, false, &arr, &n), 0);
		assert_int_equal(n, 0);
		free(arr);
	}
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, UINT32_MAX), 0);
}

static void test_batch_persist_is_atomic_and_skips_duplicates(void **state)
{
	struct fx *f = *state;
	struct sync_recv_status st;
	uint8_t id[16], data[30000], *hdr, *bufs[8];
	const uint8_t *cts[8];
	size_t lens[8], hlen;
	uint32_t next = 0;

	randombytes_buf(data, sizeof data);
	add_case(f, SYNC_PRIO_NORMAL, "batch", data, sizeof data, id); /* 4 KiB chunks: 8 */
	assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &f->hub->pub, &st),
	                 0);
	free(hdr);
	assert_int_equal(st.chunk_count, 8);
	for (uint32_t i = 0; i < 8; i++) {
		bufs[i] = malloc(SYNC_ENV_CHUNK_WIRE_MAX);
		assert_int_equal(sync_store_out_chunk(f->c, id, i, bufs[i], SYNC_ENV_CHUNK_WIRE_MAX,
		                                      &lens[i]),
		                 0);
		cts[i] = bufs[i];
	}
	assert_int_equal(sync_store_recv_chunks(f->h, id, 0, 3, cts, lens, &next), 0);
	assert_int_equal(next, 3);
	/* 2..5 where 2 is a duplicate and 4 is damaged: nothing of the batch is stored */
	bufs[4][7] ^= 1;
	assert_int_equal(sync_store_recv_chunks(f->h, id, 2, 4, cts + 2, lens + 2, &next),
	                 SYNC_ENV_ECHUNKHASH);
	assert_int_equal(sync_store_recv_status(f->h, id, &st), 0);
	assert_int_equal(st.next, 3);
	bufs[4][7] ^= 1;
	assert_int_equal(sync_store_recv_chunks(f->h, id, 2, 6, cts + 2, lens + 2, &next), 0);
	assert_int_equal(next, 8);
	assert_int_equal(sync_store_recv_finish(f->h, id, f->hub, NULL, NULL), 0);
	for (uint32_t i = 0; i < 8; i++)
		free(bufs[i]);
}

static void test_finish_is_exactly_once(void **state)
{
	struct fx *f = *state;
	struct sync_recv_status st;
	uint8_t id[16], *hdr;
	size_t hlen, n;
	bool fresh = true;
	struct sync_record_info *arr;

	add_case(f, SYNC_PRIO_NORMAL, "once", "abc", 3, id);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, UINT32_MAX), 0);
	assert_int_equal(sync_store_recv_finish(f->h, id, f->hub, &fresh, NULL), 0);
	assert_false(fresh);
	/* the sender re-sends (lost final ack): told it is done, nothing duplicated */
	assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &f->hub->pub, &st),
	                 0);
	assert_true(st.done);
	free(hdr);
	assert_int_equal(sync_store_list(f->h, SYNC_INBOX, true, &arr, &n), 0);
	assert_int_equal(n, 1);
	free(arr);
}

static void test_begin_checks_sender_recipient_and_id_reuse(void **state)
{
	struct fx *f = *state;
	struct sync_recv_status st;
	struct keys *other = mk(33);
	uint8_t id[16], *hdr;
	size_t hlen;

	add_case(f, SYNC_PRIO_NORMAL, "x", "abc", 3, id);
	assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &other->pub, &f->hub->pub, &st),
	                 SYNC_ENV_ESENDER);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &other->pub, &st),
	                 SYNC_ENV_ERECIPIENT);
	hdr[50] ^= 1;
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, NULL, NULL, &st), SYNC_ENV_ESIG);
	hdr[50] ^= 1;
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, NULL, NULL, &st), 0);
	/* same id, different (validly signed) header: refused */
	hdr[168 + 7] ^= 1; /* created */
	crypto_sign_detached(hdr + hlen - 64, NULL, hdr, hlen - 64, f->clinic->ed25519_sk);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, NULL, NULL, &st), SYNC_EEXIST);
	free(hdr);
	keys_free(other);
}

static void test_record_failing_verification_at_finish_is_deleted(void **state)
{
	struct fx *f = *state;
	struct sync_recv_status st;
	struct sync_record_info info;
	uint8_t id[16], *hdr, buf[SYNC_ENV_CHUNK_WIRE_MAX];
	size_t hlen, len;
	int reason = 0;

	add_case(f, SYNC_PRIO_NORMAL, "bad key", "abcdef", 6, id);
	assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
	/* a (buggy or malicious) sender signs a damaged sealed key: every chunk hash matches */
	hdr[192 + 3] ^= 0x20;
	crypto_sign_detached(hdr + hlen - 64, NULL, hdr, hlen - 64, f->clinic->ed25519_sk);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &f->hub->pub, &st),
	                 0);
	free(hdr);
	for (uint32_t i = 0; i < st.chunk_count; i++) {
		assert_int_equal(sync_store_out_chunk(f->c, id, i, buf, sizeof buf, &len), 0);
		assert_int_equal(sync_store_recv_chunk(f->h, id, i, buf, len, NULL), 0);
	}
	assert_int_equal(sync_store_recv_finish(f->h, id, f->hub, NULL, &reason), SYNC_EREFUSED);
	assert_int_equal(reason, SYNC_ENV_EKEY);
	assert_int_equal(sync_store_get(f->h, id, &info), SYNC_ENOTFOUND);
	assert_int_equal(count_dir(f->hdir, SYNC_INBOX, f->h), 0);
}

static void test_map_full_gives_clear_error_and_outbox_unchanged(void **state)
{
	struct fx *f = *state;
	struct sync_store *s = NULL;
	char dir[128];
	uint8_t id[16], *data = malloc(900 * 1024);
	struct sync_part_src part = {.name = "p", .data = data, .size = 900 * 1024};
	struct sync_enqueue req = {
	        .kind = SYNC_ENV_CASE, .title = "m", .parts = &part, .part_count = 1};
	size_t ok = 0;
	int ret = 0;

	randombytes_buf(data, 900 * 1024);
	/* a map that may not grow: 2 MiB */
	snprintf(dir, sizeof dir, "%s/tiny", f->root);
	assert_int_equal(sync_store_open(&s, dir, 2 << 20, 2 << 20), 0);
	for (int i = 0; i < 10 && ret == 0; i++)
		if ((ret = sync_store_enqueue(s, f->clinic, &f->hub->pub, &req, id)) == 0)
			ok++;
	assert_int_equal(ret, SYNC_EMAPFULL);
	assert_true(ok >= 1);
	assert_int_equal(count_dir(dir, SYNC_OUTBOX, s), ok);
	sync_store_close(s);
	/* the same with room to grow: all ten fit */
	snprintf(dir, sizeof dir, "%s/grows", f->root);
	assert_int_equal(sync_store_open(&s, dir, 2 << 20, 64 << 20), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(sync_store_enqueue(s, f->clinic, &f->hub->pub, &req, id), 0);
	assert_int_equal(count_dir(dir, SYNC_OUTBOX, s), 10);
	sync_store_close(s);
	/* and another process sees the grown map */
	assert_int_equal(sync_store_open(&s, dir, 2 << 20, 2 << 20), 0);
	assert_int_equal(count_dir(dir, SYNC_OUTBOX, s), 10);
	sync_store_close(s);
	free(data);
}

static void test_allow_list_enroll_revoke_check(void **state)
{
	struct fx *f = *state;
	struct sync_peer p;
	struct sync_peer *all;
	size_t n;

	assert_int_equal(sync_store_peer_check(f->h, f->clinic->pub.x25519, &p), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_peer_enroll(f->h, "ile-1", &f->clinic->pub), 0);
	assert_int_equal(sync_store_peer_check(f->h, f->clinic->pub.x25519, &p), 0);
	assert_string_equal(p.name, "ile-1");
	assert_int_equal(sync_store_peer_enroll(f->h, "ile-1", &f->hub->pub), SYNC_EEXIST);
	assert_int_equal(sync_store_peer_enroll(f->h, "other", &f->clinic->pub), SYNC_EEXIST);
	assert_int_equal(sync_store_peer_enroll(f->h, "bad name", &f->hub->pub), -EINVAL);
	assert_int_equal(sync_store_peer_revoke(f->h, "ile-1"), 0);
	assert_int_equal(sync_store_peer_check(f->h, f->clinic->pub.x25519, &p), SYNC_EREVOKED);
	assert_true(p.revoked);
	assert_int_equal(sync_store_peer_revoke(f->h, "nobody"), SYNC_ENOTFOUND);
	/* a second process sees the change at once (no cache) */
	{
		struct sync_store *s2 = NULL;
		assert_int_equal(sync_store_open(&s2, f->hdir, 0, 0), 0);
		assert_int_equal(sync_store_peer_check(s2, f->clinic->pub.x25519, NULL),
		                 SYNC_EREVOKED);
		assert_int_equal(sync_store_peer_enroll(s2, "ile-1", &f->clinic->pub), 0);
		sync_store_close(s2);
	}
	assert_int_equal(sync_store_peer_check(f->h, f->clinic->pub.x25519, NULL), 0);
	assert_int_equal(sync_store_peer_list(f->h, &all, &n), 0);
	assert_int_equal(n, 1);
	free(all);
}

static void test_retention_purges_delivered_records_only_after_the_delay(void **state)
{
	struct fx *f = *state;
	struct sync_record_info info;
	uint8_t d[16], q[16], big[16];
	size_t purged;
	uint8_t *data = malloc(2 << 20);
	struct sync_part_src part = {.name = "big", .data = data, .size = 2 << 20};
	struct sync_enqueue req = {
	        .kind = SYNC_ENV_CASE, .title = "b", .parts = &part, .part_count = 1};
	char spool[160];

	randombytes_buf(data, 2 << 20);
	add_case(f, SYNC_PRIO_NORMAL, "delivered", "x", 1, d);
	add_case(f, SYNC_PRIO_NORMAL, "queued", "x", 1, q);
	assert_int_equal(sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, big), 0);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, d, UINT32_MAX), 0);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, big, UINT32_MAX), 0);
	uint64_t now = (uint64_t)time(NULL) * 1000;
	assert_int_equal(sync_store_purge(f->c, now, 3600 * 1000, &purged), 0);
	assert_int_equal(purged, 0);
	assert_int_equal(sync_store_purge(f->c, now + 3601 * 1000, 3600 * 1000, &purged), 0);
	assert_int_equal(purged, 2);
	assert_int_equal(sync_store_get(f->c, d, &info), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_get(f->c, big, &info), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_get(f->c, q, &info), 0);
	snprintf(spool, sizeof spool, "%s/spool", f->cdir);
	assert_int_equal(count_files(spool), 0);
	/* the hub's inbox keeps them */
	assert_int_equal(sync_store_get(f->h, big, &info), 0);
	free(data);
}

static void test_reply_travels_back_and_marks_case_answered(void **state)
{
	struct fx *f = *state;
	struct sync_record_info info;
	struct sync_part_src part = {.name = "ordonnance.pdf", .data = "%PDF", .size = 4};
	struct sync_enqueue req = {.kind = SYNC_ENV_REPLY,
	                           .title = "Re",
	                           .note = "Débrider, puis",
	                           .parts = &part,
	                           .part_count = 1};
	struct sync_env_content *c = NULL;
	uint8_t cid[16], rid[16], *ids;
	size_t n;

	add_case(f, SYNC_PRIO_URGENT, "case", "x", 1, cid);
	/* replying to an unknown case */
	req.ref = rid;
	memset(rid, 7, 16);
	assert_int_equal(sync_store_enqueue(f->h, f->hub, NULL, &req, rid), SYNC_ENOTFOUND);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, cid, UINT32_MAX), 0);
	req.ref = cid;
	assert_int_equal(sync_store_enqueue(f->h, f->hub, NULL, &req, rid), 0);
	assert_int_equal(sync_store_get(f->h, cid, &info), 0);
	assert_int_equal(info.state, SYNC_ST_ANSWERED);
	assert_int_equal(transfer(f->h, f->hub, f->c, f->clinic, rid, UINT32_MAX), 0);
	assert_int_equal(sync_store_get(f->c, cid, &info), 0);
	assert_int_equal(info.state, SYNC_ST_ANSWERED);
	assert_int_equal(info.reply_count, 1);
	assert_int_equal(sync_store_replies(f->c, cid, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_memory_equal(ids, rid, 16);
	free(ids);
	assert_int_equal(sync_store_summary(f->c, rid, &c), 0);
	assert_string_equal(c->note, "Débrider, puis");
	sync_env_content_free(c);
}

static void test_notify_reaches_a_listener_and_is_harmless_without_one(void **state)
{
	struct fx *f = *state;
	char buf[SYNC_NOTIFY_MSG_MAX + 1];
	int fd = -1;

	assert_int_equal(sync_notify_send(f->cdir, "case 00"), 1);
	assert_int_equal(sync_notify_listen(f->cdir, &fd), 0);
	assert_int_equal(sync_notify_recv(fd, buf, sizeof buf), -EAGAIN);
	assert_int_equal(sync_notify_send(f->cdir, "case 0123"), 0);
	assert_int_equal(sync_notify_recv(fd, buf, sizeof buf), 9);
	assert_string_equal(buf, "case 0123");
	sync_notify_close(fd, f->cdir);
	assert_int_equal(sync_notify_send(f->cdir, "peers"), 1);
}

static void test_find_resolves_unique_prefixes(void **state)
{
	struct fx *f = *state;
	uint8_t id[16], got[16];
	char hex[SYNC_ENV_ID_HEX_LEN];

	add_case(f, SYNC_PRIO_NORMAL, "x", "x", 1, id);
	sync_env_id_hex(id, hex);
	assert_int_equal(sync_store_find(f->c, hex, got), 0);
	assert_memory_equal(got, id, 16);
	hex[10] = 0;
	assert_int_equal(sync_store_find(f->c, hex, got), 0);
	assert_memory_equal(got, id, 16);
	assert_int_equal(sync_store_find(f->c, "zz", got), -EINVAL);
	assert_int_equal(sync_store_find(f->c, "0000000000", got),
	                 memcmp(hex, "0000000000", 10) ? SYNC_ENOTFOUND : 0);
}

static bool pending_has(struct sync_store *s, const struct keys_pub *to, const uint8_t *id)
{
	struct sync_out_item items[16];
	size_t n = 0;

	assert_int_equal(sync_store_out_pending(s, to, items, 16, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!memcmp(items[i].id, id, 16))
			return true;
	return false;
}

static void test_refused_record_is_kept_not_offered_not_purged_and_can_be_retried(void **state)
{
	struct fx *f = *state;
	struct sync_record_info info, *arr = NULL;
	uint8_t bad[16], good[16], later[16], nope[16] = {0};
	uint64_t far = (uint64_t)time(NULL) * 1000 + 10ull * 365 * 86400 * 1000;
	size_t n = 0, purged = 0;
	bool listed = false;

	add_case(f, SYNC_PRIO_URGENT, "bad", "abcdef", 6, bad);
	add_case(f, SYNC_PRIO_NORMAL, "good", "ghijkl", 6, good);
	assert_int_equal(sync_store_out_ack(f->c, bad, 1), 0);
	assert_int_equal(sync_store_out_refused(f->c, bad, SYNC_ENV_ESIG), 0);
	assert_int_equal(sync_store_get(f->c, bad, &info), 0);
	assert_int_equal(info.state, SYNC_ST_REFUSED);
	assert_int_equal(info.refused_code, SYNC_ENV_ESIG);
	assert_string_equal(sync_state_name(info.state), "refused");
	assert_string_equal(sync_refusal_reason(info.refused_code), "signature bad");
	/* not offered any more; the good one still is */
	assert_false(pending_has(f->c, &f->hub->pub, bad));
	assert_true(pending_has(f->c, &f->hub->pub, good));
	/* a late ACK does not bring it back to SENDING */
	assert_int_equal(sync_store_out_ack(f->c, bad, 1), 0);
	assert_int_equal(sync_store_get(f->c, bad, &info), 0);
	assert_int_equal(info.state, SYNC_ST_REFUSED);
	/* it survives a restart as refused, with its reason */
	sync_store_close(f->c);
	assert_int_equal(sync_store_open(&f->c, f->cdir, 0, 1ull << 30), 0);
	assert_int_equal(sync_store_list(f->c, SYNC_OUTBOX, false, &arr, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (!memcmp(arr[i].id, bad, 16)) {
			listed = true;
			assert_int_equal(arr[i].state, SYNC_ST_REFUSED);
			assert_int_equal(arr[i].refused_code, SYNC_ENV_ESIG);
		} else {
			assert_int_equal(arr[i].refused_code, 0);
		}
	free(arr);
	assert_true(listed);
	assert_false(pending_has(f->c, &f->hub->pub, bad));
	/* a later good record still flows */
	add_case(f, SYNC_PRIO_URGENT, "later", "mnopqr", 6, later);
	assert_true(pending_has(f->c, &f->hub->pub, later));
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, later, UINT32_MAX), 0);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, good, UINT32_MAX), 0);
	/* retention removes what was delivered, never the refused record */
	assert_int_equal(sync_store_purge(f->c, far, 0, &purged), 0);
	assert_int_equal(purged, 2);
	assert_int_equal(sync_store_get(f->c, bad, &info), 0);
	assert_int_equal(info.state, SYNC_ST_REFUSED);
	/* refusing a delivered record changes nothing; unknown ids are reported */
	add_case(f, SYNC_PRIO_NORMAL, "done", "x", 1, good);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, good, UINT32_MAX), 0);
	assert_int_equal(sync_store_out_refused(f->c, good, SYNC_ENV_ESIG), 0);
	assert_int_equal(sync_store_get(f->c, good, &info), 0);
	assert_int_equal(info.state, SYNC_ST_DELIVERED);
	assert_int_equal(sync_store_out_refused(f->c, nope, SYNC_ENV_ESIG), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_out_refused(f->h, good, SYNC_ENV_ESIG), SYNC_ENOTFOUND);
	/* retry: only a refused record, back in the queue from scratch */
	assert_int_equal(sync_store_out_retry(f->c, good), SYNC_ESTATE);
	assert_int_equal(sync_store_out_retry(f->c, nope), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_out_retry(f->c, bad), 0);
	assert_int_equal(sync_store_get(f->c, bad, &info), 0);
	assert_int_equal(info.state, SYNC_ST_QUEUED);
	assert_int_equal(info.chunks_done, 0);
	assert_int_equal(info.refused_code, 0);
	assert_int_equal(sync_store_out_retry(f->c, bad), SYNC_ESTATE);
	assert_true(pending_has(f->c, &f->hub->pub, bad));
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, bad, UINT32_MAX), 0);
	assert_int_equal(sync_store_get(f->c, bad, &info), 0);
	assert_int_equal(info.state, SYNC_ST_DELIVERED);
}

static void test_recv_abort_drops_only_a_record_still_receiving(void **state)
{
	struct fx *f = *state;
	size_t size = 2 * 1024 * 1024;
	uint8_t *data = malloc(size), id[16], small[16], *hdr, buf[SYNC_ENV_CHUNK_WIRE_MAX];
	struct sync_part_src part = {.name = "big", .data = data, .size = size};
	struct sync_enqueue req = {
	        .kind = SYNC_ENV_CASE, .title = "b", .parts = &part, .part_count = 1};
	struct sync_recv_status st;
	struct sync_record_info info;
	char spool[160];
	size_t hlen, len;

	randombytes_buf(data, size);
	assert_int_equal(sync_store_enqueue(f->c, f->clinic, &f->hub->pub, &req, id), 0);
	assert_int_equal(sync_store_out_header(f->c, id, &hdr, &hlen), 0);
	assert_int_equal(sync_store_recv_begin(f->h, hdr, hlen, &f->clinic->pub, &f->hub->pub, &st),
	                 0);
	free(hdr);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_equal(sync_store_out_chunk(f->c, id, i, buf, sizeof buf, &len), 0);
		assert_int_equal(sync_store_recv_chunk(f->h, id, i, buf, len, NULL), 0);
	}
	snprintf(spool, sizeof spool, "%s/spool", f->hdir);
	assert_int_equal(count_files(spool), 1);
	assert_int_equal(sync_store_recv_abort(f->h, id), 0);
	assert_int_equal(sync_store_recv_status(f->h, id, &st), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_get(f->h, id, &info), SYNC_ENOTFOUND);
	assert_int_equal(count_files(spool), 0);
	assert_int_equal(sync_store_recv_abort(f->h, id), SYNC_ENOTFOUND);
	/* the sender's outbox copy is not an inbox record: never touched */
	assert_int_equal(sync_store_recv_abort(f->c, id), SYNC_ENOTFOUND);
	/* a finished record is never deleted this way */
	add_case(f, SYNC_PRIO_NORMAL, "s", "x", 1, small);
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, small, UINT32_MAX), 0);
	assert_int_equal(sync_store_recv_abort(f->h, small), SYNC_ESTATE);
	assert_int_equal(sync_store_get(f->h, small, &info), 0);
	assert_int_equal(info.state, SYNC_ST_RECEIVED);
	/* after an abort the record can be received again from scratch */
	assert_int_equal(transfer(f->c, f->clinic, f->h, f->hub, id, UINT32_MAX), 0);
	free(data);
}

static void test_handshake_stamps_are_kept_per_key_across_reopen(void **state)
{
	struct fx *f = *state;
	const uint8_t *k1 = f->clinic->pub.x25519, *k2 = f->hub->pub.x25519;

	assert_int_equal(sync_store_hs_stamp(f->h, k1, 1000), 0);
	assert_int_equal(sync_store_hs_stamp(f->h, k1, 1000), SYNC_EREPLAY);
	assert_int_equal(sync_store_hs_stamp(f->h, k1, 999), SYNC_EREPLAY);
	assert_int_equal(sync_store_hs_stamp(f->h, k2, 5), 0); /* per key */
	assert_int_equal(sync_store_hs_stamp(f->h, k1, 1001), 0);
	/* a restart (and another process) sees the last accepted one */
	sync_store_close(f->h);
	assert_int_equal(sync_store_open(&f->h, f->hdir, 0, 1ull << 30), 0);
	{
		struct sync_store *s2 = NULL;
		assert_int_equal(sync_store_open(&s2, f->hdir, 0, 0), 0);
		assert_int_equal(sync_store_hs_stamp(s2, k1, 1001), SYNC_EREPLAY);
		sync_store_close(s2);
	}
	assert_int_equal(sync_store_hs_stamp(f->h, k1, 1001), SYNC_EREPLAY);
	assert_int_equal(sync_store_hs_stamp(f->h, k2, 5), SYNC_EREPLAY);
	assert_int_equal(sync_store_hs_stamp(f->h, k1, 1002), 0);
	assert_int_equal(sync_store_hs_stamp(f->h, k1, 1002), SYNC_EREPLAY);
}

/* The tunnel's stamps are kept apart from xfer's (another sequence, another unit); enrolling a
 * key again (revoked or not) resets both: a clinic whose clock went back is admitted again. */
static void test_tunnel_stamps_apart_and_reset_by_reenrolment(void **state)
{
	struct fx *f = *state;
	const uint8_t *k = f->clinic->pub.x25519;
	uint64_t ns = 1700000000000000000ull, us = ns / 1000;

	assert_int_equal(sync_store_peer_enroll(f->h, "ile-1", &f->clinic->pub), 0);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns), 0);
	assert_int_equal(sync_store_hs_stamp(f->h, k, us), 0); /* not shadowed by the tunnel's */
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns), SYNC_EREPLAY);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns - 1), SYNC_EREPLAY);
	assert_int_equal(sync_store_hs_stamp(f->h, k, us), SYNC_EREPLAY);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns + 1), 0);
	/* across a reopen */
	sync_store_close(f->h);
	assert_int_equal(sync_store_open(&f->h, f->hdir, 0, 1ull << 30), 0);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns + 1), SYNC_EREPLAY);
	/* The clinic's clock went back an hour: refused (both) until re-enrolled. */
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns - 3600000000000ull), SYNC_EREPLAY);
	assert_int_equal(sync_store_hs_stamp(f->h, k, us - 3600000000ull), SYNC_EREPLAY);
	/* Another key under that name, or that key under another name: refused, nothing reset. */
	assert_int_equal(sync_store_peer_enroll(f->h, "ile-1", &f->hub->pub), SYNC_EEXIST);
	assert_int_equal(sync_store_peer_enroll(f->h, "ile-2", &f->clinic->pub), SYNC_EEXIST);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns - 3600000000000ull), SYNC_EREPLAY);
	/* Re-enrolment of the enrolled clinic: accepted, both stamps forgotten. */
	assert_int_equal(sync_store_peer_enroll(f->h, "ile-1", &f->clinic->pub), 0);
	assert_int_equal(sync_store_peer_check(f->h, k, NULL), 0);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, ns - 3600000000000ull), 0);
	assert_int_equal(sync_store_hs_stamp(f->h, k, us - 3600000000ull), 0);
	/* ...and of a revoked one: un-revoked, stamps forgotten too. */
	assert_int_equal(sync_store_peer_revoke(f->h, "ile-1"), 0);
	assert_int_equal(sync_store_peer_enroll(f->h, "ile-1", &f->clinic->pub), 0);
	assert_int_equal(sync_store_peer_check(f->h, k, NULL), 0);
	assert_int_equal(sync_store_tunnel_stamp(f->h, k, 5), 0);
	assert_int_equal(sync_store_hs_stamp(f->h, k, 5), 0);
}

/* Careful resume's path memory: one record per peer key, replaced at each save, kept across a
 * reopen and seen by another process; nonsense is refused at the door. */
static void test_path_memory_per_key_across_reopen(void **state)
{
	struct fx *f = *state;
	const uint8_t *k1 = f->clinic->pub.x25519, *k2 = f->hub->pub.x25519;
	struct sync_path p = {.bps = 2000000, .min_rtt_us = 600000, .saved_ms = 1700000000000ull};
	struct sync_path got = {0}, bad = {.bps = 0, .min_rtt_us = 600000};

	assert_int_equal(sync_store_path_get(f->h, k1, &got), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_path_put(f->h, k1, &p), 0);
	assert_int_equal(sync_store_path_get(f->h, k2, &got), SYNC_ENOTFOUND); /* per key */
	assert_int_equal(sync_store_path_put(f->h, k1, &bad), -EINVAL);
	bad = (struct sync_path){.bps = 1000, .min_rtt_us = 0};
	assert_int_equal(sync_store_path_put(f->h, k1, &bad), -EINVAL);
	assert_int_equal(sync_store_path_get(f->h, k1, &got), 0); /* unchanged by the refusals */
	assert_int_equal(got.bps, 2000000);
	assert_int_equal(got.min_rtt_us, 600000);
	assert_int_equal(got.saved_ms, 1700000000000ull);
	p.bps = 1500000;
	p.saved_ms++;
	assert_int_equal(sync_store_path_put(f->h, k1, &p), 0); /* replaced */
	sync_store_close(f->h);
	assert_int_equal(sync_store_open(&f->h, f->hdir, 0, 1ull << 30), 0);
	{
		struct sync_store *s2 = NULL;

		assert_int_equal(sync_store_open(&s2, f->hdir, 0, 0), 0);
		assert_int_equal(sync_store_path_get(s2, k1, &got), 0);
		sync_store_close(s2);
	}
	assert_int_equal(got.bps, 1500000);
	assert_int_equal(got.saved_ms, 1700000000001ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	        T(test_enqueued_case_survives_close_and_reopen),
	        T(test_failed_add_leaves_nothing),
	        T(test_add_killed_midway_leaves_nothing_or_whole_record),
	        T(test_concurrent_processes_enqueue_without_loss),
	        T(test_pending_is_ordered_by_priority_then_age),
	        T(test_transfer_then_export_is_byte_identical),
	        T(test_large_spooled_record_round_trip),
	        T(test_resume_offset_survives_reopen_and_chunks_are_idempotent),
	        T(test_batch_persist_is_atomic_and_skips_duplicates),
	        T(test_finish_is_exactly_once),
	        T(test_begin_checks_sender_recipient_and_id_reuse),
	        T(test_record_failing_verification_at_finish_is_deleted),
	        T(test_map_full_gives_clear_error_and_outbox_unchanged),
	        T(test_allow_list_enroll_revoke_check),
	        T(test_tunnel_stamps_apart_and_reset_by_reenrolment),
	        T(test_retention_purges_delivered_records_only_after_the_delay),
	        T(test_reply_travels_back_and_marks_case_answered),
	        T(test_notify_reaches_a_listener_and_is_harmless_without_one),
	        T(test_find_resolves_unique_prefixes),
	        T(test_refused_record_is_kept_not_offered_not_purged_and_can_be_retried),
	        T(test_recv_abort_drops_only_a_record_still_receiving),
	        T(test_handshake_stamps_are_kept_per_key_across_reopen),
	        T(test_path_memory_per_key_across_reopen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
