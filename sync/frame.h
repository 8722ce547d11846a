/* sync/frame.h — the sync protocol's message format (what travels inside the Noise session).
 *
 * On the TCP stream every unit is a "wire record": a 2-byte big-endian length L followed by L
 * bytes, where the bytes are a Noise handshake message (the first two records of a session) or
 * a Noise transport message (everything after). L is at most SYNC_FRAME_WIRE_MAX (the Noise
 * message limit). The plaintext of each transport message is exactly one sync message:
 *
 *     version u8 (= SYNC_FRAME_VERSION) | type u8 | body (type-specific, below)
 *
 * All integers are big-endian. Record ids are SYNC_FRAME_ID_BYTES opaque bytes.
 *
 *   HELLO      role u8 | flags u8 | max_chunk u32 | window u32
 *   OFFER      id | prio u8 | kind u8 | total u64 | chunk_size u32 | meta_len u16 | meta
 *   RESUME     id | status u8 | offset u64          (receiver → sender: persisted prefix)
 *   CHUNK      id | offset u64 | data (rest of the message, 1..SYNC_FRAME_CHUNK_MAX bytes)
 *   ACK        id | offset u64                      (everything below offset is durable)
 *   DONE       id | total u64                       (sender: every byte has been sent)
 *   DELIVERED  id | status u8 | code i32            (receiver: verified and stored / refused)
 *   KEEPALIVE  stamp u64 | echo u64                 (sender's clock; echo of the peer's stamp)
 *   RATE       bytes_per_s u64                      (peer asks this side to cap its sending)
 *   ERROR      code i32 | msg_len u16 | msg         (fatal; the session is closed after it)
 *
 * A message with a longer body than its type defines is malformed (no trailing garbage), as is
 * an unknown version or type, an offset past 2^62, a chunk of 0 bytes, a meta longer than
 * SYNC_FRAME_META_MAX. The decoder never reads outside the given view and never allocates.
 */
#ifndef PIROGUE_SYNC_FRAME_H
#define PIROGUE_SYNC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SYNC_FRAME_VERSION  1
#define SYNC_FRAME_ID_BYTES 16
/* Largest wire record payload (a Noise message, RFC-style 65535-byte limit). */
#define SYNC_FRAME_WIRE_MAX 65535
/* Noise transport overhead: the AEAD tag. */
#define SYNC_FRAME_TAG_BYTES 16
/* Largest plaintext sync message. */
#define SYNC_FRAME_MSG_MAX (SYNC_FRAME_WIRE_MAX - SYNC_FRAME_TAG_BYTES)
/* CHUNK header: version, type, id, offset. */
#define SYNC_FRAME_CHUNK_HDR (2 + SYNC_FRAME_ID_BYTES + 8)
/* Largest chunk payload one CHUNK message can carry. */
#define SYNC_FRAME_CHUNK_MAX  (SYNC_FRAME_MSG_MAX - SYNC_FRAME_CHUNK_HDR)
#define SYNC_FRAME_META_MAX   4096
#define SYNC_FRAME_ERRMSG_MAX 256
#define SYNC_FRAME_OFFSET_MAX (UINT64_C(1) << 62)

#define SYNC_FRAME_EMALFORMED (ERR_BASE_SYNC - 200) /* truncated, too long or bad field */
#define SYNC_FRAME_EVERSION   (ERR_BASE_SYNC - 201) /* unknown protocol version */
#define SYNC_FRAME_ETYPE      (ERR_BASE_SYNC - 202) /* unknown message type */
#define SYNC_FRAME_ENOSPACE   (ERR_BASE_SYNC - 203) /* encode buffer too small */

enum sync_frame_type {
	SYNC_MSG_HELLO = 1,
	SYNC_MSG_OFFER = 2,
	SYNC_MSG_RESUME = 3,
	SYNC_MSG_CHUNK = 4,
	SYNC_MSG_ACK = 5,
	SYNC_MSG_DONE = 6,
	SYNC_MSG_DELIVERED = 7,
	SYNC_MSG_KEEPALIVE = 8,
	SYNC_MSG_RATE = 9,
	SYNC_MSG_ERROR = 10,
};

/* RESUME status: what the receiver already has for the offered record. */
enum sync_resume_status {
	SYNC_RESUME_FROM = 0,   /* send from `offset` on */
	SYNC_RESUME_HAVE = 1,   /* already delivered: nothing to send, treat as delivered */
	SYNC_RESUME_REFUSE = 2, /* will not take it (e.g. too large, not for this site) */
};

/* DELIVERED status. */
enum sync_delivered_status {
	SYNC_DELIVERED_OK = 0,
	SYNC_DELIVERED_REJECTED = 1, /* failed verification; `code` says why */
};

struct sync_frame_hello {
	uint8_t role; /* 1 clinic, 2 hub */
	uint8_t flags;
	uint32_t max_chunk;
	uint32_t window;
};

struct sync_frame_offer {
	uint8_t id[SYNC_FRAME_ID_BYTES];
	uint8_t prio;
	uint8_t kind;
	uint64_t total;
	uint32_t chunk_size;
	uint16_t meta_len;
	const uint8_t *meta; /* view into the decoded buffer (or the caller's, for encode) */
};

struct sync_frame_resume {
	uint8_t id[SYNC_FRAME_ID_BYTES];
	uint8_t status;
	uint64_t offset;
};

struct sync_frame_chunk {
	uint8_t id[SYNC_FRAME_ID_BYTES];
	uint64_t offset;
	size_t len;
	const uint8_t *data; /* view, as for offer.meta */
};

struct sync_frame_ack {
	uint8_t id[SYNC_FRAME_ID_BYTES];
	uint64_t offset;
};

struct sync_frame_done {
	uint8_t id[SYNC_FRAME_ID_BYTES];
	uint64_t total;
};

struct sync_frame_delivered {
	uint8_t id[SYNC_FRAME_ID_BYTES];
	uint8_t status;
	int32_t code;
};

struct sync_frame_keepalive {
	uint64_t stamp;
	uint64_t echo;
};

struct sync_frame_rate {
	uint64_t bytes_per_s; /* 0 = no cap */
};

struct sync_frame_error {
	int32_t code;
	uint16_t msg_len;
	const uint8_t *msg; /* view; not NUL-terminated */
};

struct sync_frame {
	enum sync_frame_type type;
	union {
		struct sync_frame_hello hello;
		struct sync_frame_offer offer;
		struct sync_frame_resume resume;
		struct sync_frame_chunk chunk;
		struct sync_frame_ack ack;
		struct sync_frame_done done;
		struct sync_frame_delivered delivered;
		struct sync_frame_keepalive keepalive;
		struct sync_frame_rate rate;
		struct sync_frame_error error;
	} u;
};

/* Parses one plaintext sync message of `len` bytes at `p` into *out. Views inside *out (meta,
 * data, msg) point into p and are valid as long as p. On error *out is unspecified.
 * Returns 0, SYNC_FRAME_EMALFORMED, SYNC_FRAME_EVERSION or SYNC_FRAME_ETYPE. */
int sync_frame_decode(const uint8_t *p, size_t len, struct sync_frame *out)
        __attribute__((warn_unused_result));

/* Writes the message *f into out (cap bytes) and sets *len to the bytes written.
 * Returns 0, SYNC_FRAME_ENOSPACE (nothing useful written) or SYNC_FRAME_EMALFORMED (a field out
 * of range: meta_len > SYNC_FRAME_META_MAX, empty or oversized chunk, offset too large, message
 * longer than SYNC_FRAME_MSG_MAX). */
int sync_frame_encode(const struct sync_frame *f, uint8_t *out, size_t cap, size_t *len)
        __attribute__((warn_unused_result));

/* Encoded size of *f (what sync_frame_encode would write); 0 if a field is out of range. */
size_t sync_frame_size(const struct sync_frame *f);

/* Name of a message type ("CHUNK", ...), "?" if unknown. Static string. */
const char *sync_frame_type_name(int type);

/* Message for SYNC_FRAME_E* codes (and negated errnos). Static string. */
const char *sync_frame_strerror(int err);

#endif
