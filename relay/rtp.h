/* relay/rtp.h — RTP packets (RFC 3550), header extensions (RFC 8285), the Opus payload
 * (RFC 7587) and the VP8 payload descriptor with a packetiser/depacketiser (RFC 7741).
 *
 * Parsing is bounded (common/buf.h): a parsed packet is a set of views into the caller's buffer,
 * valid as long as that buffer. Malformed packets are rejected with an error code whose
 * rtp_strerror() text matches aiortc's messages for the same faults. Writing goes into a
 * caller-owned buffer and never allocates.
 *
 * Error codes: the relay/ media modules use ERR_BASE_RELAY - 500 .. - 699: rtp.h -3500..-3539,
 * rtcp.h -3540..-3579, fec.h -3580..-3589, jitter.h -3590..-3599, pacer.h -3600..-3609.
 */
#ifndef PIROGUE_RELAY_RTP_H
#define PIROGUE_RELAY_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define RTP_ERR_BASE (ERR_BASE_RELAY - 500)
enum {
	RTP_ESHORT = RTP_ERR_BASE - 0,     /* fewer than 12 bytes */
	RTP_EVERSION = RTP_ERR_BASE - 1,   /* version is not 2 */
	RTP_ECSRC = RTP_ERR_BASE - 2,      /* CSRC list runs past the end */
	RTP_EEXTHDR = RTP_ERR_BASE - 3,    /* extension profile/length runs past the end */
	RTP_EEXTVAL = RTP_ERR_BASE - 4,    /* extension block runs past the end */
	RTP_EEXTELEM = RTP_ERR_BASE - 5,   /* RFC 8285 element malformed or too many */
	RTP_EPADDING = RTP_ERR_BASE - 6,   /* padding count 0 or larger than what follows header */
	RTP_EVP8 = RTP_ERR_BASE - 7,       /* VP8 payload descriptor malformed */
	RTP_EOPUS = RTP_ERR_BASE - 8,      /* Opus payload is not a valid Opus packet */
	RTP_ENOSPACE = RTP_ERR_BASE - 9,   /* output buffer too small */
	RTP_EINVAL = RTP_ERR_BASE - 10,    /* field out of range for writing */
	RTP_EFRAGMENT = RTP_ERR_BASE - 11, /* VP8 fragments do not form one frame */
};

#define RTP_HEADER_MIN           12
#define RTP_MAX_CSRC             15
#define RTP_MAX_EXT              16 /* extension elements kept per packet */
#define RTP_EXT_PROFILE_ONE_BYTE 0xBEDE
#define RTP_EXT_PROFILE_TWO_BYTE 0x1000 /* low 4 bits are "appbits" */

/* One RFC 8285 extension element (data borrowed from the packet buffer). */
struct rtp_ext {
	uint8_t id;
	uint8_t len;
	const uint8_t *data;
};

/* A parsed (or to-be-written) RTP packet. All pointers are views into the caller's buffers. */
struct rtp_packet {
	uint8_t version; /* 2 */
	bool marker;
	uint8_t payload_type; /* 0..127 */
	uint16_t seq;
	uint32_t timestamp;
	uint32_t ssrc;
	uint8_t csrc_count;
	uint32_t csrc[RTP_MAX_CSRC];
	bool has_ext;           /* X bit */
	uint16_t ext_profile;   /* "defined by profile" word when has_ext */
	const uint8_t *ext_raw; /* extension block after the 4-byte header (ext_raw_len bytes) */
	size_t ext_raw_len;
	size_t n_ext; /* RFC 8285 elements (only for 0xBEDE and 0x100X profiles) */
	struct rtp_ext ext[RTP_MAX_EXT];
	const uint8_t *payload;
	size_t payload_len;
	uint8_t padding_len; /* 0 = no padding (P bit clear); else count including the last byte */
};

/* Human-readable text for an rtp error code or a negated errno; never NULL, static. */
const char *rtp_strerror(int err);

/* Parses the fixed header, CSRC list and header extension of `data` (len bytes) into *p,
 * without checking padding. Used for packets whose header is wanted even if the padding is
 * malformed. Returns 0, RTP_ESHORT, RTP_EVERSION, RTP_ECSRC, RTP_EEXTHDR, RTP_EEXTVAL or
 * RTP_EEXTELEM. *p is written only on success; its views point into data. */
int rtp_header_parse(struct rtp_packet *p, const uint8_t *data, size_t len)
        __attribute__((warn_unused_result));

/* Parses a whole RTP packet: as rtp_header_parse, plus the padding (RTP_EPADDING if the count is
 * 0 or exceeds the bytes after the header) and the payload view. */
int rtp_packet_parse(struct rtp_packet *p, const uint8_t *data, size_t len)
        __attribute__((warn_unused_result));

/* Writes *p into out (cap bytes): header, CSRCs, extension elements (p->n_ext elements, one-byte
 * form when every id is 1..14 and every length 1..16, else two-byte form; if n_ext is 0 and
 * has_ext is set, ext_profile + ext_raw are written verbatim, ext_raw_len must be a multiple of
 * 4), payload and padding (p->padding_len bytes, zeros ending with the count). Sets *out_len.
 * Returns 0, RTP_EINVAL (bad field), RTP_ENOSPACE. */
int rtp_packet_write(const struct rtp_packet *p, uint8_t *out, size_t cap, size_t *out_len)
        __attribute__((warn_unused_result));

/* Finds extension element `id` in a parsed packet, or NULL. */
const struct rtp_ext *rtp_ext_find(const struct rtp_packet *p, uint8_t id);

/* Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01): a 2-byte
 * big-endian element with the negotiated id. Returns 0 and sets *seq, or RTP_EEXTELEM if the
 * element is missing or not 2 bytes. */
int rtp_ext_get_twcc(const struct rtp_packet *p, uint8_t id, uint16_t *seq)
        __attribute__((warn_unused_result));
/* Rewrites the transport-wide sequence number inside an already written packet (the pacer
 * numbers packets as they leave, after they were built with a placeholder). pkt must hold a
 * valid RTP packet with a 2-byte element `id`. Returns 0, or the rtp_header_parse errors /
 * RTP_EEXTELEM (no such element); the packet is unchanged on error. */
int rtp_ext_set_twcc_inplace(uint8_t *pkt, size_t len, uint8_t id, uint16_t seq)
        __attribute__((warn_unused_result));
/* abs-send-time: 3-byte 6.18 fixed-point seconds. Same errors. */
int rtp_ext_get_abs_send_time(const struct rtp_packet *p, uint8_t id, uint32_t *v)
        __attribute__((warn_unused_result));
/* Audio level (RFC 6464): 1 byte, V flag and level in -dBov. Same errors. */
int rtp_ext_get_audio_level(const struct rtp_packet *p, uint8_t id, bool *voice, uint8_t *level)
        __attribute__((warn_unused_result));

/* Extended sequence-number tracking (RFC 3550 A.1) used by receivers. */
struct rtp_seq_unwrap {
	bool started;
	int64_t last; /* last extended value */
};
/* Returns the 64-bit extended form of a 16-bit sequence number nearest the last one seen. */
int64_t rtp_seq_unwrap(struct rtp_seq_unwrap *u, uint16_t seq);
/* Signed distance b - a between two 16-bit sequence numbers (-32768..32767). */
int rtp_seq_diff(uint16_t a, uint16_t b);

/* ---- Opus (RFC 7587): one Opus packet per RTP payload, 48 kHz RTP clock ---- */
#define RTP_OPUS_CLOCK 48000
/* Checks an Opus RTP payload with libopus' packet parser and gives its duration in 48 kHz
 * samples (the RTP timestamp step). Returns 0, RTP_EOPUS (empty, malformed, or > 120 ms). */
int rtp_opus_payload_check(const uint8_t *payload, size_t len, unsigned *samples)
        __attribute__((warn_unused_result));

/* ---- Redundant audio (RFC 2198): time-spread redundancy ----
 * A RED payload carries the primary frame plus older frames again, so a loss burst shorter than
 * the spread loses nothing: with distance d, frame k travels in packets k and k + d. */
#define RTP_RED_MAX_BLOCKS 8
struct rtp_red_block {
	uint8_t pt; /* payload type of the block (0..127) */
	uint16_t
	        ts_offset; /* how much older than the packet's timestamp (14 bits); 0 for primary */
	const uint8_t *data;
	size_t len; /* redundant blocks <= 1023 bytes */
};
/* Parses a RED payload into at most cap blocks (n set; the last is the primary). Returns 0 or
 * RTP_EINVAL (truncated header or data, a block longer than the payload, more than cap
 * blocks). Views borrow payload. */
int rtp_red_parse(const uint8_t *payload, size_t len, struct rtp_red_block *blocks, size_t cap,
                  size_t *n) __attribute__((warn_unused_result));
/* Writes n >= 1 blocks (the last one primary, its ts_offset ignored). Returns 0, RTP_EINVAL (pt,
 * offset or length out of range), RTP_ENOSPACE. */
int rtp_red_write(const struct rtp_red_block *blocks, size_t n, uint8_t *out, size_t cap,
                  size_t *out_len) __attribute__((warn_unused_result));

/* Sender-side history of recent frames for RED (copies, up to 1023 bytes each). */
#define RTP_RED_HISTORY 16
struct rtp_red_history {
	struct {
		bool valid;
		uint32_t ts;
		uint8_t pt;
		size_t len;
		uint8_t data[1023];
	} f[RTP_RED_HISTORY];
	unsigned pos;
};
/* Builds the RED payload for a new primary frame (pt, timestamp ts) carrying, for each of the
 * `ndist` distances (in frames, 1..15), the frame sent that many frames earlier if it is still
 * in the history (frame_samples per frame), then remembers the primary. Returns 0,
 * RTP_EINVAL, RTP_ENOSPACE. */
int rtp_red_history_build(struct rtp_red_history *h, uint8_t pt, uint32_t ts,
                          const uint8_t *primary, size_t len, unsigned frame_samples,
                          const unsigned *dist, size_t ndist, uint8_t *out, size_t cap,
                          size_t *out_len) __attribute__((warn_unused_result));

/* ---- VP8 payload descriptor (RFC 7741 section 4.2) ---- */
#define RTP_VP8_CLOCK    90000
#define RTP_VP8_DESC_MAX 6
struct rtp_vp8_desc {
	bool non_reference; /* N */
	bool start;         /* S: first packet of a partition */
	uint8_t pid;        /* partition index 0..7 */
	bool has_picture_id;
	uint8_t picture_id_bits; /* 7 or 15 */
	uint16_t picture_id;
	bool has_tl0picidx;
	uint8_t tl0picidx;
	bool has_tid;    /* T */
	uint8_t tid;     /* 0..3 */
	bool layer_sync; /* Y (only meaningful with T) */
	bool has_keyidx; /* K */
	uint8_t keyidx;  /* 0..31 */
};
/* Parses the descriptor at the start of an RTP payload; sets *desc and *desc_len (bytes used).
 * Requires at least one byte of VP8 payload after it. Returns 0 or RTP_EVP8. */
int rtp_vp8_desc_parse(struct rtp_vp8_desc *desc, size_t *desc_len, const uint8_t *payload,
                       size_t len) __attribute__((warn_unused_result));
/* Writes the descriptor into out. Returns bytes written (1..6) or RTP_EINVAL / RTP_ENOSPACE. */
int rtp_vp8_desc_write(const struct rtp_vp8_desc *desc, uint8_t *out, size_t cap)
        __attribute__((warn_unused_result));
/* True if the payload (after the descriptor) starts a VP8 key frame: S=1, PID=0, P bit clear. */
bool rtp_vp8_is_keyframe(const struct rtp_vp8_desc *desc, const uint8_t *vp8, size_t len);

/* Splits one VP8 frame into RTP payloads of at most max_payload bytes each (descriptor
 * included), sizes balanced so no packet is tiny. The packetiser borrows `frame` until done.
 * Use: init, then next() until *last is true. */
struct rtp_vp8_packetizer {
	const uint8_t *frame;
	size_t len, off;
	struct rtp_vp8_desc desc;
	size_t desc_len, n_packets, index;
};
/* Prepares to split frame (len >= 1 bytes) with the descriptor template `desc` (its start and
 * pid are set by the packetiser: S=1 on the first packet, PID 0). max_payload must leave room for
 * the descriptor and one byte. Returns 0 or RTP_EINVAL. */
int rtp_vp8_packetizer_init(struct rtp_vp8_packetizer *pk, const uint8_t *frame, size_t len,
                            const struct rtp_vp8_desc *desc, size_t max_payload)
        __attribute__((warn_unused_result));
/* Number of packets the frame is split into. */
size_t rtp_vp8_packetizer_count(const struct rtp_vp8_packetizer *pk);
/* Writes the next payload into out (cap bytes); *last is true for the final one (set the RTP
 * marker on it). Returns 0, RTP_ENOSPACE, or RTP_EINVAL when already finished. */
int rtp_vp8_packetizer_next(struct rtp_vp8_packetizer *pk, uint8_t *out, size_t cap,
                            size_t *out_len, bool *last) __attribute__((warn_unused_result));

/* Reassembles one VP8 frame from its RTP payloads in sequence order (n >= 1): checks every
 * descriptor, that the first has S=1 and PID=0 and that all share the same picture id, then
 * concatenates the VP8 bytes into out. Sets *out_len and (if desc non-NULL) the first packet's
 * descriptor. Returns 0, RTP_EVP8, RTP_EFRAGMENT, RTP_ENOSPACE. */
int rtp_vp8_depacketize(const uint8_t *const *payloads, const size_t *lens, size_t n, uint8_t *out,
                        size_t cap, size_t *out_len, struct rtp_vp8_desc *desc)
        __attribute__((warn_unused_result));

#endif
