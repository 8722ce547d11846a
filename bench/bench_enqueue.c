/* bench/bench_enqueue.c — enqueue speed of `pirogue case add` on one core, each figure next to
 * an anchor measured in the same run on the same filesystem with the same durability:
 *
 *   small cases/s (target >= 1,000/s)      vs raw LMDB put + durable commit of the same size
 *   MB/s for one 500 MB attachment (>= 300) vs raw write + fsync of the same bytes (one file)
 *   the same attachment                     vs libsodium secretstream + BLAKE2b alone (CPU bound)
 *   LMDB chunk values (the alternative that sync/store.c rejected) vs write + fsync
 *
 * Environment: BENCH_DIR (default /var/tmp) for the stores and files, BENCH_ENQUEUE_MB (500),
 * BENCH_SMALL_N (2000).
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/keys.h"
#include "common/mtime.h"
#include "sync/store.h"

static double now_s(void)
{
	return (double)mtime_now_ns() / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_enqueue: %s: %s\n", what, sync_strerror(err));
	exit(1);
}

static void rmrf(const char *p)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_enqueue: cannot remove %s\n", p);
}

/* Raw LMDB anchor: one put of `size` bytes and a durable commit per iteration. */
static MDB_env *raw_env;

static void raw_open(const char *dir)
{
	mkdir(dir, 0700);
	if (mdb_env_create(&raw_env) || mdb_env_set_mapsize(raw_env, 1ull << 30) ||
	    mdb_env_open(raw_env, dir, MDB_NOTLS, 0600))
		die("lmdb anchor", SYNC_ELMDB);
}

/* Returns the seconds taken by n durable commits. */
static double raw_commits(int n, size_t size)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	uint8_t *v = malloc(size), k[16];
	double t0;

	randombytes_buf(v, size);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		MDB_val key = {sizeof k, k}, val = {size, v};
		randombytes_buf(k, sizeof k);
		if (mdb_txn_begin(raw_env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
		    mdb_put(txn, dbi, &key, &val, 0) || mdb_txn_commit(txn))
			die("lmdb anchor put", SYNC_ELMDB);
	}
	free(v);
	return now_s() - t0;
}

/* Raw LMDB with the chunks of `total` bytes as 64 KiB values in one durable txn. */
static double lmdb_chunks_mb_per_s(const char *dir, uint64_t total)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t cs = 65536 + 17;
	uint8_t *v = malloc(cs), k[20] = {0};
	double t0, dt;

	mkdir(dir, 0700);
	randombytes_buf(v, cs);
	if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)(total * 2 + (64u << 20))) ||
	    mdb_env_open(env, dir, MDB_NOTLS, 0600))
		die("lmdb chunks", SYNC_ELMDB);
	t0 = now_s();
	if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi))
		die("lmdb chunks txn", SYNC_ELMDB);
	for (uint32_t i = 0; (uint64_t)i * 65536 < total; i++) {
		MDB_val key = {sizeof k, k}, val = {cs, v};
		k[16] = (uint8_t)(i >> 24);
		k[17] = (uint8_t)(i >> 16);
		k[18] = (uint8_t)(i >> 8);
		k[19] = (uint8_t)i;
		if (mdb_put(txn, dbi, &key, &val, MDB_APPEND))
			die("lmdb chunks put", SYNC_ELMDB);
	}
	if (mdb_txn_commit(txn))
		die("lmdb chunks commit", SYNC_ELMDB);
	dt = now_s() - t0;
	mdb_env_close(env);
	free(v);
	return (double)total / 1e6 / dt;
}

/* Raw write + fsync of `total` bytes (page-cache source, 1 MiB writes). */
static double write_fsync_mb_per_s(const char *path, uint64_t total)
{
	size_t blk = 1 << 20;
	uint8_t *b = malloc(blk);
	double t0, dt;
	int fd;

	randombytes_buf(b, blk);
	t0 = now_s();
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0)
		die("anchor file", -errno);
	for (uint64_t off = 0; off < total; off += blk) {
		size_t n = total - off < blk ? (size_t)(total - off) : blk;
		if (write(fd, b, n) != (ssize_t)n)
			die("anchor write", -errno);
	}
	if (fsync(fd) != 0)
		die("anchor fsync", -errno);
	close(fd);
	dt = now_s() - t0;
	unlink(path);
	free(b);
	return (double)total / 1e6 / dt;
}

/* The envelope's CPU work alone: secretstream push + BLAKE2b per 64 KiB chunk. */
static double crypto_mb_per_s(uint64_t total)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[32], hdr[24], h[32], *p = malloc(65536), *c = malloc(65536 + 17);
	double t0, dt;

	randombytes_buf(p, 65536);
	crypto_secretstream_xchacha20poly1305_keygen(key);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr, key);
	t0 = now_s();
	for (uint64_t off = 0; off < total; off += 65536) {
		crypto_secretstream_xchacha20poly1305_push(&st, c, NULL, p, 65536, NULL, 0, 0);
		crypto_generichash(h, sizeof h, c, 65536 + 17, NULL, 0);
	}
	dt = now_s() - t0;
	free(p);
	free(c);
	return (double)total / 1e6 / dt;
}

int main(void)
{
	const char *base = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : "/var/tmp";
	uint64_t mb =
	        getenv("BENCH_ENQUEUE_MB") ? strtoull(getenv("BENCH_ENQUEUE_MB"), NULL, 10) : 500;
	int n_small = getenv("BENCH_SMALL_N") ? atoi(getenv("BENCH_SMALL_N")) : 2000;
	uint64_t total = mb * 1000 * 1000;
	char root[512], dir[600], path[600];
	uint8_t seed[64], id[16], note[500], attach[2048];
	struct keys *clinic = NULL, *hub = NULL;
	struct sync_store *s = NULL;
	double t0, dt, small, raw, big, wf, cr, lc;
	int ret;

	if (sodium_init() < 0)
		return 1;
	snprintf(root, sizeof root, "%s/bench_enqueue.XXXXXX", base);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	memset(seed, 1, sizeof seed);
	if (keys_from_secret(seed, &clinic) || (seed[0] = 2, keys_from_secret(seed, &hub)))
		return 1;
	randombytes_buf(attach, sizeof attach);
	memset(note, 'n', sizeof note - 1);
	note[sizeof note - 1] = 0;

	/* 1. small cases: title + 500 B note + one 2 KB attachment, each its own durable txn.
	 * The disk's fsync latency drifts on a shared machine, so the enqueues and the raw
	 * commits are interleaved in 10 rounds and each side's time summed. */
	snprintf(dir, sizeof dir, "%s/small", root);
	if ((ret = sync_store_open(&s, dir, 256u << 20, 4ull << 30)) != 0)
		die("open", ret);
	snprintf(dir, sizeof dir, "%s/raw", root);
	raw_open(dir);
	{
		struct sync_part_src part = {.name = "vitals.json",
		                             .type = "application/json",
		                             .data = attach,
		                             .size = sizeof attach};
		struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
		                           .priority = SYNC_PRIO_NORMAL,
		                           .title = "Constantes J2",
		                           .note = (char *)note,
		                           .parts = &part,
		                           .part_count = 1};
		double t_enq = 0, t_raw = 0;
		int per = n_small / 10 > 0 ? n_small / 10 : 1;
		for (int round = 0; round < 10; round++) {
			t0 = now_s();
			for (int i = 0; i < per; i++)
				if ((ret = sync_store_enqueue(s, clinic, &hub->pub, &req, id)) != 0)
					die("enqueue small", ret);
			t_enq += now_s() - t0;
			t_raw += raw_commits(per, sizeof attach + sizeof note + 600);
		}
		small = 10.0 * per / t_enq;
		raw = 10.0 * per / t_raw;
	}
	sync_store_close(s);
	s = NULL;
	mdb_env_close(raw_env);
	printf("ROW\tenqueue small cases (2.5 KB, durable)\t%.0f cases/s\traw LMDB put+commit "
	       "(same size, same fs, interleaved)\t%.0f commits/s\t%.2f\n",
	       small, raw, small / raw);
	fflush(stdout);

	/* 2. one large attachment from a file (in the page cache, as just written by a camera) */
	snprintf(path, sizeof path, "%s/attachment.bin", root);
	{
		FILE *fp = fopen(path, "wb");
		uint8_t *b = malloc(1 << 20);
		randombytes_buf(b, 1 << 20);
		for (uint64_t off = 0; fp && off < total; off += 1 << 20) {
			size_t n = total - off < (1u << 20) ? (size_t)(total - off) : 1u << 20;
			b[0] ^= (uint8_t)off; /* not all blocks alike */
			if (fwrite(b, 1, n, fp) != n)
				die("write attachment", -EIO);
		}
		if (!fp || fclose(fp) != 0)
			die("write attachment", -EIO);
		free(b);
	}
	snprintf(dir, sizeof dir, "%s/anchor.bin", root);
	wf = write_fsync_mb_per_s(dir, total); /* before; averaged with after (drift) */
	snprintf(dir, sizeof dir, "%s/big", root);
	if ((ret = sync_store_open(&s, dir, 64u << 20, 4ull << 30)) != 0)
		die("open", ret);
	{
		struct sync_part_src part = {.path = path, .type = "application/dicom"};
		struct sync_enqueue req = {.kind = SYNC_ENV_CASE,
		                           .priority = SYNC_PRIO_BULK,
		                           .title = "Scanner",
		                           .parts = &part,
		                           .part_count = 1};
		t0 = now_s();
		if ((ret = sync_store_enqueue(s, clinic, &hub->pub, &req, id)) != 0)
			die("enqueue large", ret);
		dt = now_s() - t0;
	}
	big = (double)total / 1e6 / dt;
	sync_store_close(s);
	s = NULL;
	rmrf(dir);
	snprintf(dir, sizeof dir, "%s/anchor.bin", root);
	wf = (wf + write_fsync_mb_per_s(dir, total)) / 2;
	printf("ROW\tenqueue %llu MB attachment (durable)\t%.0f MB/s\traw write+fsync (same bytes, "
	       "same fs, mean of before/after)\t%.0f MB/s\t%.2f\n",
	       (unsigned long long)mb, big, wf, big / wf);
	cr = crypto_mb_per_s(total);
	printf("ROW\tenqueue %llu MB attachment (durable)\t%.0f MB/s\tsecretstream+BLAKE2b only "
	       "(1 core)\t%.0f MB/s\t%.2f\n",
	       (unsigned long long)mb, big, cr, big / cr);
	fflush(stdout);

	/* 3. the rejected design: chunk values in one LMDB txn (why large records are spooled) */
	snprintf(dir, sizeof dir, "%s/lmdbchunks", root);
	lc = lmdb_chunks_mb_per_s(dir, total);
	printf("ROW\tLMDB 64 KiB chunk values, one txn (%llu MB)\t%.0f MB/s\traw write+fsync (same "
	       "bytes, same fs)\t%.0f MB/s\t%.2f\n",
	       (unsigned long long)mb, lc, wf, lc / wf);
	keys_free(clinic);
	keys_free(hub);
	rmrf(root);
	return 0;
}
