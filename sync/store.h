/* sync/store.h — the site's LMDB store: outbox, inbox, transfer state, allow-list.
 *
 * One LMDB environment per site (a directory), shared by the CLI and the daemon (LMDB supports
 * several processes; each process opens its own struct sync_store). Every write is one LMDB
 * write transaction with LMDB's default durability (fsync on commit; no MDB_NOSYNC), so a
 * function that returned 0 has its effect on disk, and a failed or interrupted one left
 * nothing.
 *
 * Records. A record is an envelope (sync/envelope.h): a signed header and chunk_count encrypted
 * chunks, stored exactly as they travel. Each record is either in the OUTBOX (this site made it:
 * cases at a clinic, replies at a hub) or in the INBOX (received). States:
 *
 *   outbox:  QUEUED -> SENDING (acked/count) -> DELIVERED -> ANSWERED (a reply to it arrived)
 *            QUEUED/SENDING -> REFUSED (the peer refused it for good, with its reason code:
 *            never offered again, never purged) -> QUEUED (the operator retries it)
 *   inbox:   RECEIVING (chunks arriving; invisible to inbox listings) -> RECEIVED -> ANSWERED
 *            (this site sent a reply to it)
 *
 * Layout on disk: <dir>/data.mdb + lock.mdb (LMDB), <dir>/spool/<id>.rec (the chunks of records
 * larger than 1 MiB, one fsync'd file each; smaller records keep their chunks in LMDB; why: see
 * sync/store.c), <dir>/control.sock (the daemon's poke socket, sync/notify.h). The struct
 * sync_store is not thread-safe: one per thread.
 *
 * Delivered outbox records are purged (chunks and header; the summary row too) after the
 * retention time (sync_store_purge). Refused outbox records and inbox records are kept.
 *
 * Hub: the last accepted Noise handshake timestamp of each peer key is kept too, one for
 * sync/xfer's handshake and one for the UDP tunnel's (replay protection of the first handshake
 * message across restarts; see sync_store_hs_stamp); (re-)enrolment resets both.
 *
 * Ownership: everything returned to the caller is a copy it owns unless said otherwise; data
 * read inside an LMDB transaction never escapes it.
 *
 * Error codes: ERR_BASE_SYNC - 0 .. - 99 (store, notify, site), - 100 .. - 199 (envelope,
 * sync/envelope.h). sync/xfer owns ERR_BASE_SYNC - 200 .. - 299.
 */
#ifndef PIROGUE_SYNC_STORE_H
#define PIROGUE_SYNC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/keys.h"
#include "sync/envelope.h"

#define SYNC_ENOTFOUND (ERR_BASE_SYNC - 1)  /* no such record / peer */
#define SYNC_ENOSPC    (ERR_BASE_SYNC - 2)  /* not enough free disk space for the record */
#define SYNC_EMAPFULL  (ERR_BASE_SYNC - 3)  /* LMDB map full and may not grow (map_max) */
#define SYNC_ESTATE    (ERR_BASE_SYNC - 4)  /* record in the wrong state for this operation */
#define SYNC_EORDER    (ERR_BASE_SYNC - 5)  /* chunk beyond the next expected one */
#define SYNC_EEXIST    (ERR_BASE_SYNC - 6)  /* already exists (peer name/key, record) */
#define SYNC_EREVOKED  (ERR_BASE_SYNC - 7)  /* peer is revoked */
#define SYNC_ECORRUPT  (ERR_BASE_SYNC - 8)  /* stored data inconsistent (should not happen) */
#define SYNC_ELMDB     (ERR_BASE_SYNC - 9)  /* other LMDB error (logged with its message) */
#define SYNC_EFILE     (ERR_BASE_SYNC - 10) /* an input file changed size while being read */
#define SYNC_EREFUSED  (ERR_BASE_SYNC - 11) /* record refused at finish (deleted; see log) */
#define SYNC_ECONFIG   (ERR_BASE_SYNC - 12) /* site config invalid (sync/site.h) */
#define SYNC_EREPLAY   (ERR_BASE_SYNC - 13) /* handshake timestamp not newer than the last one */

/* Free disk space kept in reserve beyond a record's own size when enqueueing (bytes); on a
 * filesystem smaller than 16 times this, 1/16 of its size. */
#define SYNC_STORE_DISK_RESERVE (4u * 1024 * 1024)

struct sync_store;

enum sync_dir { SYNC_OUTBOX = 1, SYNC_INBOX = 2 };

enum sync_state {
	SYNC_ST_QUEUED = 1,
	SYNC_ST_SENDING = 2,
	SYNC_ST_DELIVERED = 3,
	SYNC_ST_ANSWERED = 4,
	SYNC_ST_RECEIVING = 5,
	SYNC_ST_RECEIVED = 6,
	SYNC_ST_REFUSED = 7, /* outbox: the peer refused it for good (refused_code says why) */
};

/* One record's row, as listed. Plain data (a copy). */
struct sync_record_info {
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint8_t ref[SYNC_ENV_ID_BYTES]; /* case id for a reply, zeros otherwise */
	enum sync_dir dir;
	enum sync_env_kind kind;
	enum sync_env_priority priority;
	enum sync_state state;
	struct keys_pub peer; /* recipient (outbox) or sender (inbox) */
	uint64_t created_ms;  /* from the header */
	uint64_t changed_ms;  /* wall ms of the last state change */
	uint64_t plain_size;  /* container bytes */
	uint64_t wire_size;   /* header + all chunks */
	uint32_t chunk_count;
	uint32_t chunks_done;               /* outbox: acknowledged; inbox: persisted */
	uint32_t reply_count;               /* replies linked to this record (both directions) */
	char title[SYNC_ENV_TITLE_MAX + 1]; /* "" for a RECEIVING record (not decrypted yet) */
	int32_t refused_code; /* REFUSED: the peer's reason (sync_refusal_reason); 0 otherwise */
};

/* --- lifecycle ------------------------------------------------------------------------------ */

/* Opens (creating if needed, mode 0700) the store in directory `dir`.
 *   map_size  initial LMDB map size in bytes (0 = 64 MiB); rounded up to the page size
 *   map_max   the map may grow up to this on demand (0 = map_size: never grows)
 * Errors: -errno (directory), SYNC_ELMDB, -ENOMEM. If the map was grown by another process
 * it is adopted transparently. */
int sync_store_open(struct sync_store **out, const char *dir, uint64_t map_size, uint64_t map_max)
        __attribute__((warn_unused_result));
void sync_store_close(struct sync_store *s); /* NULL is fine */
/* The directory the store was opened on (valid until close). */
const char *sync_store_dir(const struct sync_store *s);

/* --- enqueue (sender side: `case add`, `reply`) --------------------------------------------- */

/* A part to enqueue: read from a file path, or from memory if path is NULL. */
struct sync_part_src {
	const char *name; /* part name (sync_env_name_ok); NULL = basename of path */
	const char *type; /* content type, NULL = "application/octet-stream" */
	const char *path; /* file to read, or NULL */
	const void *data; /* if path == NULL: size bytes in memory */
	uint64_t size;    /* if path == NULL */
};

struct sync_enqueue {
	enum sync_env_kind kind;
	enum sync_env_priority priority;
	const uint8_t *ref; /* SYNC_ENV_REPLY: the inbox case id it answers; NULL for a case */
	const char *title;  /* may be "" */
	const char *note;   /* may be NULL */
	const struct sync_part_src *parts;
	size_t part_count;
	uint32_t chunk_size; /* 0 = SYNC_ENV_CHUNK_DEFAULT */
};

/* Encrypts (sync/envelope) and queues one record in ONE durable write transaction: header,
 * every chunk, the summary row and the queue entry commit together or not at all.
 * Before writing, checks the free space of the store's filesystem (statvfs) against the
 * record's size + the reserve (SYNC_STORE_DISK_RESERVE) and refuses with SYNC_ENOSPC if it would
 * not fit; grows the LMDB map (doubling, up to map_max) when the record would not fit in it, and if
 * LMDB still reports the map full, aborts and returns SYNC_EMAPFULL. In every error case the
 * store is unchanged. For a reply, the referenced inbox record becomes ANSWERED in the same
 * transaction (SYNC_ENOTFOUND if there is no such inbox record; the recipient is then that
 * record's sender and `to` may be NULL).
 * On success writes the new id to id_out. Errors: -errno (reading a part file), SYNC_EFILE,
 * SYNC_ENOSPC, SYNC_EMAPFULL, SYNC_ENOTFOUND, envelope errors (bad names), SYNC_ELMDB,
 * -ENOMEM. Callers should then sync_notify_send() so a running daemon starts at once. */
int sync_store_enqueue(struct sync_store *s, const struct keys *self, const struct keys_pub *to,
                       const struct sync_enqueue *req, uint8_t id_out[SYNC_ENV_ID_BYTES])
        __attribute__((warn_unused_result));

/* --- sender API (daemon) -------------------------------------------------------------------- */

/* One pending outbox record (QUEUED or SENDING). */
struct sync_out_item {
	uint8_t id[SYNC_ENV_ID_BYTES];
	enum sync_env_priority priority;
	struct keys_pub to;
	uint32_t chunk_count;
	uint32_t acked; /* chunks the receiver confirmed persisted */
	size_t header_len;
	uint64_t wire_size;
};

/* Lists pending outbox records for recipient `to` (NULL = any), most urgent first (urgent >
 * normal > bulk), then oldest first. Fills at most `max` items and sets *n. Errors: SYNC_ELMDB. */
int sync_store_out_pending(struct sync_store *s, const struct keys_pub *to,
                           struct sync_out_item *items, size_t max, size_t *n)
        __attribute__((warn_unused_result));

/* Copies the signed header of an outbox record into a malloc'd buffer (*out, *len; caller
 * frees). Errors: SYNC_ENOTFOUND, -ENOMEM. */
int sync_store_out_header(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint8_t **out,
                          size_t *len) __attribute__((warn_unused_result));

/* Copies encrypted chunk `index` of an outbox record into buf (cap >= the chunk's length;
 * SYNC_ENV_CHUNK_WIRE_MAX always suffices) and sets *len. Errors: SYNC_ENOTFOUND, -ENOBUFS. */
int sync_store_out_chunk(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint32_t index,
                         uint8_t *buf, size_t cap, size_t *len) __attribute__((warn_unused_result));

/* Records that the receiver has persisted chunks [0, acked): state becomes SENDING, progress
 * acked/count. Monotonic (a smaller value is ignored). One durable txn: call it per window of
 * chunks, not necessarily per chunk. Errors: SYNC_ENOTFOUND, SYNC_ESTATE (already delivered is
 * NOT an error: returns 0), -EINVAL (acked > count). */
int sync_store_out_ack(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint32_t acked)
        __attribute__((warn_unused_result));

/* Marks an outbox record DELIVERED (the receiver finished it) and removes it from the queue;
 * idempotent. Its chunks are kept until the retention purge. Errors: SYNC_ENOTFOUND. */
int sync_store_out_delivered(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES])
        __attribute__((warn_unused_result));

/* Records that the peer refused an outbox record for good (DELIVERED rejected, or RESUME
 * refused with a reason): state REFUSED with the peer's reason code (a SYNC_* / SYNC_ENV_* code,
 * e.g. SYNC_ENV_ESIG), out of the queue (sync_store_out_pending no longer lists it, so it is
 * not offered again) and NOT in the retention index (sync_store_purge never removes it: it
 * stays visible until the operator retries it). From QUEUED or SENDING; on a REFUSED record
 * the code is updated; on a DELIVERED/ANSWERED one nothing changes and 0 is returned (the peer
 * has it). One durable txn. Errors: SYNC_ENOTFOUND (no such outbox record). */
int sync_store_out_refused(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], int32_t code)
        __attribute__((warn_unused_result));

/* Puts a REFUSED outbox record back in the queue (`pirogue case retry`): state QUEUED, progress
 * 0 (the receiver kept nothing of it), same priority and place in line as when it was added.
 * One durable txn. Errors: SYNC_ENOTFOUND, SYNC_ESTATE (not REFUSED). */
int sync_store_out_retry(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES])
        __attribute__((warn_unused_result));

/* Short text for a refusal code ("signature bad", "not for the peer", "chunk hash bad"...);
 * sync_strerror(code) gives the long one. Static string. */
const char *sync_refusal_reason(int32_t code);

/* --- receiver API (daemon) ------------------------------------------------------------------ */

struct sync_recv_status {
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint32_t chunk_count;
	uint32_t next; /* next chunk the receiver needs (= chunks persisted, in order) */
	bool done;     /* already finished (in the inbox): tell the sender it is delivered */
};

/* Begins (or resumes) an incoming record from its header bytes: parses and verifies the header
 * (sync_env_header_parse), checks that it is addressed to `self` and signed by `peer` (the key
 * the Noise session authenticated; NULL skips that check, for tests/tools), and, if new,
 * stores the header in a durable txn as RECEIVING. If the record is already known, nothing
 * changes and *st says where to resume (or done). Errors: envelope errors (SYNC_ENV_*),
 * SYNC_ENV_ESENDER, SYNC_ENV_ERECIPIENT, SYNC_ENOSPC (disk cannot hold the record),
 * SYNC_EMAPFULL, SYNC_EEXIST (same id but a different header: refused), SYNC_ELMDB. */
int sync_store_recv_begin(struct sync_store *s, const uint8_t *header, size_t len,
                          const struct keys_pub *peer, const struct keys_pub *self,
                          struct sync_recv_status *st) __attribute__((warn_unused_result));

/* Persists chunk `index` of a RECEIVING record durably, after checking it against its signed
 * hash (sync_env_chunk_check). Chunks are accepted in order: index < next is a duplicate and
 * returns 0 without writing (idempotent, at-least-once wire); index == next is stored;
 * index > next is SYNC_EORDER. *next (may be NULL) gets the next needed index. Acknowledge to
 * the sender only after this returned 0: the chunk is then durable (an LMDB commit for small
 * records; for spooled ones, the spool file's fdatasync, with the row's offset brought up to date
 * every 64 chunks and recovered by re-checking the file's chunks after a restart, so one sync per
 * chunk instead of three). Errors: SYNC_ENOTFOUND (no begin), SYNC_ESTATE
 * (already finished: duplicate, harmless), chunk_check errors, SYNC_EMAPFULL, SYNC_ELMDB. */
int sync_store_recv_chunk(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint32_t index,
                          const uint8_t *ct, size_t len, uint32_t *next)
        __attribute__((warn_unused_result));

/* Same as n calls of sync_store_recv_chunk for consecutive indexes first..first+n-1, in ONE
 * durable transaction (fewer fsyncs). On error, nothing of the batch counts for a small
 * (inline) record; for a spooled one the valid chunks before the failing one may have been
 * persisted and count (sync_store_recv_status tells the next one needed). */
int sync_store_recv_chunks(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                           uint32_t first, size_t n, const uint8_t *const *cts, const size_t *lens,
                           uint32_t *next) __attribute__((warn_unused_result));

/* Where to resume: fills *st for a known record. Errors: SYNC_ENOTFOUND. */
int sync_store_recv_status(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                           struct sync_recv_status *st) __attribute__((warn_unused_result));

/* Finishes an incoming record once all chunks are persisted: verifies the WHOLE envelope with
 * `self`'s secret key (every chunk re-hashed and decrypted, FINAL tag, container table and
 * sizes exact) — this reads the whole record, ~1 s per GB — then, in one txn, makes it
 * RECEIVED (visible in the inbox, with its summary) and, for a reply, marks the referenced
 * outbox case ANSWERED. Exactly-once: finishing an already finished record returns 0 and
 * changes nothing (*fresh, may be NULL, tells whether this call made it visible).
 * On verification failure the record (header and chunks) is deleted and SYNC_EREFUSED is
 * returned; *reason (may be NULL) gets the envelope error (SYNC_ENV_*) that refused it.
 * Errors: SYNC_ENOTFOUND, SYNC_ESTATE (chunks missing), SYNC_EREFUSED, SYNC_ELMDB. */
int sync_store_recv_finish(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                           const struct keys *self, bool *fresh, int *reason)
        __attribute__((warn_unused_result));

/* Deletes a RECEIVING inbox record (header and the chunks persisted so far) that this side
 * refused for good mid-transfer (a chunk failed its signed hash): nothing of it stays. A
 * finished (RECEIVED/ANSWERED) record is never deleted. Errors: SYNC_ENOTFOUND, SYNC_ESTATE
 * (finished), SYNC_ELMDB. */
int sync_store_recv_abort(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES])
        __attribute__((warn_unused_result));

/* --- handshake replay protection (hub) ------------------------------------------------------ */

/* The first Noise IK message carries the initiator's strictly increasing timestamp; a replayed
 * message carries an old one. In one durable txn: if `stamp` is greater than the last one
 * accepted for this peer key (none: 0), records it and returns 0; otherwise changes nothing
 * and returns SYNC_EREPLAY. Errors: SYNC_EREPLAY, SYNC_EMAPFULL, SYNC_ELMDB. */
int sync_store_hs_stamp(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                        uint64_t stamp) __attribute__((warn_unused_result));
/* The same for the UDP tunnel's initiations (relay/tunnel.h, stamp hook), kept apart from the
 * above: another sequence (per tunnel, not per sync engine) in another unit (ns, not us). */
int sync_store_tunnel_stamp(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                            uint64_t stamp) __attribute__((warn_unused_result));

/* --- path memory (careful resume, relay/stream.h) ------------------------------------------- */

/* What the sync stream last measured towards a peer: its bottleneck rate and min RTT, and when
 * it was saved (wall clock ms). Kept per peer X25519 key, one record, replaced at each save;
 * losing one only costs the next session a cold start, so it is never part of a record's
 * transaction. */
struct sync_path {
	uint64_t bps;
	int64_t min_rtt_us;
	uint64_t saved_ms;
};
/* One durable write txn. Errors: -EINVAL (bps 0 or RTT <= 0), SYNC_EMAPFULL, SYNC_ELMDB. */
int sync_store_path_put(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                        const struct sync_path *p) __attribute__((warn_unused_result));
/* 0 and *out, SYNC_ENOTFOUND (none saved), SYNC_ECORRUPT (a stored value that cannot be one:
 * ignored by the caller, replaced at the next save), SYNC_ELMDB. */
int sync_store_path_get(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                        struct sync_path *out) __attribute__((warn_unused_result));

/* --- queries (CLI) -------------------------------------------------------------------------- */

/* Lists records of one direction, newest first. RECEIVING records are left out unless
 * include_partial. On success *out is a malloc'd array of *n rows (caller frees). */
int sync_store_list(struct sync_store *s, enum sync_dir dir, bool include_partial,
                    struct sync_record_info **out, size_t *n) __attribute__((warn_unused_result));

/* One record's row. Errors: SYNC_ENOTFOUND. */
int sync_store_get(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                   struct sync_record_info *out) __attribute__((warn_unused_result));

/* The record's plaintext summary (title, note, part table) kept by this site: written at
 * enqueue for the outbox and at finish for the inbox. *out: sync_env_content_free().
 * Errors: SYNC_ENOTFOUND (or not yet finished). */
int sync_store_summary(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                       struct sync_env_content **out) __attribute__((warn_unused_result));

/* Ids of the records whose ref is `id` (replies to a case), oldest first. *out malloc'd array
 * of *n ids (SYNC_ENV_ID_BYTES each; caller frees). */
int sync_store_replies(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES], uint8_t **out,
                       size_t *n) __attribute__((warn_unused_result));

/* Resolves a record id given as 32 hex digits or a unique prefix of >= 8 hex digits.
 * Errors: SYNC_ENOTFOUND, SYNC_EEXIST (ambiguous prefix), -EINVAL (not hex). */
int sync_store_find(struct sync_store *s, const char *hex_or_prefix, uint8_t id[SYNC_ENV_ID_BYTES])
        __attribute__((warn_unused_result));

/* Decrypts an INBOX record (RECEIVED/ANSWERED) with `self` and writes its note (as note.txt,
 * if non-empty) and every part under its own name into directory `dir` (created if missing).
 * Files are created exclusively (never overwritten: -EEXIST), written, fsync'd. If anything
 * fails, the files this call created are removed. Errors: SYNC_ENOTFOUND, SYNC_ESTATE,
 * envelope errors, -errno. */
int sync_store_export(struct sync_store *s, const uint8_t id[SYNC_ENV_ID_BYTES],
                      const struct keys *self, const char *dir) __attribute__((warn_unused_result));

/* --- retention ------------------------------------------------------------------------------ */

/* Deletes outbox records DELIVERED or ANSWERED for longer than retention_ms (before now_ms),
 * with their chunks (REFUSED, QUEUED and SENDING records are never purged). *purged (may be
 * NULL) gets how many. One txn. Errors: SYNC_ELMDB. */
int sync_store_purge(struct sync_store *s, uint64_t now_ms, uint64_t retention_ms, size_t *purged)
        __attribute__((warn_unused_result));

/* --- allow-list of enrolled peers (hub) ----------------------------------------------------- */

#define SYNC_PEER_NAME_MAX 64 /* [A-Za-z0-9_.-], 1..64 characters */

struct sync_peer {
	char name[SYNC_PEER_NAME_MAX + 1];
	struct keys_pub pub;
	bool revoked;
	uint64_t enrolled_ms;
	uint64_t revoked_ms;
};

/* Enrolls a peer, or re-enrolls it (same name and key, revoked or not: un-revokes it). Either
 * way the key's handshake timestamps are forgotten (sync_store_hs_stamp, _tunnel_stamp), so a
 * clinic whose clock went back is admitted again. Errors: -EINVAL (bad name), SYNC_EEXIST (the
 * name is enrolled with another key, or the key under another name). */
int sync_store_peer_enroll(struct sync_store *s, const char *name, const struct keys_pub *pub)
        __attribute__((warn_unused_result));
/* Revokes by name (kept in the list, flagged). Errors: SYNC_ENOTFOUND. Idempotent. */
int sync_store_peer_revoke(struct sync_store *s, const char *name)
        __attribute__((warn_unused_result));
/* Looks a peer up by its X25519 public key (what the Noise handshake reveals): one read txn, no
 * cache, so enroll/revoke by another process count at the next handshake. Returns 0 and fills
 * *out (may be NULL) if enrolled and not revoked; SYNC_EREVOKED (out filled) if revoked;
 * SYNC_ENOTFOUND if unknown. */
int sync_store_peer_check(struct sync_store *s, const uint8_t x25519[KEYS_X25519_BYTES],
                          struct sync_peer *out) __attribute__((warn_unused_result));
/* All peers in name order: *out malloc'd array of *n. */
int sync_store_peer_list(struct sync_store *s, struct sync_peer **out, size_t *n)
        __attribute__((warn_unused_result));

/* --- names ---------------------------------------------------------------------------------- */

const char *sync_state_name(enum sync_state st); /* "queued", "sending", ... */
/* Messages for every code of sync/ this side owns (store, envelope) and negated errnos. */
const char *sync_strerror(int err);

#endif
