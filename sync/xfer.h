/* sync/xfer.h — the resumable, prioritised record transfer between a clinic and its hub.
 *
 * One struct sync_xfer per daemon, on the daemon's event_base. The clinic connects to one hub
 * (TCP, Noise IK as initiator with the hub's pinned static key); the hub listens and accepts
 * many clinics (Noise IK responder). The hub reads IK message 1, learns the clinic's static key
 * and asks ops->peer_allowed() BEFORE it allocates any per-peer state: an unknown or revoked
 * key gets the connection closed and nothing stored. After the handshake both sides are
 * symmetric: each pushes its own outbox (cases clinic→hub, replies hub→clinic) and receives
 * the other's, with the messages of sync/frame.h.
 *
 * A record, to this module, is an opaque byte string of `total` bytes (the store decides what
 * it is: for Pirogue the envelope header followed by its encrypted chunks) plus up to
 * SYNC_FRAME_META_MAX bytes of `meta` sent in the OFFER. The protocol per record:
 *
 *   sender OFFER(id, prio, total, meta) → receiver RESUME(FROM offset | HAVE | REFUSE)
 *   (a `fresh` record's chunks follow the OFFER at once, without waiting for RESUME)
 *   sender CHUNK(offset, bytes)...      → receiver persists, then ACK(durable offset)
 *   sender DONE(total)                  → receiver verifies and imports: DELIVERED(ok|rejected)
 *
 * Refusals. RESUME REFUSE with offset 0 declines a record for now (e.g. too many records in
 * progress): it is offered again later. RESUME REFUSE with a non-zero offset refuses it for good:
 * the offset is the reason code, negated (code = -offset, e.g. SYNC_ENV_EHEADER). The receiver
 * also refuses for good by DELIVERED(rejected, code), either after DONE (the whole record
 * failed verification) or at any point after its RESUME (the header or a chunk failed: it
 * drops the rest of the record's chunks and its DONE). A record refused for good is reported to
 * the sender's store (out_delivered with SYNC_DELIVERED_REJECTED), which must not offer it again
 * (sync/xfer_store: state REFUSED, shown to the operator, who may re-queue it).
 *
 * The receiver's ops->in_write() says how far the record is durable; ACK carries that offset,
 * and after any interruption (link loss, kill -9 of either side) the sender resumes from the
 * offset the receiver reports in RESUME, so at most the bytes the receiver had not yet made
 * durable (less than one store chunk) travel again. Delivery into the inbox is exactly-once as
 * long as in_begin() answers HAVE for an already imported id.
 *
 * Scheduling: chunks of all accepted records interleave; the next chunk always comes from the
 * most urgent record (lowest prio value) with bytes left, FIFO within a priority. At most
 * `window` bytes are sent and not yet acknowledged per connection (enough for the link's
 * bandwidth-delay product plus margin; more only adds queueing in front of urgent records).
 *
 * Links: keepalives every keepalive_ms, the connection is dropped when nothing arrives for
 * dead_ms; the clinic reconnects with capped exponential backoff plus jitter (delay drawn
 * uniformly in [d/2, d], d = min(backoff_max, backoff_min * 2^attempt)). TCP_CONGESTION is set
 * to `congestion` when the kernel has it, otherwise the default stays (logged once). The
 * sending rate can be capped at run time (sync_xfer_set_rate, libevent rate-limit group).
 * Instead of TCP, the connections can run over a transport given in the config (struct
 * sync_xfer_transport below: the clinic asks it for a bufferevent, the hub is handed them).
 */
#ifndef PIROGUE_SYNC_XFER_H
#define PIROGUE_SYNC_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "common/err.h"
#include "common/keys.h"
#include "sync/frame.h"

#define SYNC_XFER_ID_BYTES       SYNC_FRAME_ID_BYTES
#define SYNC_XFER_KEY_BYTES      32 /* peers are named by their X25519 static public key */
#define SYNC_XFER_CHUNK_DEFAULT  16384
#define SYNC_XFER_WINDOW_DEFAULT (512 * 1024)
#define SYNC_XFER_PENDING_MAX    64 /* records offered per connection at a time */

#define SYNC_XFER_EPROTO  (ERR_BASE_SYNC - 250) /* peer broke the protocol */
#define SYNC_XFER_EDENIED (ERR_BASE_SYNC - 251) /* peer not on the allow-list */
#define SYNC_XFER_EADDR   (ERR_BASE_SYNC - 252) /* address does not parse / resolve */

enum sync_xfer_role { SYNC_XFER_CLINIC = 1, SYNC_XFER_HUB = 2 };

/* What the sender offers: one outgoing record. meta points into storage owned by the ops
 * implementation that must stay valid until the next out_pending call. */
struct sync_xfer_rec {
	uint8_t id[SYNC_XFER_ID_BYTES];
	uint8_t prio; /* 0 most urgent */
	uint8_t kind;
	/* Nothing of the record can have reached the receiver yet (never acknowledged): its
	 * chunks may be sent right after the OFFER, before RESUME (one round trip saved). If the
	 * receiver does have bytes after all, it drops them (counted as duplicates). */
	uint8_t fresh;
	uint64_t total;
	uint16_t meta_len;
	uint8_t meta[SYNC_FRAME_META_MAX];
};

/* Events reported to ops->on_event (for progress display and status). */
enum sync_xfer_event {
	SYNC_XFER_EV_CONNECTED,     /* session established with peer */
	SYNC_XFER_EV_DISCONNECTED,  /* session ended (a = SYNC error or 0) */
	SYNC_XFER_EV_REFUSED,       /* hub: peer key not allowed, connection closed */
	SYNC_XFER_EV_SEND_PROGRESS, /* a = acked bytes, b = total */
	SYNC_XFER_EV_SENT,          /* record delivered to peer (a = DELIVERED status, b = code) */
	SYNC_XFER_EV_RECV_PROGRESS, /* a = durable bytes, b = total */
	SYNC_XFER_EV_RECEIVED,      /* record imported (a = 0) or rejected (a = 1, b = code) */
};

/* The storage side, implemented by the daemon over sync/store (or by tests in memory). Every
 * function gets `arg` (ops_arg given to sync_xfer_new) and the peer's X25519 public key.
 * Functions returning int return 0 (or the documented non-negative value) on success and a
 * negative error otherwise; an error closes that connection (it is retried later), it never
 * changes what is durable. */
struct sync_xfer_ops {
	/* 0 if the peer may connect, SYNC_XFER_EDENIED (or any negative) if not. Hub only. */
	int (*peer_allowed)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES]);
	/* Fills up to max outgoing records not yet delivered to peer, most urgent first, and
	 * returns how many, or a negative error. */
	int (*out_pending)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                   struct sync_xfer_rec *recs, size_t max);
	/* Copies len bytes of record id at offset into buf (the range is inside the record). */
	int (*out_read)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t offset, uint8_t *buf,
	                size_t len);
	/* The receiver has `acked` of `total` bytes durable (may be NULL). */
	void (*out_progress)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                     const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t acked, uint64_t total);
	/* The peer has the record: status SYNC_DELIVERED_OK, or SYNC_DELIVERED_REJECTED with the
	 * receiver's error code. The record must no longer be returned by out_pending. */
	int (*out_delivered)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                     const uint8_t id[SYNC_XFER_ID_BYTES], int status, int32_t code);
	/* An offer arrived. Returns SYNC_RESUME_FROM with *offset = bytes already durable,
	 * SYNC_RESUME_HAVE if the id was already imported, SYNC_RESUME_REFUSE to decline it
	 * (*offset left 0: for now, offered again later; *offset = -code > 0: refused for good
	 * with that reason code), or a negative error. */
	int (*in_begin)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                const struct sync_xfer_rec *rec, uint64_t *offset);
	/* Bytes [offset, offset+len) of the record, in order: the first call of a session starts
	 * at the offset in_begin returned, each next call continues where the previous ended.
	 * Returns 0 with *durable = the new durable offset (>= offset; may lag behind
	 * offset+len when the store persists whole chunks only: the rest is held in memory and
	 * given again on resume), a positive value R to refuse the record for good (the header or
	 * a chunk failed verification: the receiver forgets the record, reports DELIVERED
	 * rejected with code -R to the sender and drops the rest of it), or a negative error
	 * (transient: the connection is closed and the record restarts from the durable
	 * offset). */
	int (*in_write)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t offset, const uint8_t *data,
	                size_t len, uint64_t *durable);
	/* All `total` bytes are durable: verify and import. Returns 0 (imported, or was already),
	 * a positive value with *code set to refuse the record for good (reported to the sender
	 * as REJECTED), or a negative error (transient). */
	int (*in_finish)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
	                 const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t total, int32_t *code);
	/* Called after something happened (may be NULL). */
	void (*on_event)(void *arg, enum sync_xfer_event ev,
	                 const uint8_t peer[SYNC_XFER_KEY_BYTES], const uint8_t *id, int64_t a,
	                 int64_t b);
	/* Hub, may be NULL (then the replay check below is in memory only, lost at restart).
	 * IK message 1 of an allowed peer carries its timestamp `stamp`: returns 0 if it is newer
	 * than the last one accepted for that peer and is now recorded durably, 1 if it is not
	 * (a replay: the handshake is refused), or a negative error (the store cannot say: the
	 * in-memory check alone decides, and it is logged). */
	int (*hs_stamp)(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES], uint64_t stamp);
};

/* Another transport than TCP for the connections (e.g. sync/tunlink: a reliable stream inside
 * the encrypted UDP tunnel). Everything above the byte stream is unchanged: the Noise IK
 * handshake, the allow-list check before per-peer state, resume, priorities, keepalives and
 * dead-link detection, reconnect with backoff. A connection is a struct bufferevent the transport
 * hands over (xfer owns it from then on); the transport ends a connection by sending EOF
 * (bufferevent_flush(..., BEV_FINISHED) on a bufferevent_pair) and xfer ends one the same way
 * before it frees its end. */
struct bufferevent;
struct sync_xfer_transport {
	/* Clinic: a new connection to the hub in *out, usable at once. 0, or a negative error
	 * (e.g. -ENOTCONN: the link is not up; retried after the backoff). */
	int (*connect)(void *arg, struct bufferevent **out);
	/* Caps what this side sends to bytes_per_s (0 = none), on every current and future
	 * connection (sync_xfer_set_rate; the libevent rate-limit group is not used then). */
	void (*set_rate)(void *arg, uint64_t bytes_per_s);
	void *arg;
};

struct sync_xfer_config {
	enum sync_xfer_role role;
	/* NULL: TCP (connect_addr / listen_addr). Else (copied): the clinic connects through
	 * transport->connect and needs no connect_addr; a hub gets its connections through
	 * sync_xfer_accept and listens on TCP too only if listen_addr is set. */
	const struct sync_xfer_transport *transport;
	const struct keys *self;     /* our keys (borrowed; must outlive the xfer) */
	struct keys_pub hub;         /* clinic: the pinned hub key */
	const char *connect_addr;    /* clinic: "host:port" of the hub */
	const char *listen_addr;     /* hub: "ip:port" to listen on (port 0: any) */
	uint32_t chunk;              /* bytes per CHUNK (0: SYNC_XFER_CHUNK_DEFAULT) */
	uint32_t window;             /* unacknowledged bytes per connection (0: default) */
	uint32_t keepalive_ms;       /* 0: 5000 */
	uint32_t dead_ms;            /* 0: 20000 */
	uint32_t connect_timeout_ms; /* 0: 10000 */
	uint32_t backoff_min_ms;     /* 0: 500 */
	uint32_t backoff_max_ms;     /* 0: 30000 */
	uint64_t rate_bytes_per_s;   /* 0: uncapped */
	const char *congestion;      /* e.g. "bbr"; NULL or "" leaves the kernel default */
};

/* Counters since sync_xfer_new (all directions summed over every connection). */
struct sync_xfer_stats {
	uint64_t bytes_sent;   /* CHUNK payload bytes written */
	uint64_t bytes_resent; /* of those, bytes below what this process sent before */
	uint64_t chunks_resent;
	uint64_t bytes_received;     /* CHUNK payload bytes read */
	uint64_t dup_bytes_received; /* bytes the receiver already had durable (re-sent) */
	uint64_t dup_chunks_received;
	uint64_t records_sent;     /* delivered to the peer (DELIVERED ok, or RESUME HAVE) */
	uint64_t records_received; /* imported here */
	uint64_t records_rejected; /* refused here for good (verification failed) */
	uint64_t connects;         /* sessions established */
	uint64_t disconnects;
	uint64_t refused;          /* hub: handshakes from keys not allowed */
	uint32_t peers;            /* sessions up now */
	uint64_t rate_bytes_per_s; /* current cap, 0 = none */
	uint64_t records_refused;  /* ours the peer refused for good (not offered again) */
	uint64_t offers_sent;      /* OFFER messages sent */
	uint64_t offers_received;  /* OFFER messages received */
	uint64_t replays;          /* hub: handshakes refused as replayed or stale (timestamp) */
};

struct sync_xfer;

/* Creates the transfer engine on base and starts it: the clinic begins connecting, the hub
 * listens. cfg is copied (strings too); ops is copied; ops_arg is passed to every op.
 * Errors: -EINVAL (missing op or address for the role), SYNC_XFER_EADDR, -errno from
 * socket/bind/listen, -ENOMEM. *out is set only on success. */
int sync_xfer_new(struct sync_xfer **out, struct event_base *base,
                  const struct sync_xfer_config *cfg, const struct sync_xfer_ops *ops,
                  void *ops_arg) __attribute__((warn_unused_result));

/* Hub: a connection arrived through the transport (see struct sync_xfer_transport); xfer owns
 * bev from now on (freed also on error). It is handled exactly like an accepted TCP connection.
 * Errors: -EINVAL (not a hub), -EBUSY (too many connections not yet authenticated), -ENOMEM. */
int sync_xfer_accept(struct sync_xfer *x, struct bufferevent *bev);

/* Closes every connection and frees; NULL is fine. Nothing durable is touched. */
void sync_xfer_free(struct sync_xfer *x);

/* New outgoing work may exist: every live session asks out_pending again and offers what is
 * new; a clinic that is waiting to reconnect tries at once (backoff reset). */
void sync_xfer_kick(struct sync_xfer *x);

/* Asks every live session's peer to cap what it sends us to bytes_per_s (0: lift the cap): a
 * RATE message. The peer applies it to that session (over TCP, a libevent rate limit on the
 * connection; over a transport, the transport's cap, see set_rate) until it ends or a new
 * RATE. Returns 0 or the first error (that session is closed). */
int sync_xfer_ask_rate(struct sync_xfer *x, uint64_t bytes_per_s);

/* Asks peer_allowed again for every live session and closes those now refused (after a
 * reload of the allow-list). */
void sync_xfer_recheck_peers(struct sync_xfer *x);

/* Caps the bytes per second this side sends (0 = no cap), effective at once on every
 * connection. Errors: -ENOMEM. */
int sync_xfer_set_rate(struct sync_xfer *x, uint64_t bytes_per_s)
        __attribute__((warn_unused_result));

/* The TCP port the hub listens on (useful with port 0), 0 if not listening. */
uint16_t sync_xfer_listen_port(const struct sync_xfer *x);

/* Copies the counters. */
void sync_xfer_stats_get(const struct sync_xfer *x, struct sync_xfer_stats *out);

/* Message for SYNC_XFER_E* and SYNC_FRAME_E* codes and negated errnos. */
const char *sync_xfer_strerror(int err);

#endif
