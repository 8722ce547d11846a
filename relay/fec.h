/* relay/fec.h — XOR forward error correction in the manner of FlexFEC (RFC 8627, 1-D row
 * parity): one repair packet protects a group of media packets and restores any single lost
 * packet of the group. Used on the VP8 base temporal layer, whose packets are not consecutive
 * in sequence numbers, so a group is a base sequence number plus a 64-bit offset mask.
 *
 * Repair payload (our wire format, carried in an RTP packet of the FEC payload type):
 *   u16 base_seq | u64 mask (bit i = base_seq + i protected) | u16 length XOR |
 *   XOR of the protected RTP packets, each zero-padded to the longest (whole packets, headers
 *   included, so sequence number, timestamp, marker and payload type come back too).
 * Parsing is bounded; nothing here allocates except the decoder's packet store.
 *
 * Error codes: -3580 .. -3589.
 */
#ifndef PIROGUE_RELAY_FEC_H
#define PIROGUE_RELAY_FEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define FEC_ERR_BASE (ERR_BASE_RELAY - 580)
enum {
	FEC_EMALFORMED = FEC_ERR_BASE - 0, /* repair payload truncated or inconsistent */
	FEC_ENOTHING = FEC_ERR_BASE - 1,   /* no protected packet is missing */
	FEC_ETOOMANY = FEC_ERR_BASE - 2,   /* two or more missing: this group cannot recover */
	FEC_ENOSPACE = FEC_ERR_BASE - 3,   /* output buffer too small */
	FEC_EINVAL = FEC_ERR_BASE - 4,
};

#define FEC_HEADER     12
#define FEC_MAX_GROUP  64
#define FEC_MAX_PACKET 1500

const char *fec_strerror(int err);

/* Group size (media packets per repair packet) for a measured loss fraction: 0 (no FEC) below
 * 0.5 % loss; otherwise the largest k in 2..24 for which, with independent losses at that rate,
 * a group of k media + 1 repair packet loses two or more packets (unrecoverable) with
 * probability at most a quarter of the loss rate; k = 2 when even that is not reached. */
unsigned fec_group_size_for_loss(double loss);

/* What the repair packets add to a protected stream, in bit/s on the wire: base_bps of media
 * in pictures_per_s pictures, each cut into packets of at most payload_max bytes plus
 * pkt_overhead bytes of headers on the wire (RTP, tunnel, UDP, IP); a group closes at k packets
 * or at the end of its pictures_per_group-th picture (the sender's flush rule: a group that has
 * spanned its time limit, or a keyframe), whichever comes first; each repair packet carries a
 * protected packet's payload and RTP header plus FEC_HEADER, with the same wire headers. 0 when k
 * is 0 or nothing is sent. The ladder takes this, not k's share of the whole link, off the
 * controller's target: at low rates the groups are closed by time long before they reach k packets,
 * and only the base layer is protected. */
uint32_t fec_repair_bps(uint32_t base_bps, double pictures_per_s, unsigned pictures_per_group,
                        unsigned k, unsigned payload_max, unsigned pkt_overhead);

/* What a second repair for some pictures adds, in bit/s on the wire: anchors_per_s pictures of
 * anchor_bytes each, cut into packets of at most payload_max bytes, each with a repair that XORs
 * its even-numbered packets (the 2nd, 4th, ...): nothing for a one-packet picture, the last
 * packet's size for two, a full packet's beyond; headers as fec_repair_bps. */
uint32_t fec_even_repair_bps(double anchor_bytes, double anchors_per_s, unsigned payload_max,
                             unsigned pkt_overhead);

/* Encoder: add the protected packets one by one; a repair packet comes out when the group
 * reaches its size (or the next packet's sequence number would not fit the 64-bit mask). */
struct fec_encoder {
	unsigned k; /* target group size */
	bool open;
	uint16_t base;
	uint64_t mask;
	unsigned n;
	bool hold; /* fec_encoder_hold: the group does not close on reaching k */
	size_t max_len;
	uint16_t len_xor;
	uint8_t xor_[FEC_MAX_PACKET];
};
/* k = 0 turns protection off (fec_encoder_add never produces anything); 2 <= k <= 64 (1 is
 * taken as 2, more than 64 as 64). */
void fec_encoder_init(struct fec_encoder *e, unsigned k);
/* Changes the group size from the next group on. */
void fec_encoder_set_k(struct fec_encoder *e, unsigned k);
/* Adds one protected RTP packet (whole packet, len <= FEC_MAX_PACKET) with its sequence number.
 * When a group completes, writes the repair payload into out (cap >= FEC_HEADER + longest
 * packet) and returns its length (> 0); returns 0 when no repair is due, FEC_EINVAL,
 * FEC_ENOSPACE (the group is then dropped). A repair can also be forced with fec_encoder_flush. */
int fec_encoder_add(struct fec_encoder *e, const uint8_t *pkt, size_t len, uint16_t seq,
                    uint8_t *out, size_t cap) __attribute__((warn_unused_result));
/* From now, the open group (or the next one) stays open past k packets until
 * fec_encoder_release, or until a packet does not fit its mask: the packets of one picture stay
 * in one group. */
void fec_encoder_hold(struct fec_encoder *e);
/* Ends fec_encoder_hold; a group that has reached k closes now: its repair is written to out as
 * by fec_encoder_add (returns its length, 0 when none is due, FEC_ENOSPACE). */
int fec_encoder_release(struct fec_encoder *e, uint8_t *out, size_t cap)
        __attribute__((warn_unused_result));
/* Emits the repair for a partial group (>= 1 packet) e.g. at the end of a frame; returns the
 * repair length, 0 if the group is empty, or FEC_ENOSPACE. */
int fec_encoder_flush(struct fec_encoder *e, uint8_t *out, size_t cap)
        __attribute__((warn_unused_result));

/* Parsed view of a repair payload. */
struct fec_repair {
	uint16_t base;
	uint64_t mask;
	uint16_t len_xor;
	const uint8_t *xor_;
	size_t xor_len;
};
int fec_repair_parse(struct fec_repair *r, const uint8_t *data, size_t len)
        __attribute__((warn_unused_result));

/* A packet the receiver has (for fec_recover). */
struct fec_pkt {
	uint16_t seq;
	const uint8_t *data;
	size_t len;
};
/* Recovers the single missing packet of the repair's group from the n packets the receiver has
 * (others in `have` are ignored). Writes it to out, sets *out_len and *out_seq. Returns 0,
 * FEC_ENOTHING, FEC_ETOOMANY, FEC_EMALFORMED (a packet longer than the repair covers, or a
 * length that does not come out consistent), FEC_ENOSPACE. */
int fec_recover(const struct fec_repair *r, const struct fec_pkt *have, size_t n, uint8_t *out,
                size_t cap, size_t *out_len, uint16_t *out_seq) __attribute__((warn_unused_result));

/* Receiver-side store: keeps the last 256 protected packets by sequence number and recovers
 * from repair packets as they come. */
struct fec_decoder;
int fec_decoder_new(struct fec_decoder **out) __attribute__((warn_unused_result));
void fec_decoder_free(struct fec_decoder *d);
/* Stores a received (or recovered) protected packet. Returns 0, FEC_EINVAL, -ENOMEM. */
int fec_decoder_add_media(struct fec_decoder *d, uint16_t seq, const uint8_t *pkt, size_t len)
        __attribute__((warn_unused_result));
/* Applies a repair payload; on recovery writes the packet to out and returns 0 (the packet is
 * also stored). Other returns as fec_recover, plus FEC_ETOOMANY when packets of the group are
 * no longer in the store. */
int fec_decoder_add_repair(struct fec_decoder *d, const uint8_t *repair, size_t len, uint8_t *out,
                           size_t cap, size_t *out_len, uint16_t *out_seq)
        __attribute__((warn_unused_result));

#endif
