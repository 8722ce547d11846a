/* sync/store.c — the site's LMDB store (see store.h for the contract).
 *
 * Where the chunk bytes live — decided by measurement (this machine, 2 vCPU EPYC, ext4 on
 * virtio, 2026-11-23; bench/bench_enqueue.c reproduces the anchors):
 *   - 500 MB of 64 KiB values in ONE LMDB write txn, default mode (pwrite + fdatasync at
 *     commit): 131-165 MB/s, and 109 MB/s for 1 GB (the txn's dirty pages are malloc'd, copied
 *     and spilled once the dirty list is full);
 *   - the same with MDB_WRITEMAP: 849 MB/s, BUT small commits drop from ~1,400/s to ~340/s
 *     (msync of the map), and a full disk turns into SIGBUS on the mapped file instead of a
 *     clean ENOSPC;
 *   - plain write() + fsync of the same bytes to a spool file: 700-890 MB/s.
 * The enqueue targets are >= 1,000 small cases/s AND >= 300 MB/s for a 500 MB attachment, so:
 * the environment stays in LMDB's default mode (fast small commits, clean errors), records
 * whose chunks total at most SYNC_STORE_INLINE_MAX keep them as LMDB values (key = id ||
 * chunk index, never a huge value), and larger records keep them in one fsync'd spool file per
 * record (<store>/spool/<id>.rec, chunk i at offset i * (chunk_size + 17)), referenced from
 * the record's LMDB row. Atomicity for a spooled enqueue: the file is written as <id>.tmp,
 * fdatasync'd, renamed to <id>.rec and the directory fsync'd BEFORE the LMDB transaction that
 * makes the record exist commits; a crash before that commit leaves only a file that no row
 * references, which the next sync_store_open removes (flock tells a live writer's file from a
 * dead one's). A row never references a missing spool file.
 *
 * With that design (bench/bench_enqueue, same box, load 2-8 from other builds): small cases
 * 0.65-0.95 of the raw LMDB put+commit rate measured interleaved in the same run (the rate
 * itself swings between ~120 and ~1,000 commits/s with the shared disk); a 500 MB attachment
 * 226-262 MB/s, i.e. 0.6-0.85 of libsodium's secretstream + BLAKE2b alone on one core (the
 * CPU is the limit: ~380 MB/s for the crypto alone when the box is quiet). A 2 GiB + 12 KB
 * attachment: enqueued in 17 s, moved chunk by chunk into a hub store and verified, exported
 * byte-identical (manual run, 2026-11-23).
 */
#include "sync/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mtime.h"

/* Records whose chunk bytes exceed this go to a spool file (see the comment at the top). */
#define SYNC_STORE_INLINE_MAX (1024 * 1024)
#define ROW_VERSION           1
#define IO_BLOCK              (1024 * 1024)

/* DB_STAMPS: peer X25519 key -> be64 last accepted handshake timestamp (hub), sync/xfer's;
 * STAMP_TUNNEL || key -> the same for the UDP tunnel (see stamp_key). */
/* DB_PATHS: peer X25519 key -> be64 bps, be64 min RTT (us), be64 saved (wall ms): the path
 * last measured towards that peer (careful resume, sync_store_path_put). */
enum { DB_RECS, DB_QUEUE, DB_REFS, DB_DONE, DB_PEERS, DB_PKEYS, DB_STAMPS, DB_PATHS, DB_COUNT };
static const char *const db_names[DB_COUNT] = {"recs",  "queue", "refs",     "done",
                                               "peers", "pkeys", "hsstamps", "paths"};
#define PATH_VAL_LEN 24

struct sync_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *dir;
	char *spool;
	uint64_t map_max;
	/* The receiving spooled record last written by this process and its true next chunk
	 * (see recv_spooled): saves a scan per call. */
	bool rx_valid;
	uint8_t rx_id[SYNC_ENV_ID_BYTES];
	uint32_t rx_next;
};

/* A receiving spooled record's row is brought up to date every this many chunks (and at the
 * last one); in between, a chunk is durable once its fdatasync returned (see recv_spooled). */
#define SPOOL_COMMIT_EVERY 64

/* A record's row in DB_RECS. */
struct row {
	uint8_t dir, kind, prio, state, spooled;
	uint8_t ref[SYNC_ENV_ID_BYTES];
	struct keys_pub peer;
	uint64_t created, changed, done_ms, plain, wire, seq;
	uint32_t count, csize, done, replies, hlen;
	char title[SYNC_ENV_TITLE_MAX + 1];
};

#define ROW_FIXED (8 + SYNC_ENV_ID_BYTES + KEYS_PUB_BYTES + 6 * 8 + 5 * 4 + 2)

/* --- errors --------------------------------------------------------------------------------- */

static int lmdb_err(int rc)
{
	switch (rc) {
	case 0:
		return 0;
	case MDB_NOTFOUND:
		return SYNC_ENOTFOUND;
	case MDB_MAP_FULL:
		return SYNC_EMAPFULL;
	case ENOSPC:
		return SYNC_ENOSPC;
	case ENOMEM:
		return -ENOMEM;
	}
	if (rc > 0 && rc < 4096)
		return -rc;
	log_error("store: lmdb: %s", mdb_strerror(rc));
	return SYNC_ELMDB;
}

const char *sync_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case SYNC_ENOTFOUND:
		return "no such record or peer";
	case SYNC_ENOSPC:
		return "not enough free disk space for the record";
	case SYNC_EMAPFULL:
		return "store map full (raise [site] map_max)";
	case SYNC_ESTATE:
		return "record is not in the right state for this";
	case SYNC_EORDER:
		return "chunk beyond the next expected one";
	case SYNC_EEXIST:
		return "already exists";
	case SYNC_EREVOKED:
		return "peer is revoked";
	case SYNC_ECORRUPT:
		return "store data inconsistent";
	case SYNC_ELMDB:
		return "LMDB error";
	case SYNC_EFILE:
		return "an input file changed while it was being read";
	case SYNC_EREFUSED:
		return "record refused: verification failed, nothing stored";
	case SYNC_ECONFIG:
		return "invalid site configuration";
	case SYNC_EREPLAY:
		return "handshake timestamp not newer than the last accepted one (replay)";
	}
	if (err <= ERR_BASE_SYNC - 100 && err > ERR_BASE_SYNC - 200)
		return sync_env_strerror(err);
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown sync error";
}

const char *sync_state_name(enum sync_state st)
{
	switch (st) {
	case SYNC_ST_QUEUED:
		return "queued";
	case SYNC_ST_SENDING:
		return "sending";
	case SYNC_ST_DELIVERED:
		return "delivered";
	case SYNC_ST_ANSWERED:
		return "answered";
	case SYNC_ST_RECEIVING:
		return "receiving";
	case SYNC_ST_RECEIVED:
		return "received";
	case SYNC_ST_REFUSED:
		return "refused";
	}
	return "?";
}

const char *sync_refusal_reason(int32_t code)
{
	switch (code) {
	case SYNC_ENV_EMAGIC:
	case SYNC_ENV_EVERSION:
	case SYNC_ENV_EHEADER:
		return "header malformed";
	case SYNC_ENV_ESIG:
		return "signature bad";
	case SYNC_ENV_ERECIPIENT:
		return "not for the peer";
	case SYNC_ENV_ESENDER:
		return "wrong sender";
	case SYNC_ENV_EINDEX:
	case SYNC_ENV_ECHUNKSIZE:
		return "chunk damaged";
	case SYNC_ENV_ECHUNKHASH:
		return "chunk hash bad";
	case SYNC_ENV_EKEY:
		return "key does not open";
	case SYNC_ENV_EDECRYPT:
	case SYNC_ENV_ETAG:
	case SYNC_ENV_ECONTAINER:
	case SYNC_ENV_ENAME:
	case SYNC_ENV_ESIZE:
	case SYNC_ENV_EORDER:
		return "content bad";
	case SYNC_EEXIST:
		return "id already used";
	}
	return "refused by the peer";
}

/* --- rows ----------------------------------------------------------------------------------- */

static size_t row_encode(const struct row *r, uint8_t *p, size_t cap)
{
	struct buf_writer w;
	size_t tl = strlen(r->title);

	buf_writer_init(&w, p, cap);
	buf_write_u8(&w, ROW_VERSION);
	buf_write_u8(&w, r->dir);
	buf_write_u8(&w, r->kind);
	buf_write_u8(&w, r->prio);
	buf_write_u8(&w, r->state);
	buf_write_u8(&w, r->spooled);
	buf_write_u16(&w, 0);
	buf_write_bytes(&w, r->ref, sizeof r->ref);
	buf_write_bytes(&w, &r->peer, KEYS_PUB_BYTES);
	buf_write_u64(&w, r->created);
	buf_write_u64(&w, r->changed);
	buf_write_u64(&w, r->done_ms);
	buf_write_u64(&w, r->plain);
	buf_write_u64(&w, r->wire);
	buf_write_u64(&w, r->seq);
	buf_write_u32(&w, r->count);
	buf_write_u32(&w, r->csize);
	buf_write_u32(&w, r->done);
	buf_write_u32(&w, r->replies);
	buf_write_u32(&w, r->hlen);
	buf_write_u16(&w, (uint16_t)tl);
	buf_write_bytes(&w, r->title, tl);
	return buf_writer_ok(&w) ? buf_writer_len(&w) : 0;
}

static int row_decode(struct row *r, const MDB_val *v)
{
	struct buf_reader rd;
	uint16_t tl;

	memset(r, 0, sizeof *r);
	buf_reader_init(&rd, v->mv_data, v->mv_size);
	if (buf_read_u8(&rd) != ROW_VERSION)
		return SYNC_ECORRUPT;
	r->dir = buf_read_u8(&rd);
	r->kind = buf_read_u8(&rd);
	r->prio = buf_read_u8(&rd);
	r->state = buf_read_u8(&rd);
	r->spooled = buf_read_u8(&rd);
	buf_read_u16(&rd);
	buf_read_bytes(&rd, r->ref, sizeof r->ref);
	buf_read_bytes(&rd, &r->peer, KEYS_PUB_BYTES);
	r->created = buf_read_u64(&rd);
	r->changed = buf_read_u64(&rd);
	r->done_ms = buf_read_u64(&rd);
	r->plain = buf_read_u64(&rd);
	r->wire = buf_read_u64(&rd);
	r->seq = buf_read_u64(&rd);
	r->count = buf_read_u32(&rd);
	r->csize = buf_read_u32(&rd);
	r->done = buf_read_u32(&rd);
	r->replies = buf_read_u32(&rd);
	r->hlen = buf_read_u32(&rd);
	tl = buf_read_u16(&rd);
	if (tl > SYNC_ENV_TITLE_MAX || !buf_read_bytes(&rd, r->title, tl) || !buf_reader_ok(&rd))
		return SYNC_ECORRUPT;
	r->title[tl] = 0;
	return 0;
}

static int row_get(struct sync_store *s, MDB_txn *txn, const uint8_t *id, struct row *r)
{
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	int rc = mdb_get(txn, s->dbi[DB_RECS], &k, &v);

	if (rc)
		return lmdb_err(rc);
	return row_decode(r, &v);
}

static int row_put(struct sync_store *s, MDB_txn *txn, const uint8_t *id, const struct row *r)
{
	uint8_t buf[ROW_FIXED + SYNC_ENV_TITLE_MAX];
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v = {0, buf};

	if (!(v.mv_size = row_encode(r, buf, sizeof buf)))
		return -EINVAL;
	return lmdb_err(mdb_put(txn, s->dbi[DB_RECS], &k, &v, 0));
}

static void row_info(const struct row *r, const uint8_t *id, struct sync_record_info *o)
{
	memset(o, 0, sizeof *o);
	memcpy(o->id, id, sizeof o->id);
	memcpy(o->ref, r->ref, sizeof o->ref);
	o->dir = r->dir;
	o->kind = r->kind;
	o->priority = r->prio;
	o->state = r->state;
	o->peer = r->peer;
	o->created_ms = r->created;
	o->changed_ms = r->changed;
	o->plain_size = r->plain;
	o->wire_size = r->wire;
	o->chunk_count = r->count;
	o->chunks_done = r->done;
	o->reply_count = r->replies;
	memcpy(o->title, r->title, sizeof o->title);
}

static size_t row_chunk_len(const struct row *r, uint32_t i)
{
	if (i + 1 < r->count)
		return (size_t)r->csize + SYNC_ENV_CHUNK_OVERHEAD;
	return (size_t)(r->plain - (uint64_t)r->csize * (r->count - 1)) + SYNC_ENV_CHUNK_OVERHEAD;
}

static uint64_t row_chunk_off(const struct row *r, uint32_t i)
{
	return (uint64_t)i * ((uint64_t)r->csize + SYNC_ENV_CHUNK_OVERHEAD);
}

/* Everything of a record lives in DB_RECS, keyed by its id: the row under id, the header under
 * id || 'h', the summary under id || 's', inline chunk i under id || 'c' || be32(i). One B-tree
 * instead of four: an enqueue dirties fewer pages, which measurably raises the durable commit
 * rate (1 vs 6 trees: ~900 vs ~700 commits/s here). */
static void chunk_key(uint8_t k[SYNC_ENV_ID_BYTES + 5], const uint8_t *id, uint32_t i)
{
	memcpy(k, id, SYNC_ENV_ID_BYTES);
	k[16] = 'c';
	k[17] = (uint8_t)(i >> 24);
	k[18] = (uint8_t)(i >> 16);
	k[19] = (uint8_t)(i >> 8);
	k[20] = (uint8_t)i;
}

static int sub_get(struct sync_store *s, MDB_txn *txn, char kind, const void *id, MDB_val *v)
{
	uint8_t kb[SYNC_ENV_ID_BYTES + 1];
	MDB_val k = {sizeof kb, kb};

	memcpy(kb, id, SYNC_ENV_ID_BYTES);
	kb[16] = (uint8_t)kind;
	return mdb_get(txn, s->dbi[DB_RECS], &k, v);
}

static int sub_put(struct sync_store *s, MDB_txn *txn, char kind, const void *id, MDB_val *v)
{
	uint8_t kb[SYNC_ENV_ID_BYTES + 1];
	MDB_val k = {sizeof kb, kb};

	memcpy(kb, id, SYNC_ENV_ID_BYTES);
	kb[16] = (uint8_t)kind;
	return mdb_put(txn, s->dbi[DB_RECS], &k, v, 0);
}

static int sub_del(struct sync_store *s, MDB_txn *txn, char kind, const void *id)
{
	uint8_t kb[SYNC_ENV_ID_BYTES + 1];
	MDB_val k = {sizeof kb, kb};

	memcpy(kb, id, SYNC_ENV_ID_BYTES);
	kb[16] = (uint8_t)kind;
	return mdb_del(txn, s->dbi[DB_RECS], &k, NULL);
}

/* A REFUSED record's reason: id || 'x' -> be32 code. */
static int32_t refusal_get(struct sync_store *s, MDB_txn *txn, const uint8_t *id)
{
	MDB_val v;
	const uint8_t *p;

	if (sub_get(s, txn, 'x', id, &v) != 0 || v.mv_size != 4)
		return 0;
	p = v.mv_data;
	return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* row_info() plus what lives beside the row (the refusal reason). */
static void row_info_full(struct sync_store *s, MDB_txn *txn, const struct row *r,
                          const uint8_t *id, struct sync_record_info *o)
{
	row_info(r, id, o);
	if (r->state == SYNC_ST_REFUSED)
		o->refused_code = refusal_get(s, txn, id);
}

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t rd_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- transactions --------------------------------------------------------------------------- */

/* Begins a txn, adopting a map grown by another process (MDB_MAP_RESIZED). */
static int txn_begin(struct sync_store *s, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);

	if (rc == MDB_MAP_RESIZED) {
		if ((rc = mdb_env_set_mapsize(s->env, 0)) == 0)
			rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	return lmdb_err(rc);
}

/* Opens a read-only transaction and a cursor on one of the store's databases (the walk that
 * listings and queue scans share). On failure nothing is left open. */
static int ro_cursor_open(struct sync_store *s, int db, MDB_txn **txn, MDB_cursor **c)
{
	int ret, rc;

	if ((ret = txn_begin(s, MDB_RDONLY, txn)) != 0)
		return ret;
	if ((rc = mdb_cursor_open(*txn, s->dbi[db], c)) != 0) {
		mdb_txn_abort(*txn);
		return lmdb_err(rc);
	}
	return 0;
}

static int txn_commit(MDB_txn *txn)
{
	return lmdb_err(mdb_txn_commit(txn));
}

/* --- spool files ---------------------------------------------------------------------------- */

static int spool_path(const struct sync_store *s, const uint8_t *id, const char *ext, char *out,
                      size_t cap)
{
	char hex[SYNC_ENV_ID_HEX_LEN];

	sync_env_id_hex(id, hex);
	if ((size_t)snprintf(out, cap, "%s/%s.%s", s->spool, hex, ext) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k = write(fd, b, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t k = pwrite(fd, b, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

static int pread_all(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;

	while (n) {
		ssize_t k = pread(fd, b, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return SYNC_ECORRUPT; /* spool file shorter than its row says */
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* Removes spool files no row references (left by a crash between the spool write and the
 * commit, or between a row's deletion and the unlink). A file some live process holds an
 * flock on is skipped; the row check happens after taking the lock, i.e. after the writer's
 * commit, so a file that just became valid is never removed. */
static void spool_cleanup(struct sync_store *s)
{
	DIR *d = opendir(s->spool);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[4096], hex[SYNC_ENV_ID_HEX_LEN];
		uint8_t id[SYNC_ENV_ID_BYTES];
		size_t n = strlen(e->d_name);
		bool tmp, keep = false;
		MDB_txn *txn;
		struct row r;
		int fd;

		if (n != 36 || (strcmp(e->d_name + 32, ".tmp") && strcmp(e->d_name + 32, ".rec")))
			continue;
		tmp = !strcmp(e->d_name + 32, ".tmp");
		memcpy(hex, e->d_name, 32);
		hex[32] = 0;
		if (sync_env_id_parse(hex, id) != 0)
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", s->spool, e->d_name) >=
		    sizeof path)
			continue;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
			close(fd);
			continue;
		}
		if (!tmp && txn_begin(s, MDB_RDONLY, &txn) == 0) {
			keep = row_get(s, txn, id, &r) == 0 && r.spooled;
			mdb_txn_abort(txn);
		}
		if (!keep) {
			log_info("store: removing orphan spool file %s", path);
			unlink(path);
		}
		close(fd);
	}
	closedir(d);
}

/* --- lifecycle ------------------------------------------------------------------------------ */

int sync_store_open(struct sync_store **out, const char *dir, uint64_t map_size, uint64_t map_max)
{
	struct sync_store *s = NULL;
	MDB_txn *txn = NULL;
	long ps = sysconf(_SC_PAGESIZE);
	int rc, ret = -ENOMEM;

	if (!out || !dir || !*dir)
		return -EINVAL;
	if (map_size == 0)
		map_size = 64u << 20;
	if (ps > 0)
		map_size = (map_size + (uint64_t)ps - 1) / (uint64_t)ps * (uint64_t)ps;
	if (map_max < map_size)
		map_max = map_size;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (!(s = calloc(1, sizeof *s)) || !(s->dir = strdup(dir)) ||
	    asprintf(&s->spool, "%s/spool", dir) < 0) {
		if (s)
			s->spool = NULL;
		goto out;
	}
	if (mkdir(s->spool, 0700) != 0 && errno != EEXIST) {
		ret = -errno;
		goto out;
	}
	s->map_max = map_max;
	if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, DB_COUNT + 2)) ||
	    (rc = mdb_env_set_mapsize(s->env, (size_t)map_size)) ||
	    (rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600))) {
		ret = lmdb_err(rc);
		goto out;
	}
	/* An existing env may already be larger than map_size: adopt its size. */
	{
		MDB_envinfo info;
		if (mdb_env_info(s->env, &info) == 0 && info.me_mapsize > map_size &&
		    info.me_mapsize > s->map_max)
			s->map_max = info.me_mapsize;
	}
	if ((ret = txn_begin(s, 0, &txn)) != 0)
		goto out;
	for (int i = 0; i < DB_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i])) != 0) {
			ret = lmdb_err(rc);
			mdb_txn_abort(txn);
			goto out;
		}
	if ((ret = txn_commit(txn)) != 0)
		goto out;
	spool_cleanup(s);
	*out = s;
	s = NULL;
	ret = 0;
out:
	sync_store_close(s);
	return ret;
}

void sync_store_close(struct sync_store *s)
{
	if (!s)
		return;
	if (s->env)
		mdb_env_close(s->env);
	free(s->dir);
	free(s->spool);
	free(s);
}

const char *sync_store_dir(const struct sync_store *s)
{
	return s->dir;
}

/* Space checks: the filesystem first (statvfs), then the LMDB map (grown by doubling up to
 * map_max). Called with no txn open in this process (mdb_env_set_mapsize requires it). */
static int ensure_space(struct sync_store *s, uint64_t disk_need, uint64_t map_need)
{
	struct statvfs vfs;
	MDB_envinfo info;
	MDB_stat st;
	uint64_t used, size, reserve;

	if (statvfs(s->dir, &vfs) != 0)
		return -errno;
	/* Keep a reserve (LMDB pages, metadata): 4 MiB, or 1/16 of a small filesystem. */
	reserve = (uint64_t)vfs.f_blocks * vfs.f_frsize / 16;
	if (reserve > SYNC_STORE_DISK_RESERVE)
		reserve = SYNC_STORE_DISK_RESERVE;
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < disk_need + reserve)
		return SYNC_ENOSPC;
	if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
		return SYNC_ELMDB;
	used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	/* B-tree and freelist overhead: leave a quarter more than the payload. */
	map_need += map_need / 4 + 64 * (uint64_t)st.ms_psize;
	size = info.me_mapsize;
	if (used + map_need <= size)
		return 0;
	while (size < used + map_need && size < s->map_max)
		size = size * 2 < s->map_max ? size * 2 : s->map_max;
	if (size == info.me_mapsize)
		return 0; /* cannot grow: let LMDB decide (MDB_MAP_FULL -> SYNC_EMAPFULL) */
	if (mdb_env_set_mapsize(s->env, (size_t)size) != 0)
		return SYNC_ELMDB;
	log_info("store: map grown to %llu bytes", (unsigned long long)size);
	return 0;
}

/* Grows the map after MDB_MAP_FULL (no txn open). Returns 0 if it grew. */
static int grow_map(struct sync_store *s)
{
	MDB_envinfo info;
	uint64_t size;

	if (mdb_env_info(s->env, &info) != 0)
		return SYNC_ELMDB;
	if (info.me_mapsize >= s->map_max)
		return SYNC_EMAPFULL;
	size = info.me_mapsize * 2 < s->map_max ? info.me_mapsize * 2 : s->map_max;
	if (mdb_env_set_mapsize(s->env, (size_t)size) != 0)
		return SYNC_ELMDB;
	log_info("store: map grown to %llu bytes", (unsigned long long)size);
	return 0;
}

static void queue_key(uint8_t k[1 + 8 + SYNC_ENV_ID_BYTES], const struct row *r, const uint8_t *id)
{
	k[0] = r->prio;
	be64(k + 1, r->seq);
	memcpy(k + 9, id, SYNC_ENV_ID_BYTES);
}

static void done_key(uint8_t k[8 + SYNC_ENV_ID_BYTES], const struct row *r, const uint8_t *id)
{
	be64(k, r->done_ms);
	memcpy(k + 8, id, SYNC_ENV_ID_BYTES);
}

static int put_empty(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key}, v = {0, ""};

	return lmdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

static int del_key(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
	MDB_val k = {klen, (void *)key};
	int rc = mdb_del(txn, dbi, &k, NULL);

	return rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

/* Marks an outbox record delivered (or answered) inside txn: leaves the queue, enters the
 * retention index once. */
static int out_mark_done(struct sync_store *s, MDB_txn *txn, const uint8_t *id, struct row *r,
                         enum sync_state st, uint64_t now)
{
	uint8_t qk[25], dk[24];
	int ret;

	queue_key(qk, r, id);
	if ((ret = del_key(txn, s->dbi[DB_QUEUE], qk, sizeof qk)) != 0)
		return ret;
	if (!r->done_ms) {
		r->done_ms = now;
		done_key(dk, r, id);
		if ((ret = put_empty(txn, s->dbi[DB_DONE], dk, sizeof dk)) != 0)
			return ret;
	}
	r->done = r->count;
	if (r->state != SYNC_ST_ANSWERED)
		r->state = st;
	r->changed = now;
	return row_put(s, txn, id, r);
}

/* --- enqueue -------------------------------------------------------------------------------- */

struct enq {
	struct sync_store *s;
	MDB_txn *txn;
	const uint8_t *id;
	int fd;          /* spool file, or -1 for inline chunks */
	uint64_t synced; /* bytes handed to writeback so far */
	uint64_t written;
};

static int enq_chunk(uint32_t index, const uint8_t *ct, size_t len, void *arg)
{
	struct enq *e = arg;
	uint8_t k[21];
	MDB_val key = {sizeof k, k}, val = {len, (void *)ct};
	int ret;

	if (e->fd < 0) {
		chunk_key(k, e->id, index);
		return lmdb_err(mdb_put(e->txn, e->s->dbi[DB_RECS], &key, &val, 0));
	}
	if ((ret = write_all(e->fd, ct, len)) != 0)
		return ret == -ENOSPC ? SYNC_ENOSPC : ret;
	e->written += len;
	/* Start writeback early so the final fdatasync has little left to do and the disk works
	 * while the CPU encrypts the next chunks. */
	if (e->written - e->synced >= 8u * 1024 * 1024) {
		sync_file_range(e->fd, (off_t)e->synced, (off_t)(e->written - e->synced),
		                SYNC_FILE_RANGE_WRITE);
		e->synced = e->written;
	}
	return 0;
}

/* Feeds part i's bytes to the sealer, checking the file still has the size we declared. */
static int enq_part(struct sync_env_seal *w, const struct sync_part_src *src, int fd, uint64_t size,
                    uint8_t *buf, struct enq *e)
{
	uint64_t left = size;
	int ret;

	if (fd < 0)
		return sync_env_seal_push(w, src->data, (size_t)size, enq_chunk, e);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (left) {
		size_t want = left < IO_BLOCK ? (size_t)left : IO_BLOCK;
		ssize_t k = read(fd, buf, want);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			return SYNC_EFILE;
		if ((ret = sync_env_seal_push(w, buf, (size_t)k, enq_chunk, e)) != 0)
			return ret;
		left -= (uint64_t)k;
	}
	{
		uint8_t extra;
		ssize_t k = read(fd, &extra, 1);
		if (k != 0)
			return k < 0 ? -errno : SYNC_EFILE;
	}
	return 0;
}

struct enq_prep {
	struct sync_env_content content;
	int *fds;
	char **names;
};

static void enq_prep_free(struct enq_prep *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p->fds && p->fds[i] >= 0)
			close(p->fds[i]);
		if (p->names)
			free(p->names[i]);
	}
	free(p->fds);
	free(p->names);
	free(p->content.parts);
}

/* One attempt at the enqueue transaction (retried once after growing the map). */
static int enq_attempt(struct sync_store *s, const struct keys *self, const struct keys_pub *to,
                       const struct sync_enqueue *req, struct enq_prep *p, const uint8_t *id,
                       bool spooled, uint64_t now)
{
	struct sync_env_seal *w = NULL;
	struct enq e = {.s = s, .id = id, .fd = -1};
	char tmp[4096], rec[4096];
	uint8_t *hdr = NULL, *buf = NULL, *summ = NULL, qk[25];
	size_t hlen = 0, slen = 0;
	struct row r = {0}, ref;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	bool renamed = false;
	int ret, rc;

	if ((ret = spool_path(s, id, "tmp", tmp, sizeof tmp)) ||
	    (ret = spool_path(s, id, "rec", rec, sizeof rec)))
		return ret;
	if (!(buf = malloc(IO_BLOCK)))
		return -ENOMEM;
	/* Between open and flock another process's spool_cleanup could take the file for an
	 * orphan and unlink it: retry until we hold the lock on a file that is still linked. */
	for (int tries = 0; spooled && e.fd < 0; tries++) {
		struct stat st;
		if ((e.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
			ret = -errno;
			goto out;
		}
		if (flock(e.fd, LOCK_EX) != 0 || fstat(e.fd, &st) != 0) {
			ret = -errno;
			goto out;
		}
		if (st.st_nlink == 0) {
			close(e.fd);
			e.fd = -1;
			if (tries >= 3) {
				ret = -EAGAIN;
				goto out;
			}
		}
	}
	if ((ret = txn_begin(s, 0, &e.txn)) != 0)
		goto out;
	if ((ret = sync_env_seal_new(&w, self, to, req->kind, req->priority, req->ref, id, now,
	                             req->chunk_size, &p->content)) != 0)
		goto out;
	for (size_t i = 0; i < req->part_count; i++)
		if ((ret = enq_part(w, &req->parts[i], p->fds[i], p->content.parts[i].size, buf,
		                    &e)) != 0)
			goto out;
	if ((ret = sync_env_seal_finish(w, enq_chunk, &e, &hdr, &hlen)) != 0)
		goto out;
	r.dir = SYNC_OUTBOX;
	r.kind = req->kind;
	r.prio = req->priority;
	r.state = SYNC_ST_QUEUED;
	r.spooled = spooled;
	if (req->kind == SYNC_ENV_REPLY)
		memcpy(r.ref, req->ref, sizeof r.ref);
	r.peer = *to;
	r.created = now;
	r.changed = now;
	r.plain = sync_env_seal_plain_size(w);
	r.count = sync_env_seal_chunk_count(w);
	r.csize = req->chunk_size ? req->chunk_size : SYNC_ENV_CHUNK_DEFAULT;
	r.wire = hlen + r.plain + (uint64_t)r.count * SYNC_ENV_CHUNK_OVERHEAD;
	r.hlen = (uint32_t)hlen;
	snprintf(r.title, sizeof r.title, "%s", req->title ? req->title : "");
	r.seq = wall_ns(); /* FIFO order within a priority */
	if ((ret = row_put(s, e.txn, id, &r)) != 0)
		goto out;
	v.mv_size = hlen;
	v.mv_data = hdr;
	if ((rc = sub_put(s, e.txn, 'h', k.mv_data, &v)) != 0) {
		ret = lmdb_err(rc);
		goto out;
	}
	if ((ret = sync_env_content_encode(&p->content, &summ, &slen)) != 0)
		goto out;
	v.mv_size = slen;
	v.mv_data = summ;
	if ((rc = sub_put(s, e.txn, 's', k.mv_data, &v)) != 0) {
		ret = lmdb_err(rc);
		goto out;
	}
	queue_key(qk, &r, id);
	if ((ret = put_empty(e.txn, s->dbi[DB_QUEUE], qk, sizeof qk)) != 0)
		goto out;
	if (req->kind == SYNC_ENV_REPLY) {
		uint8_t rk[32];
		if ((ret = row_get(s, e.txn, req->ref, &ref)) != 0)
			goto out;
		ref.replies++;
		ref.state = SYNC_ST_ANSWERED;
		ref.changed = now;
		if ((ret = row_put(s, e.txn, req->ref, &ref)) != 0)
			goto out;
		memcpy(rk, req->ref, 16);
		memcpy(rk + 16, id, 16);
		if ((ret = put_empty(e.txn, s->dbi[DB_REFS], rk, sizeof rk)) != 0)
			goto out;
	}
	if (spooled) {
		/* The spool file is durable and in place before the row that references it. */
		if (fdatasync(e.fd) != 0) {
			ret = errno == ENOSPC ? SYNC_ENOSPC : -errno;
			goto out;
		}
		if (rename(tmp, rec) != 0) {
			ret = -errno;
			goto out;
		}
		renamed = true;
		if ((ret = fsync_dir(s->spool)) != 0)
			goto out;
	}
	ret = txn_commit(e.txn);
	e.txn = NULL;
	if (ret == 0)
		renamed = false; /* committed: the file is the record's */
out:
	if (e.txn)
		mdb_txn_abort(e.txn);
	if (e.fd >= 0) {
		if (ret != 0)
			unlink(renamed ? rec : tmp);
		close(e.fd); /* releases the flock after the commit */
	}
	sync_env_seal_free(w);
	free(hdr);
	if (summ) {
		sodium_memzero(summ, slen);
		free(summ);
	}
	free(buf);
	return ret;
}

int sync_store_enqueue(struct sync_store *s, const struct keys *self, const struct keys_pub *to,
                       const struct sync_enqueue *req, uint8_t id_out[SYNC_ENV_ID_BYTES])
{
	struct enq_prep p = {0};
	struct keys_pub dest;
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint64_t plain, count, chunks_bytes, table, now = mtime_wall_ms();
	uint32_t cs;
	bool spooled;
	int ret = -EINVAL;

	if (!s || !self || !req || !id_out || (req->part_count && !req->parts) ||
	    req->part_count > SYNC_ENV_PARTS_MAX)
		return -EINVAL;
	if (req->kind == SYNC_ENV_REPLY) {
		struct row rr;
		MDB_txn *txn;
		if (!req->ref)
			return -EINVAL;
		if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
			return ret;
		ret = row_get(s, txn, req->ref, &rr);
		mdb_txn_abort(txn);
		if (ret != 0)
			return ret;
		if (rr.dir != SYNC_INBOX || rr.kind != SYNC_ENV_CASE)
			return SYNC_ENOTFOUND;
		if (rr.state != SYNC_ST_RECEIVED && rr.state != SYNC_ST_ANSWERED)
			return SYNC_ESTATE;
		dest = rr.peer;
	} else {
		if (!to)
			return -EINVAL;
		dest = *to;
	}
	if (to && memcmp(to, &dest, sizeof dest) != 0)
		return -EINVAL; /* a reply goes to the case's sender, nobody else */
	p.content.title = (char *)(req->title ? req->title : "");
	p.content.note = (char *)req->note;
	p.content.note_len = req->note ? strlen(req->note) : 0;
	p.content.part_count = req->part_count;
	ret = -ENOMEM;
	if (req->part_count &&
	    (!(p.content.parts = calloc(req->part_count, sizeof *p.content.parts)) ||
	     !(p.fds = malloc(req->part_count * sizeof *p.fds)) ||
	     !(p.names = calloc(req->part_count, sizeof *p.names))))
		goto out;
	for (size_t i = 0; i < req->part_count; i++)
		p.fds[i] = -1;
	for (size_t i = 0; i < req->part_count; i++) {
		const struct sync_part_src *src = &req->parts[i];
		struct sync_env_part *pt = &p.content.parts[i];
		if (src->path) {
			struct stat st;
			const char *base = strrchr(src->path, '/');
			if ((p.fds[i] = open(src->path, O_RDONLY | O_CLOEXEC)) < 0 ||
			    fstat(p.fds[i], &st) != 0) {
				ret = -errno;
				goto out;
			}
			if (!S_ISREG(st.st_mode)) {
				ret = -EINVAL;
				goto out;
			}
			pt->size = (uint64_t)st.st_size;
			if (!(p.names[i] = strdup(src->name ? src->name
			                          : base    ? base + 1
			                                    : src->path)))
				goto out;
		} else {
			if (!src->name || (src->size && !src->data)) {
				ret = -EINVAL;
				goto out;
			}
			pt->size = src->size;
			if (!(p.names[i] = strdup(src->name)))
				goto out;
		}
		pt->name = p.names[i];
		pt->type = src->type ? src->type : "application/octet-stream";
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p.content.parts[j].name, pt->name)) {
				ret = SYNC_EEXIST; /* two parts with one name cannot be exported */
				goto out;
			}
	}
	if (!(plain = sync_env_content_size(&p.content))) {
		ret = SYNC_ENV_ENAME;
		goto out;
	}
	cs = req->chunk_size ? req->chunk_size : SYNC_ENV_CHUNK_DEFAULT;
	if (cs < SYNC_ENV_CHUNK_MIN || cs > SYNC_ENV_CHUNK_MAX) {
		ret = -EINVAL;
		goto out;
	}
	count = (plain + cs - 1) / cs;
	if (count > SYNC_ENV_CHUNKS_MAX) {
		ret = SYNC_ENV_ESIZE;
		goto out;
	}
	chunks_bytes = plain + count * SYNC_ENV_CHUNK_OVERHEAD;
	spooled = chunks_bytes > SYNC_STORE_INLINE_MAX;
	randombytes_buf(id, sizeof id);
	/* LMDB holds the header, the summary (the container table: note and part list) and,
	 * for inline records, the chunks. */
	table = plain;
	for (size_t i = 0; i < req->part_count; i++)
		table -= p.content.parts[i].size;
	if ((ret = ensure_space(
	             s, chunks_bytes + sync_env_header_size((uint32_t)count) + table + plain / 64,
	             (spooled ? 0 : chunks_bytes) + sync_env_header_size((uint32_t)count) + table +
	                     65536)) != 0)
		goto out;
	for (int attempt = 0;; attempt++) {
		ret = enq_attempt(s, self, &dest, req, &p, id, spooled, now);
		if (ret != SYNC_EMAPFULL || attempt > 0 || grow_map(s) != 0)
			break;
	}
	if (ret == 0)
		memcpy(id_out, id, sizeof id);
out:
	enq_prep_free(&p, req->part_count);
	return ret;
}

/* --- sender API ----------------------------------------------------------------------------- */

int sync_store_out_pending(struct sync_store *s, const struct keys_pub *to,
                           struct sync_out_item *items, size_t max, size_t *n)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	size_t got = 0;
	int rc, ret;

	*n = 0;
	if ((ret = ro_cursor_open(s, DB_QUEUE, &txn, &c)) != 0)
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && got < max;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const uint8_t *id = (const uint8_t *)k.mv_data + 9;
		struct row r;
		if (k.mv_size != 25)
			continue;
		if (row_get(s, txn, id, &r) != 0)
			continue;
		if (to && memcmp(&r.peer, to, sizeof *to) != 0)
			continue;
		memcpy(items[got].id, id, SYNC_ENV_ID_BYTES);
		items[got].priority = r.prio;
		items[got].to = r.peer;
		items[got].chunk_count = r.count;
		items[got].acked = r.done;
		items[got].header_len = r.hlen;
		items[got].wire_size = r.wire;
		got++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	*n = got;
	return 0;
}

int sync_store_out_header(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint8_t **out,
                          size_t *len)
{
	MDB_txn *txn;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	int ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = lmdb_err(sub_get(s, txn, 'h', k.mv_data, &v))) == 0) {
		if (!(*out = malloc(v.mv_size)))
			ret = -ENOMEM;
		else {
			memcpy(*out, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	mdb_txn_abort(txn);
	return ret;
}

/* Reads chunk i of a record (inline or spooled) into buf; txn is a read txn. */
static int chunk_read(struct sync_store *s, MDB_txn *txn, const uint8_t *id, const struct row *r,
                      uint32_t i, int *spool_fd, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n;

	if (i >= r->count)
		return SYNC_ENOTFOUND;
	n = row_chunk_len(r, i);
	if (n > cap)
		return -ENOBUFS;
	if (!r->spooled) {
		uint8_t kb[21];
		MDB_val k = {sizeof kb, kb}, v;
		int rc;
		chunk_key(kb, id, i);
		if ((rc = mdb_get(txn, s->dbi[DB_RECS], &k, &v)) != 0)
			return lmdb_err(rc);
		if (v.mv_size != n)
			return SYNC_ECORRUPT;
		memcpy(buf, v.mv_data, n);
	} else {
		int ret;
		if (*spool_fd < 0) {
			char path[4096];
			if ((ret = spool_path(s, id, "rec", path, sizeof path)) != 0)
				return ret;
			if ((*spool_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
				return errno == ENOENT ? SYNC_ENOTFOUND : -errno;
		}
		if ((ret = pread_all(*spool_fd, buf, n, row_chunk_off(r, i))) != 0)
			return ret;
	}
	*len = n;
	return 0;
}

int sync_store_out_chunk(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint32_t index,
                         uint8_t *buf, size_t cap, size_t *len)
{
	MDB_txn *txn;
	struct row r;
	int fd = -1, ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = row_get(s, txn, id, &r)) == 0) {
		if (r.dir != SYNC_OUTBOX)
			ret = SYNC_ENOTFOUND;
		else
			ret = chunk_read(s, txn, id, &r, index, &fd, buf, cap, len);
	}
	mdb_txn_abort(txn);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Begins a write transaction and reads record `id`, which must be in direction `dir`
 * (SYNC_OUTBOX / SYNC_INBOX, else SYNC_ENOTFOUND): 0 with *txn open for the caller to commit
 * or abort, or an error with nothing left open. */
static int row_begin(struct sync_store *s, const uint8_t *id, int dir, MDB_txn **txn, struct row *r)
{
	int ret;

	if ((ret = txn_begin(s, 0, txn)) != 0)
		return ret;
	if ((ret = row_get(s, *txn, id, r)) == 0 && r->dir != dir)
		ret = SYNC_ENOTFOUND;
	if (ret != 0) {
		mdb_txn_abort(*txn);
		*txn = NULL;
	}
	return ret;
}

int sync_store_out_ack(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint32_t acked)
{
	MDB_txn *txn;
	struct row r;
	int ret;

	if ((ret = row_begin(s, id, SYNC_OUTBOX, &txn, &r)) != 0)
		return ret;
	if (acked > r.count) {
		ret = -EINVAL;
		goto out;
	}
	if ((r.state != SYNC_ST_QUEUED && r.state != SYNC_ST_SENDING) ||
	    (acked <= r.done && r.state == SYNC_ST_SENDING)) {
		ret = 0; /* delivered already, or nothing new */
		goto out;
	}
	if (acked > r.done)
		r.done = acked;
	r.state = SYNC_ST_SENDING;
	r.changed = mtime_wall_ms();
	if ((ret = row_put(s, txn, id, &r)) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

int sync_store_out_delivered(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES])
{
	MDB_txn *txn;
	struct row r;
	int ret;

	if ((ret = row_begin(s, id, SYNC_OUTBOX, &txn, &r)) != 0)
		return ret;
	if (r.state == SYNC_ST_DELIVERED || r.state == SYNC_ST_ANSWERED) {
		ret = 0;
		goto out;
	}
	if ((ret = out_mark_done(s, txn, id, &r, SYNC_ST_DELIVERED, mtime_wall_ms())) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

int sync_store_out_refused(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], int32_t code)
{
	uint8_t qk[25], cb[4] = {(uint8_t)((uint32_t)code >> 24), (uint8_t)((uint32_t)code >> 16),
	                         (uint8_t)((uint32_t)code >> 8), (uint8_t)code};
	MDB_val v = {sizeof cb, cb};
	MDB_txn *txn;
	struct row r;
	int ret;

	if ((ret = row_begin(s, id, SYNC_OUTBOX, &txn, &r)) != 0)
		return ret;
	if (r.state == SYNC_ST_DELIVERED || r.state == SYNC_ST_ANSWERED) {
		ret = 0; /* the peer has it: a late refusal changes nothing */
		goto out;
	}
	/* Out of the queue (never offered again), not into the retention index (never purged). */
	queue_key(qk, &r, id);
	if ((ret = del_key(txn, s->dbi[DB_QUEUE], qk, sizeof qk)) != 0)
		goto out;
	r.state = SYNC_ST_REFUSED;
	r.changed = mtime_wall_ms();
	if ((ret = row_put(s, txn, id, &r)) != 0 ||
	    (ret = lmdb_err(sub_put(s, txn, 'x', id, &v))) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

int sync_store_out_retry(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES])
{
	uint8_t qk[25];
	MDB_txn *txn;
	struct row r;
	int ret, rc;

	if ((ret = row_begin(s, id, SYNC_OUTBOX, &txn, &r)) != 0)
		return ret;
	if (r.state != SYNC_ST_REFUSED) {
		ret = SYNC_ESTATE;
		goto out;
	}
	/* Same queue key as at enqueue (priority, sequence): back in its place in line. */
	queue_key(qk, &r, id);
	if ((ret = put_empty(txn, s->dbi[DB_QUEUE], qk, sizeof qk)) != 0)
		goto out;
	if ((rc = sub_del(s, txn, 'x', id)) != 0 && rc != MDB_NOTFOUND) {
		ret = lmdb_err(rc);
		goto out;
	}
	r.state = SYNC_ST_QUEUED;
	r.done = 0;
	r.changed = mtime_wall_ms();
	if ((ret = row_put(s, txn, id, &r)) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

/* --- receiver API --------------------------------------------------------------------------- */

static int recv_next(struct sync_store *s, MDB_txn *txn, const uint8_t *id, const struct row *r,
                     uint32_t *next);

static void status_from_row(const struct row *r, const uint8_t *id, uint32_t next,
                            struct sync_recv_status *st)
{
	memcpy(st->id, id, SYNC_ENV_ID_BYTES);
	st->chunk_count = r->count;
	st->next = next;
	st->done = r->state != SYNC_ST_RECEIVING;
}

int sync_store_recv_begin(struct sync_store *s, const uint8_t *header, size_t len,
                          const struct keys_pub *peer, const struct keys_pub *self,
                          struct sync_recv_status *st)
{
	struct sync_env_header *h = NULL;
	MDB_txn *txn = NULL;
	MDB_val k, v;
	struct row r = {0};
	uint64_t chunks_bytes, now = mtime_wall_ms();
	uint32_t next = 0;
	int ret, rc;

	if (!s || !header || !st)
		return -EINVAL;
	if ((ret = sync_env_header_parse(&h, header, len)) != 0)
		return ret;
	if (peer && memcmp(&h->sender, peer, sizeof *peer) != 0) {
		ret = SYNC_ENV_ESENDER;
		goto out;
	}
	if (self && memcmp(&h->recipient, self, sizeof *self) != 0) {
		ret = SYNC_ENV_ERECIPIENT;
		goto out;
	}
	k.mv_size = SYNC_ENV_ID_BYTES;
	k.mv_data = h->id;
	/* Known already? Then only report where to resume. */
	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		goto out;
	ret = row_get(s, txn, h->id, &r);
	if (ret == 0) {
		rc = sub_get(s, txn, 'h', k.mv_data, &v);
		if (r.dir != SYNC_INBOX || rc != 0 || v.mv_size != len ||
		    memcmp(v.mv_data, header, len) != 0)
			ret = SYNC_EEXIST;
		else if ((ret = recv_next(s, txn, h->id, &r, &next)) == 0)
			status_from_row(&r, h->id, next, st);
		goto out;
	}
	if (ret != SYNC_ENOTFOUND)
		goto out;
	mdb_txn_abort(txn);
	txn = NULL;
	chunks_bytes = sync_env_wire_size(h);
	memset(&r, 0, sizeof r);
	r.dir = SYNC_INBOX;
	r.kind = h->kind;
	r.prio = h->priority;
	r.state = SYNC_ST_RECEIVING;
	r.spooled = chunks_bytes > SYNC_STORE_INLINE_MAX;
	memcpy(r.ref, h->ref, sizeof r.ref);
	r.peer = h->sender;
	r.created = h->created_ms;
	r.changed = now;
	r.plain = h->plain_size;
	r.count = h->chunk_count;
	r.csize = h->chunk_size;
	r.wire = len + chunks_bytes;
	r.hlen = (uint32_t)len;
	if ((ret = ensure_space(s, r.wire + h->plain_size / 64,
	                        (r.spooled ? 0 : chunks_bytes) + len + 2 * 65536)) != 0)
		goto out;
	for (int attempt = 0;; attempt++) {
		if ((ret = txn_begin(s, 0, &txn)) != 0)
			goto out;
		/* Another process may have begun it meanwhile. */
		if (row_get(s, txn, h->id, &r) == 0) {
			if ((ret = recv_next(s, txn, h->id, &r, &next)) == 0)
				status_from_row(&r, h->id, next, st);
			goto out;
		}
		r.state = SYNC_ST_RECEIVING;
		v.mv_size = len;
		v.mv_data = (void *)header;
		if ((ret = row_put(s, txn, h->id, &r)) == 0 &&
		    (ret = lmdb_err(sub_put(s, txn, 'h', k.mv_data, &v))) == 0) {
			ret = txn_commit(txn);
			txn = NULL;
		}
		if (ret != SYNC_EMAPFULL || attempt > 0)
			break;
		if (txn)
			mdb_txn_abort(txn);
		txn = NULL;
		if (grow_map(s) != 0)
			break;
	}
	if (ret == 0)
		status_from_row(&r, h->id, 0, st);
out:
	if (txn)
		mdb_txn_abort(txn);
	sync_env_header_free(h);
	return ret;
}

/* The true next chunk of a RECEIVING spooled record: its row's `done` is a lower bound (written
 * every SPOOL_COMMIT_EVERY chunks); the chunks after it that are in the spool file and match
 * their signed hash were persisted (fdatasync'd) before being acknowledged, so they count.
 * `hv` is the record's header (from a txn still open). */
static int spool_next(struct sync_store *s, const uint8_t *id, const struct row *r,
                      const MDB_val *hv, uint32_t *next)
{
	char path[4096];
	uint8_t *buf = NULL;
	uint32_t i = r->done;
	int fd, ret;

	if (s->rx_valid && !memcmp(s->rx_id, id, SYNC_ENV_ID_BYTES) && s->rx_next >= r->done) {
		*next = s->rx_next;
		return 0;
	}
	if ((ret = spool_path(s, id, "rec", path, sizeof path)) != 0)
		return ret;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno != ENOENT)
			return -errno;
	} else {
		if (!(buf = malloc((size_t)r->csize + SYNC_ENV_CHUNK_OVERHEAD))) {
			close(fd);
			return -ENOMEM;
		}
		for (; i < r->count; i++) {
			size_t len = row_chunk_len(r, i);
			if (pread_all(fd, buf, len, row_chunk_off(r, i)) != 0 ||
			    sync_env_chunk_check_raw(hv->mv_data, hv->mv_size, i, buf, len) != 0)
				break;
		}
		free(buf);
		close(fd);
	}
	s->rx_valid = true;
	memcpy(s->rx_id, id, SYNC_ENV_ID_BYTES);
	s->rx_next = i;
	*next = i;
	return 0;
}

static void spool_forget(struct sync_store *s, const uint8_t *id)
{
	if (s->rx_valid && !memcmp(s->rx_id, id, SYNC_ENV_ID_BYTES))
		s->rx_valid = false;
}

/* Persisting chunks of a spooled record: pwrite + fdatasync make them durable (1 sync instead
 * of 3 with an LMDB commit per chunk); the row's `done` follows every SPOOL_COMMIT_EVERY
 * chunks and at the last, and spool_next() recovers the rest after a restart. */
static int recv_spooled(struct sync_store *s, const uint8_t *id, uint32_t first, size_t n,
                        const uint8_t *const *cts, const size_t *lens, uint32_t *next_out)
{
	MDB_txn *txn = NULL;
	MDB_val hv;
	struct row r;
	char path[4096];
	uint32_t next = 0;
	bool wrote = false, created = false;
	int fd = -1, ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = row_get(s, txn, id, &r)) != 0)
		goto out;
	if (r.dir != SYNC_INBOX || !r.spooled) {
		ret = SYNC_ENOTFOUND;
		goto out;
	}
	if (r.state != SYNC_ST_RECEIVING) {
		ret = SYNC_ESTATE;
		goto out;
	}
	if ((ret = lmdb_err(sub_get(s, txn, 'h', id, &hv))) != 0 ||
	    (ret = spool_next(s, id, &r, &hv, &next)) != 0)
		goto out;
	for (size_t j = 0; j < n; j++) {
		uint32_t i = first + (uint32_t)j;
		if (i < next)
			continue; /* duplicate: already persisted */
		if (i > next) {
			ret = SYNC_EORDER;
			break;
		}
		if ((ret = sync_env_chunk_check_raw(hv.mv_data, hv.mv_size, i, cts[j], lens[j])) !=
		    0)
			break;
		if (fd < 0) {
			if ((ret = spool_path(s, id, "rec", path, sizeof path)) != 0)
				break;
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd >= 0)
				created = true;
			else if (errno == EEXIST)
				fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd < 0) {
				ret = -errno;
				break;
			}
		}
		if ((ret = pwrite_all(fd, cts[j], lens[j], row_chunk_off(&r, i))) != 0) {
			if (ret == -ENOSPC)
				ret = SYNC_ENOSPC;
			break;
		}
		next = i + 1;
		wrote = true;
	}
	mdb_txn_abort(txn);
	txn = NULL;
	if (wrote) {
		/* Everything written in this call becomes durable together; on an error above the
		 * chunks before it are still fine (each was checked) but are not reported. */
		if (fdatasync(fd) != 0 || (created && fsync_dir(s->spool) != 0)) {
			ret = errno == ENOSPC ? SYNC_ENOSPC : -errno;
			s->rx_valid = false;
			goto out;
		}
		s->rx_valid = true;
		memcpy(s->rx_id, id, SYNC_ENV_ID_BYTES);
		s->rx_next = next;
	}
	if (ret != 0)
		goto out;
	if (wrote && (next - r.done >= SPOOL_COMMIT_EVERY || next == r.count)) {
		struct row w;
		if ((ret = txn_begin(s, 0, &txn)) != 0)
			goto out;
		if ((ret = row_get(s, txn, id, &w)) != 0)
			goto out;
		if (w.state == SYNC_ST_RECEIVING && next > w.done) {
			w.done = next;
			w.changed = mtime_wall_ms();
			if ((ret = row_put(s, txn, id, &w)) != 0)
				goto out;
			ret = txn_commit(txn);
			txn = NULL;
			if (ret != 0)
				goto out;
		}
	}
	if (next_out)
		*next_out = next;
out:
	if (txn)
		mdb_txn_abort(txn);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The effective next chunk of a record (spooled RECEIVING ones may be ahead of their row). */
static int recv_next(struct sync_store *s, MDB_txn *txn, const uint8_t *id, const struct row *r,
                     uint32_t *next)
{
	MDB_val hv;
	int ret;

	*next = r->done;
	if (!r->spooled || r->state != SYNC_ST_RECEIVING || r->dir != SYNC_INBOX)
		return 0;
	if ((ret = lmdb_err(sub_get(s, txn, 'h', id, &hv))) != 0)
		return ret;
	return spool_next(s, id, r, &hv, next);
}

int sync_store_recv_chunks(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                           uint32_t first, size_t n, const uint8_t *const *cts, const size_t *lens,
                           uint32_t *next)
{
	MDB_txn *txn = NULL;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, hv;
	struct row r;
	int ret;
	bool wrote = false;

	/* Spooled records take the fdatasync-only path. */
	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	ret = row_get(s, txn, id, &r);
	mdb_txn_abort(txn);
	txn = NULL;
	if (ret != 0)
		return ret;
	if (r.dir == SYNC_INBOX && r.spooled)
		return recv_spooled(s, id, first, n, cts, lens, next);

	for (int attempt = 0;; attempt++) {
		if ((ret = txn_begin(s, 0, &txn)) != 0)
			return ret;
		if ((ret = row_get(s, txn, id, &r)) != 0)
			goto out;
		if (r.dir != SYNC_INBOX) {
			ret = SYNC_ENOTFOUND;
			goto out;
		}
		if (r.state != SYNC_ST_RECEIVING) {
			ret = SYNC_ESTATE;
			goto out;
		}
		if ((ret = lmdb_err(sub_get(s, txn, 'h', k.mv_data, &hv))) != 0)
			goto out;
		wrote = false;
		for (size_t j = 0; j < n; j++) {
			uint32_t i = first + (uint32_t)j;
			if (i < r.done)
				continue; /* duplicate: already persisted */
			if (i > r.done) {
				ret = SYNC_EORDER;
				goto out;
			}
			if ((ret = sync_env_chunk_check_raw(hv.mv_data, hv.mv_size, i, cts[j],
			                                    lens[j])) != 0)
				goto out;
			{
				uint8_t kb[21];
				MDB_val ck = {sizeof kb, kb}, cv = {lens[j], (void *)cts[j]};
				chunk_key(kb, id, i);
				if ((ret = lmdb_err(mdb_put(txn, s->dbi[DB_RECS], &ck, &cv, 0))) !=
				    0)
					goto out;
			}
			r.done = i + 1;
			wrote = true;
		}
		if (!wrote) {
			ret = 0;
			goto out;
		}
		r.changed = mtime_wall_ms();
		if ((ret = row_put(s, txn, id, &r)) != 0)
			goto out;
		ret = txn_commit(txn);
		txn = NULL;
		if (ret != SYNC_EMAPFULL || attempt > 0 || grow_map(s) != 0)
			break;
	}
out:
	if (txn)
		mdb_txn_abort(txn);
	if (ret == 0 && next)
		*next = r.done;
	return ret;
}

int sync_store_recv_chunk(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint32_t index,
                          const uint8_t *ct, size_t len, uint32_t *next)
{
	return sync_store_recv_chunks(s, id, index, 1, &ct, &len, next);
}

int sync_store_recv_status(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                           struct sync_recv_status *st)
{
	uint32_t next = 0;
	MDB_txn *txn;
	struct row r;
	int ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = row_get(s, txn, id, &r)) == 0) {
		if (r.dir != SYNC_INBOX)
			ret = SYNC_ENOTFOUND;
		else if ((ret = recv_next(s, txn, id, &r, &next)) == 0)
			status_from_row(&r, id, next, st);
	}
	mdb_txn_abort(txn);
	return ret;
}

/* Deletes a record's rows and chunks inside txn (the spool file is unlinked by the caller
 * after the commit). */
static int record_delete(struct sync_store *s, MDB_txn *txn, const uint8_t *id, const struct row *r)
{
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id};
	uint8_t qk[25], dk[24], rk[32];
	int ret = 0, rc;

	spool_forget(s, id);
	if (!r->spooled)
		for (uint32_t i = 0; i < r->count && ret == 0; i++) {
			uint8_t kb[21];
			chunk_key(kb, id, i);
			ret = del_key(txn, s->dbi[DB_RECS], kb, sizeof kb);
		}
	if (ret)
		return ret;
	if ((rc = sub_del(s, txn, 'h', k.mv_data)) && rc != MDB_NOTFOUND)
		return lmdb_err(rc);
	if ((rc = sub_del(s, txn, 's', k.mv_data)) && rc != MDB_NOTFOUND)
		return lmdb_err(rc);
	if ((rc = sub_del(s, txn, 'x', k.mv_data)) && rc != MDB_NOTFOUND)
		return lmdb_err(rc);
	if ((rc = mdb_del(txn, s->dbi[DB_RECS], &k, NULL)) && rc != MDB_NOTFOUND)
		return lmdb_err(rc);
	queue_key(qk, r, id);
	if ((ret = del_key(txn, s->dbi[DB_QUEUE], qk, sizeof qk)) != 0)
		return ret;
	if (r->done_ms) {
		done_key(dk, r, id);
		if ((ret = del_key(txn, s->dbi[DB_DONE], dk, sizeof dk)) != 0)
			return ret;
	}
	if (r->kind == SYNC_ENV_REPLY) {
		memcpy(rk, r->ref, 16);
		memcpy(rk + 16, id, 16);
		if ((ret = del_key(txn, s->dbi[DB_REFS], rk, sizeof rk)) != 0)
			return ret;
	}
	return 0;
}

static void spool_unlink(struct sync_store *s, const uint8_t *id)
{
	char path[4096];

	if (spool_path(s, id, "rec", path, sizeof path) == 0 && unlink(path) != 0 &&
	    errno != ENOENT)
		log_warn("store: cannot remove %s: %s", path, strerror(errno));
}

int sync_store_recv_abort(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES])
{
	MDB_txn *txn;
	struct row r;
	int ret;

	if ((ret = row_begin(s, id, SYNC_INBOX, &txn, &r)) != 0)
		return ret;
	if (r.state != SYNC_ST_RECEIVING) {
		ret = SYNC_ESTATE; /* finished records are never deleted here */
		goto out;
	}
	if ((ret = record_delete(s, txn, id, &r)) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
	if (ret == 0 && r.spooled)
		spool_unlink(s, id);
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

/* Walks every chunk of a stored record through an opener (verification and/or export). */
static int record_open_all(struct sync_store *s, const uint8_t *id, const struct keys *self,
                           struct sync_env_header **hout, struct sync_env_content **cout,
                           sync_env_part_h cb, void *arg)
{
	MDB_txn *txn = NULL;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	struct row r;
	uint8_t *buf = NULL;
	int fd = -1, ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = row_get(s, txn, id, &r)) != 0)
		goto out;
	if ((ret = lmdb_err(sub_get(s, txn, 'h', k.mv_data, &v))) != 0)
		goto out;
	if ((ret = sync_env_header_parse(&h, v.mv_data, v.mv_size)) != 0)
		goto out;
	if ((ret = sync_env_open_new(&o, h, self)) != 0)
		goto out;
	if (!(buf = malloc((size_t)h->chunk_size + SYNC_ENV_CHUNK_OVERHEAD))) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < h->chunk_count; i++) {
		size_t len = 0;
		if ((ret = chunk_read(s, txn, id, &r, i, &fd, buf,
		                      (size_t)h->chunk_size + SYNC_ENV_CHUNK_OVERHEAD, &len)) !=
		    0) {
			if (ret == SYNC_ENOTFOUND || ret == SYNC_ECORRUPT)
				ret = SYNC_ENV_ETAG; /* missing/short chunk: a truncated record */
			goto out;
		}
		if ((ret = sync_env_open_chunk(o, i, buf, len, cb, arg)) != 0)
			goto out;
	}
	if (!sync_env_open_done(o)) {
		ret = SYNC_ENV_ETAG;
		goto out;
	}
	if (cout) {
		const struct sync_env_content *c = sync_env_open_content(o);
		uint8_t *enc = NULL;
		size_t elen, used;
		if ((ret = sync_env_content_encode(c, &enc, &elen)) != 0)
			goto out;
		ret = sync_env_content_parse(cout, &used, enc, elen);
		sodium_memzero(enc, elen);
		free(enc);
		if (ret != 0)
			goto out;
	}
	if (hout) {
		*hout = h;
		h = NULL;
	}
	ret = 0;
out:
	if (txn)
		mdb_txn_abort(txn);
	if (fd >= 0)
		close(fd);
	sync_env_open_free(o);
	sync_env_header_free(h);
	if (buf) {
		sodium_memzero(buf, 16);
		free(buf);
	}
	return ret;
}

int sync_store_recv_finish(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                           const struct keys *self, bool *fresh, int *reason)
{
	uint32_t next = 0;
	struct sync_env_content *c = NULL;
	struct sync_env_header *h = NULL;
	MDB_txn *txn = NULL;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	uint8_t *summ = NULL;
	size_t slen = 0;
	struct row r, ref;
	uint64_t now = mtime_wall_ms();
	int ret, vret;

	if (fresh)
		*fresh = false;
	if (reason)
		*reason = 0;
	if (!s || !self)
		return -EINVAL;
	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	ret = row_get(s, txn, id, &r);
	if (ret == 0)
		ret = recv_next(s, txn, id, &r, &next);
	mdb_txn_abort(txn);
	txn = NULL;
	if (ret != 0)
		return ret;
	if (r.dir != SYNC_INBOX)
		return SYNC_ENOTFOUND;
	if (r.state != SYNC_ST_RECEIVING)
		return 0; /* exactly-once: already in the inbox */
	if (next < r.count)
		return SYNC_ESTATE;
	vret = record_open_all(s, id, self, &h, &c, NULL, NULL);
	if (vret != 0 && (vret > ERR_BASE_SYNC - 100 || vret <= ERR_BASE_SYNC - 200 ||
	                  vret == SYNC_ENV_ERECIPIENT)) {
		/* A local failure (I/O, memory, wrong key given), not the record's fault: keep it
		 * and report; only envelope verdicts refuse the record. */
		ret = vret;
		goto out;
	}
	if ((ret = txn_begin(s, 0, &txn)) != 0)
		goto out;
	if ((ret = row_get(s, txn, id, &r)) != 0)
		goto out;
	if (r.state != SYNC_ST_RECEIVING) {
		ret = 0; /* another process finished it meanwhile */
		goto out;
	}
	if (vret != 0) {
		char hex[SYNC_ENV_ID_HEX_LEN];
		sync_env_id_hex(id, hex);
		log_warn("store: record %s refused: %s", hex, sync_strerror(vret));
		if ((ret = record_delete(s, txn, id, &r)) != 0)
			goto out;
		if ((ret = txn_commit(txn)) != 0) {
			txn = NULL;
			goto out;
		}
		txn = NULL;
		if (r.spooled)
			spool_unlink(s, id);
		if (reason)
			*reason = vret;
		ret = SYNC_EREFUSED;
		goto out;
	}
	r.state = SYNC_ST_RECEIVED;
	r.done = r.count;
	r.changed = now;
	snprintf(r.title, sizeof r.title, "%s", c->title ? c->title : "");
	if ((ret = row_put(s, txn, id, &r)) != 0)
		goto out;
	if ((ret = sync_env_content_encode(c, &summ, &slen)) != 0)
		goto out;
	v.mv_size = slen;
	v.mv_data = summ;
	if ((ret = lmdb_err(sub_put(s, txn, 's', k.mv_data, &v))) != 0)
		goto out;
	if (r.kind == SYNC_ENV_REPLY) {
		uint8_t rk[32];
		memcpy(rk, r.ref, 16);
		memcpy(rk + 16, id, 16);
		if ((ret = put_empty(txn, s->dbi[DB_REFS], rk, sizeof rk)) != 0)
			goto out;
		/* The case it answers, if it is ours and still here (it may have been purged). */
		if (row_get(s, txn, r.ref, &ref) == 0 && ref.dir == SYNC_OUTBOX &&
		    !memcmp(&ref.peer, &r.peer, sizeof ref.peer)) {
			ref.replies++;
			if ((ret = out_mark_done(s, txn, r.ref, &ref, SYNC_ST_ANSWERED, now)) != 0)
				goto out;
			ref.state = SYNC_ST_ANSWERED;
			if ((ret = row_put(s, txn, r.ref, &ref)) != 0)
				goto out;
		}
	}
	ret = txn_commit(txn);
	txn = NULL;
	if (ret == 0 && fresh)
		*fresh = true;
	spool_forget(s, id);
out:
	if (txn)
		mdb_txn_abort(txn);
	sync_env_content_free(c);
	sync_env_header_free(h);
	if (summ) {
		sodium_memzero(summ, slen);
		free(summ);
	}
	return ret;
}

/* --- queries -------------------------------------------------------------------------------- */

static int cmp_newest(const void *a, const void *b)
{
	const struct sync_record_info *x = a, *y = b;

	if (x->created_ms != y->created_ms)
		return x->created_ms < y->created_ms ? 1 : -1;
	return memcmp(x->id, y->id, sizeof x->id);
}

int sync_store_list(struct sync_store *s, enum sync_dir dir, bool include_partial,
                    struct sync_record_info **out, size_t *n)
{
	struct sync_record_info *arr = NULL, *tmp;
	size_t len = 0, cap = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, ret;

	if ((ret = ro_cursor_open(s, DB_RECS, &txn, &c)) != 0)
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct row r;
		if (k.mv_size != SYNC_ENV_ID_BYTES || row_decode(&r, &v) != 0 || r.dir != dir)
			continue;
		if (r.state == SYNC_ST_RECEIVING && !include_partial)
			continue;
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			if (!(tmp = realloc(arr, cap * sizeof *arr))) {
				ret = -ENOMEM;
				break;
			}
			arr = tmp;
		}
		row_info_full(s, txn, &r, k.mv_data, &arr[len++]);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (ret != 0) {
		free(arr);
		return ret;
	}
	if (len)
		qsort(arr, len, sizeof *arr, cmp_newest);
	*out = arr;
	*n = len;
	return 0;
}

int sync_store_get(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                   struct sync_record_info *out)
{
	MDB_txn *txn;
	struct row r;
	int ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = row_get(s, txn, id, &r)) == 0)
		row_info_full(s, txn, &r, id, out);
	mdb_txn_abort(txn);
	return ret;
}

int sync_store_summary(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                       struct sync_env_content **out)
{
	MDB_txn *txn;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	size_t used;
	int ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = lmdb_err(sub_get(s, txn, 's', k.mv_data, &v))) == 0) {
		ret = sync_env_content_parse(out, &used, v.mv_data, v.mv_size);
		if (ret == -EAGAIN)
			ret = SYNC_ECORRUPT;
	}
	mdb_txn_abort(txn);
	return ret;
}

int sync_store_replies(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint8_t **out,
                       size_t *n)
{
	uint8_t *ids = NULL, *tmp;
	size_t len = 0, cap = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k = {SYNC_ENV_ID_BYTES, (void *)id}, v;
	int rc, ret;

	if ((ret = ro_cursor_open(s, DB_REFS, &txn, &c)) != 0)
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 32 || memcmp(k.mv_data, id, 16) != 0)
			break;
		if (len == cap) {
			cap = cap ? cap * 2 : 4;
			if (!(tmp = realloc(ids, cap * 16))) {
				ret = -ENOMEM;
				break;
			}
			ids = tmp;
		}
		memcpy(ids + 16 * len++, (uint8_t *)k.mv_data + 16, 16);
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (ret != 0) {
		free(ids);
		return ret;
	}
	*out = ids;
	*n = len;
	return 0;
}

int sync_store_find(struct sync_store *s, const char *hex, uint8_t id[SYNC_ENV_ID_BYTES])
{
	size_t n = hex ? strlen(hex) : 0, matches = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, ret;

	if (n < 8 || n > 32 || strspn(hex, "0123456789abcdefABCDEF") != n)
		return -EINVAL;
	if (n == 32) {
		struct row r;
		if (sync_env_id_parse(hex, id) != 0)
			return -EINVAL;
		if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
			return ret;
		ret = row_get(s, txn, id, &r);
		mdb_txn_abort(txn);
		return ret;
	}
	if ((ret = ro_cursor_open(s, DB_RECS, &txn, &c)) != 0)
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		char h[SYNC_ENV_ID_HEX_LEN];
		if (k.mv_size != SYNC_ENV_ID_BYTES)
			continue;
		sync_env_id_hex(k.mv_data, h);
		if (!strncasecmp(h, hex, n)) {
			if (matches++ == 0)
				memcpy(id, k.mv_data, SYNC_ENV_ID_BYTES);
		}
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	return matches == 0 ? SYNC_ENOTFOUND : matches > 1 ? SYNC_EEXIST : 0;
}

/* --- export --------------------------------------------------------------------------------- */

struct exp {
	const char *dir;
	const struct sync_env_content *c;
	uint64_t *written;
	int *fds;
	char **paths;
	size_t n;
};

static int exp_part(size_t part, const uint8_t *data, size_t len, void *arg)
{
	struct exp *x = arg;

	/* The files were made from our summary; the decrypted table must agree with it. */
	if (part >= x->n || x->fds[part] < 0 || len > x->c->parts[part].size - x->written[part])
		return SYNC_ECORRUPT;
	x->written[part] += len;
	return write_all(x->fds[part], data, len);
}

int sync_store_export(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                      const struct keys *self, const char *dir)
{
	struct sync_env_content *c = NULL;
	struct sync_record_info info;
	struct exp x = {.dir = dir};
	char *note_path = NULL;
	bool note_written = false;
	int ret, fd;

	if (!s || !self || !dir)
		return -EINVAL;
	if ((ret = sync_store_get(s, id, &info)) != 0)
		return ret;
	if (info.dir != SYNC_INBOX)
		return SYNC_ENOTFOUND;
	if (info.state != SYNC_ST_RECEIVED && info.state != SYNC_ST_ANSWERED)
		return SYNC_ESTATE;
	/* First pass learns the table from our summary; the decrypting pass checks it matches. */
	if ((ret = sync_store_summary(s, id, &c)) != 0)
		return ret;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		ret = -errno;
		goto out;
	}
	x.c = c;
	x.n = c->part_count;
	ret = -ENOMEM;
	if (x.n &&
	    (!(x.fds = malloc(x.n * sizeof *x.fds)) || !(x.paths = calloc(x.n, sizeof *x.paths)) ||
	     !(x.written = calloc(x.n, sizeof *x.written))))
		goto out;
	for (size_t i = 0; i < x.n; i++)
		x.fds[i] = -1;
	for (size_t i = 0; i < x.n; i++) {
		if (!sync_env_name_ok(c->parts[i].name)) {
			ret = SYNC_ENV_ENAME;
			goto out;
		}
		if (asprintf(&x.paths[i], "%s/%s", dir, c->parts[i].name) < 0) {
			x.paths[i] = NULL;
			ret = -ENOMEM;
			goto out;
		}
		if ((x.fds[i] = open(x.paths[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) <
		    0) {
			ret = -errno;
			free(x.paths[i]);
			x.paths[i] = NULL; /* not ours: never remove it */
			goto out;
		}
	}
	if ((ret = record_open_all(s, id, self, NULL, NULL, exp_part, &x)) != 0)
		goto out;
	for (size_t i = 0; i < x.n; i++)
		if (x.written[i] != c->parts[i].size) {
			ret = SYNC_ECORRUPT;
			goto out;
		}
	if (c->note_len) {
		bool clash = false;
		for (size_t i = 0; i < x.n; i++)
			clash |= !strcmp(c->parts[i].name, "note.txt");
		if (asprintf(&note_path, "%s/%s", dir, clash ? "_note.txt" : "note.txt") < 0) {
			note_path = NULL;
			ret = -ENOMEM;
			goto out;
		}
		if ((fd = open(note_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
			ret = -errno;
			free(note_path);
			note_path = NULL;
			goto out;
		}
		note_written = true;
		ret = write_all(fd, c->note, c->note_len);
		if (ret == 0 && fsync(fd) != 0)
			ret = -errno;
		close(fd);
		if (ret != 0)
			goto out;
	}
	for (size_t i = 0; i < x.n; i++)
		if (fsync(x.fds[i]) != 0) {
			ret = -errno;
			goto out;
		}
	ret = fsync_dir(dir);
out:
	for (size_t i = 0; i < x.n; i++) {
		if (x.fds && x.fds[i] >= 0)
			close(x.fds[i]);
		if (ret != 0 && x.paths && x.paths[i])
			unlink(x.paths[i]);
		if (x.paths)
			free(x.paths[i]);
	}
	if (ret != 0 && note_written)
		unlink(note_path);
	free(note_path);
	free(x.fds);
	free(x.paths);
	free(x.written);
	sync_env_content_free(c);
	return ret;
}

/* --- retention ------------------------------------------------------------------------------ */

int sync_store_purge(struct sync_store *s, uint64_t now_ms, uint64_t retention_ms, size_t *purged)
{
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	uint8_t(*spooled)[SYNC_ENV_ID_BYTES] = NULL;
	size_t nsp = 0, count = 0;
	int rc, ret;

	if (purged)
		*purged = 0;
	if ((ret = txn_begin(s, 0, &txn)) != 0)
		return ret;
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_DONE], &c)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_err(rc);
	}
	for (;;) {
		uint8_t id[SYNC_ENV_ID_BYTES];
		struct row r;
		if ((rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) != 0)
			break;
		if (k.mv_size != 24)
			break;
		if (rd_be64(k.mv_data) + retention_ms > now_ms)
			break;
		memcpy(id, (uint8_t *)k.mv_data + 8, sizeof id);
		if ((rc = mdb_cursor_del(c, 0)) != 0) {
			ret = lmdb_err(rc);
			break;
		}
		if (row_get(s, txn, id, &r) != 0)
			continue;
		r.done_ms = 0; /* its DB_DONE key is gone already */
		if ((ret = record_delete(s, txn, id, &r)) != 0)
			break;
		if (r.spooled) {
			void *t = realloc(spooled, (nsp + 1) * sizeof *spooled);
			if (!t) {
				ret = -ENOMEM;
				break;
			}
			spooled = t;
			memcpy(spooled[nsp++], id, SYNC_ENV_ID_BYTES);
		}
		count++;
	}
	mdb_cursor_close(c);
	if (ret == 0)
		ret = txn_commit(txn);
	else
		mdb_txn_abort(txn);
	if (ret == 0) {
		for (size_t i = 0; i < nsp; i++)
			spool_unlink(s, spooled[i]);
		if (purged)
			*purged = count;
	}
	free(spooled);
	return ret;
}

/* --- peers ---------------------------------------------------------------------------------- */

static bool peer_name_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	return l >= 1 && l <= SYNC_PEER_NAME_MAX &&
	       strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == l;
}

#define PEER_VAL (KEYS_PUB_BYTES + 1 + 8 + 8)

static void peer_encode(const struct sync_peer *p, uint8_t b[PEER_VAL])
{
	memcpy(b, &p->pub, KEYS_PUB_BYTES);
	b[64] = p->revoked;
	be64(b + 65, p->enrolled_ms);
	be64(b + 73, p->revoked_ms);
}

static int peer_decode(struct sync_peer *p, const MDB_val *k, const MDB_val *v)
{
	const uint8_t *b = v->mv_data;

	if (v->mv_size != PEER_VAL || k->mv_size > SYNC_PEER_NAME_MAX)
		return SYNC_ECORRUPT;
	memset(p, 0, sizeof *p);
	memcpy(p->name, k->mv_data, k->mv_size);
	memcpy(&p->pub, b, KEYS_PUB_BYTES);
	p->revoked = b[64] != 0;
	p->enrolled_ms = rd_be64(b + 65);
	p->revoked_ms = rd_be64(b + 73);
	return 0;
}

/* One table, two namespaces: sync/xfer's stamps under the bare key (as they always were), the
 * tunnel's under a one-byte prefix. They cannot share a row: they are separate sequences (a
 * sync engine's handshakes, a tunnel's initiations) in different units (xfer: wall-clock us,
 * tunnel: ns), so the tunnel's would make every xfer handshake look replayed. */
#define STAMP_TUNNEL  't'
#define STAMP_KEY_MAX (1 + KEYS_X25519_BYTES)

static MDB_val stamp_key(bool tunnel, const uint8_t x25519[KEYS_X25519_BYTES],
                         uint8_t buf[STAMP_KEY_MAX])
{
	MDB_val k = {KEYS_X25519_BYTES, buf};

	if (tunnel) {
		buf[0] = STAMP_TUNNEL;
		memcpy(buf + 1, x25519, KEYS_X25519_BYTES);
		k.mv_size++;
	} else {
		memcpy(buf, x25519, KEYS_X25519_BYTES);
	}
	return k;
}

/* Forgets both stamps of a key inside txn (enrolment). */
static int stamps_clear(struct sync_store *s, MDB_txn *txn, const uint8_t x25519[KEYS_X25519_BYTES])
{
	uint8_t buf[STAMP_KEY_MAX];

	for (int tunnel = 0; tunnel < 2; tunnel++) {
		MDB_val k = stamp_key(tunnel, x25519, buf);
		int rc = mdb_del(txn, s->dbi[DB_STAMPS], &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return lmdb_err(rc);
	}
	return 0;
}

int sync_store_peer_enroll(struct sync_store *s, const char *name, const struct keys_pub *pub)
{
	MDB_txn *txn;
	MDB_val k = {name ? strlen(name) : 0, (void *)name}, v, kk = {32, (void *)pub->x25519};
	struct sync_peer p = {0};
	uint8_t b[PEER_VAL];
	int ret, rc;

	if (!peer_name_ok(name) || !pub)
		return -EINVAL;
	if ((ret = txn_begin(s, 0, &txn)) != 0)
		return ret;
	rc = mdb_get(txn, s->dbi[DB_PEERS], &k, &v);
	if (rc == 0) {
		if ((ret = peer_decode(&p, &k, &v)) != 0)
			goto out;
		if (memcmp(&p.pub, pub, sizeof *pub) != 0) {
			ret = SYNC_EEXIST;
			goto out;
		}
		p.revoked = false; /* re-enrolling a key under its name (un-revokes it) */
		p.revoked_ms = 0;
	} else if (rc != MDB_NOTFOUND) {
		ret = lmdb_err(rc);
		goto out;
	} else {
		if ((rc = mdb_get(txn, s->dbi[DB_PKEYS], &kk, &v)) == 0) {
			ret = SYNC_EEXIST; /* that key is enrolled under another name */
			goto out;
		}
		snprintf(p.name, sizeof p.name, "%s", name);
		p.pub = *pub;
	}
	p.enrolled_ms = mtime_wall_ms();
	peer_encode(&p, b);
	v.mv_size = sizeof b;
	v.mv_data = b;
	if ((ret = lmdb_err(mdb_put(txn, s->dbi[DB_PEERS], &k, &v, 0))) != 0)
		goto out;
	v.mv_size = strlen(name);
	v.mv_data = (void *)name;
	if ((ret = lmdb_err(mdb_put(txn, s->dbi[DB_PKEYS], &kk, &v, 0))) != 0)
		goto out;
	/* A fresh start for its replay protection: a clinic whose clock went back is refused
	 * (its handshakes look replayed) until re-enrolled. */
	if ((ret = stamps_clear(s, txn, pub->x25519)) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

int sync_store_peer_revoke(struct sync_store *s, const char *name)
{
	MDB_txn *txn;
	MDB_val k = {name ? strlen(name) : 0, (void *)name}, v;
	struct sync_peer p;
	uint8_t b[PEER_VAL];
	int ret;

	if (!peer_name_ok(name))
		return -EINVAL;
	if ((ret = txn_begin(s, 0, &txn)) != 0)
		return ret;
	if ((ret = lmdb_err(mdb_get(txn, s->dbi[DB_PEERS], &k, &v))) != 0 ||
	    (ret = peer_decode(&p, &k, &v)) != 0)
		goto out;
	if (p.revoked) {
		ret = 0;
		goto out;
	}
	p.revoked = true;
	p.revoked_ms = mtime_wall_ms();
	peer_encode(&p, b);
	v.mv_size = sizeof b;
	v.mv_data = b;
	if ((ret = lmdb_err(mdb_put(txn, s->dbi[DB_PEERS], &k, &v, 0))) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

int sync_store_peer_check(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                          struct sync_peer *out)
{
	MDB_txn *txn;
	MDB_val kk = {KEYS_X25519_BYTES, (void *)x25519}, name, v;
	struct sync_peer p;
	int ret;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	if ((ret = lmdb_err(mdb_get(txn, s->dbi[DB_PKEYS], &kk, &name))) != 0)
		goto out;
	if ((ret = lmdb_err(mdb_get(txn, s->dbi[DB_PEERS], &name, &v))) != 0 ||
	    (ret = peer_decode(&p, &name, &v)) != 0)
		goto out;
	if (sodium_memcmp(p.pub.x25519, x25519, KEYS_X25519_BYTES) != 0) {
		ret = SYNC_ENOTFOUND;
		goto out;
	}
	if (out)
		*out = p;
	ret = p.revoked ? SYNC_EREVOKED : 0;
out:
	mdb_txn_abort(txn);
	return ret;
}

int sync_store_peer_list(struct sync_store *s, struct sync_peer **out, size_t *n)
{
	struct sync_peer *arr = NULL, *tmp;
	size_t len = 0;
	MDB_txn *txn;
	MDB_cursor *c;
	MDB_val k, v;
	int rc, ret;

	if ((ret = ro_cursor_open(s, DB_PEERS, &txn, &c)) != 0)
		return ret;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (!(tmp = realloc(arr, (len + 1) * sizeof *arr))) {
			ret = -ENOMEM;
			break;
		}
		arr = tmp;
		if (peer_decode(&arr[len], &k, &v) == 0)
			len++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (ret != 0) {
		free(arr);
		return ret;
	}
	*out = arr;
	*n = len;
	return 0;
}

/* --- handshake replay protection ------------------------------------------------------------ */

static int stamp_check(struct sync_store *s, bool tunnel, const uint8_t x25519[KEYS_X25519_BYTES],
                       uint64_t stamp)
{
	uint8_t kb[STAMP_KEY_MAX];
	MDB_val k = stamp_key(tunnel, x25519, kb), v;
	uint8_t b[8];
	MDB_txn *txn;
	int ret, rc;

	if ((ret = txn_begin(s, 0, &txn)) != 0)
		return ret;
	rc = mdb_get(txn, s->dbi[DB_STAMPS], &k, &v);
	if (rc == 0 && v.mv_size == 8 && rd_be64(v.mv_data) >= stamp) {
		ret = SYNC_EREPLAY;
		goto out;
	}
	if (rc != 0 && rc != MDB_NOTFOUND) {
		ret = lmdb_err(rc);
		goto out;
	}
	be64(b, stamp);
	v.mv_size = sizeof b;
	v.mv_data = b;
	if ((ret = lmdb_err(mdb_put(txn, s->dbi[DB_STAMPS], &k, &v, 0))) != 0)
		goto out;
	ret = txn_commit(txn);
	txn = NULL;
out:
	if (txn)
		mdb_txn_abort(txn);
	return ret;
}

int sync_store_hs_stamp(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                        uint64_t stamp)
{
	return stamp_check(s, false, x25519, stamp);
}

int sync_store_tunnel_stamp(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                            uint64_t stamp)
{
	return stamp_check(s, true, x25519, stamp);
}

/* --- path memory (careful resume) ----------------------------------------------------------- */

int sync_store_path_put(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                        const struct sync_path *p)
{
	MDB_val k = {.mv_size = KEYS_X25519_BYTES, .mv_data = (void *)x25519}, v;
	uint8_t b[PATH_VAL_LEN];
	MDB_txn *txn;
	int ret;

	if (!p->bps || p->min_rtt_us <= 0)
		return -EINVAL;
	be64(b, p->bps);
	be64(b + 8, (uint64_t)p->min_rtt_us);
	be64(b + 16, p->saved_ms);
	v.mv_size = sizeof b;
	v.mv_data = b;
	if ((ret = txn_begin(s, 0, &txn)) != 0)
		return ret;
	if ((ret = lmdb_err(mdb_put(txn, s->dbi[DB_PATHS], &k, &v, 0))) != 0) {
		mdb_txn_abort(txn);
		return ret;
	}
	return txn_commit(txn);
}

int sync_store_path_get(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                        struct sync_path *out)
{
	MDB_val k = {.mv_size = KEYS_X25519_BYTES, .mv_data = (void *)x25519}, v;
	MDB_txn *txn;
	int ret, rc;

	if ((ret = txn_begin(s, MDB_RDONLY, &txn)) != 0)
		return ret;
	rc = mdb_get(txn, s->dbi[DB_PATHS], &k, &v);
	if (rc == MDB_NOTFOUND)
		ret = SYNC_ENOTFOUND;
	else if (rc != 0)
		ret = lmdb_err(rc);
	else if (v.mv_size != PATH_VAL_LEN)
		ret = SYNC_ECORRUPT;
	else {
		const uint8_t *b = v.mv_data;

		out->bps = rd_be64(b);
		out->min_rtt_us = (int64_t)rd_be64(b + 8);
		out->saved_ms = rd_be64(b + 16);
		ret = out->bps && out->min_rtt_us > 0 ? 0 : SYNC_ECORRUPT;
	}
	mdb_txn_abort(txn);
	return ret;
}
