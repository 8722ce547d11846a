/* relay/pacer.h — sends queued packets at the congestion controller's target rate, in small
 * bursts, with strict priorities: audio > video > retransmission/FEC > padding.
 *
 * Pure logic with an explicit clock: the caller enqueues packets (copied) and, whenever
 * pacer_next_time() says so, calls pacer_next() which hands back the packet to put on the wire.
 * The budget is a leaky bucket over wire bytes (packet + per-packet overhead) that may hold at
 * most `burst_bytes` of credit; a packet goes when the credit is positive and is charged in full,
 * so bursts stay below credit + one packet. During a probe the rate is the probe's and the sent
 * packets are tagged with its cluster id (padding fills in when nothing is queued).
 *
 * Live media goes stale: packets queued with pacer_enqueue_media() carry a deadline and belong
 * to a frame; a frame whose first packet is still queued when its deadline passes is dropped
 * whole (a frame whose first packet has left is sent whole: the receiver cannot decode part of
 * one), and so is every later frame of its class that depends on it, up to the next
 * independent one (a keyframe), plus the RTX-class packets (retransmissions, FEC) of those
 * frames. The caller sees a broken chain in the stats (chain_broken) and makes its next frame
 * independent. Drops happen in pacer_enqueue*, pacer_next_time, pacer_next and pacer_expire.
 */
#ifndef PIROGUE_RELAY_PACER_H
#define PIROGUE_RELAY_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define PACER_ERR_BASE (ERR_BASE_RELAY - 600)
enum {
	PACER_EFULL = PACER_ERR_BASE - 0,    /* class queue limit reached; packet not queued */
	PACER_ENOSPACE = PACER_ERR_BASE - 1, /* caller's buffer too small; packet stays queued */
	PACER_EINVAL = PACER_ERR_BASE - 2,
};

/* Text for a pacer error code or a negated errno; never NULL, static. */
const char *pacer_strerror(int err);

enum pacer_class {
	PACER_AUDIO = 0,
	PACER_VIDEO = 1,
	PACER_RTX = 2, /* retransmissions and FEC repair packets */
	PACER_PADDING = 3,
	PACER_NCLASS = 4
};

struct pacer_config {
	uint32_t rate_bps;                /* initial wire rate; 0 = 100 kbit/s */
	uint32_t overhead_bytes;          /* added to each packet's length for the budget; 0 = 64 */
	size_t burst_bytes;               /* max credit; 0 = max(2 x 1264, 10 ms at the rate) */
	size_t queue_limit[PACER_NCLASS]; /* bytes per class; 0 = 512 KiB */
	size_t padding_size;              /* size of padding packets asked for; 0 = 200 */
};

struct pacer_stats {
	size_t queued_bytes[PACER_NCLASS];
	size_t queued_packets[PACER_NCLASS];
	uint64_t sent_packets[PACER_NCLASS];
	uint64_t sent_wire_bytes;
	uint64_t dropped_full;
	/* dropped unsent: past their deadline, or part of a frame that depends on (RTX: repairs)
	 * one that was */
	uint64_t stale_packets[PACER_NCLASS];
	uint64_t stale_bytes[PACER_NCLASS]; /* packet bytes (no overhead) */
	uint64_t stale_frames[PACER_NCLASS];
	/* a frame that later ones depend on was dropped: until an independent frame is queued,
	 * dependent ones are dropped as they are queued */
	bool chain_broken[PACER_NCLASS];
	int64_t oldest_us; /* enqueue time of the oldest queued packet, or -1 */
};

/* pacer_media.flags */
#define PACER_INDEPENDENT 1u /* depends on no earlier frame (a keyframe, an audio packet) */
#define PACER_DROPPABLE   2u /* no later frame depends on it (non-reference, audio) */

/* What a media packet belongs to (pacer_enqueue_media). */
struct pacer_media {
	/* Frame number: > 0 and increasing within the class; consecutive packets with the same
	 * number form a frame, dropped whole. For PACER_RTX the number of the PACER_VIDEO frame
	 * the packet repairs or retransmits: it is dropped with that frame, and at once when
	 * queued for a frame number not above the highest video frame dropped so far. 0: a
	 * frame of its own, no dependencies. */
	uint64_t frame;
	int64_t deadline_us; /* the frame is useless after this time; INT64_MAX = never */
	unsigned flags;      /* PACER_INDEPENDENT, PACER_DROPPABLE */
};

/* What pacer_next() handed out. */
struct pacer_pkt {
	enum pacer_class cls;
	size_t len;        /* bytes copied into the caller's buffer (padding: size to fill) */
	int cluster;       /* probe cluster id or 0 */
	uint64_t tag;      /* the caller's tag given at enqueue (0 for padding) */
	int64_t queued_us; /* time spent queued */
};

struct pacer;

/* Creates a pacer. cfg NULL = defaults. Returns 0, -ENOMEM. Free with pacer_free. */
int pacer_new(struct pacer **out, const struct pacer_config *cfg)
        __attribute__((warn_unused_result));
/* Frees the pacer and every queued packet (NULL is fine). */
void pacer_free(struct pacer *p);

/* Sets the wire rate (bit/s, > 0); the burst size follows unless configured. */
void pacer_set_rate(struct pacer *p, uint32_t rate_bps);
/* Sets the padding rate: while every queue is empty, padding packets keep the wire rate up to
 * min(padding_bps, rate). 0 turns padding off (default). */
void pacer_set_padding(struct pacer *p, uint32_t padding_bps);
/* Starts a probe cluster: from now, send at rate_bps until at least min_packets were sent and
 * duration_us passed; those packets carry `cluster`. Padding fills in when queues are empty. */
void pacer_probe(struct pacer *p, int cluster, uint32_t rate_bps, unsigned min_packets,
                 int64_t duration_us, int64_t now_us);

/* Copies a packet (len >= 1) into the class queue. tag is returned with it. Returns 0,
 * PACER_EFULL (queue limit), PACER_EINVAL, -ENOMEM. */
int pacer_enqueue(struct pacer *p, enum pacer_class cls, const uint8_t *pkt, size_t len,
                  uint64_t tag, int64_t now_us) __attribute__((warn_unused_result));

/* As pacer_enqueue, for a packet of live media (see struct pacer_media; NULL = as
 * pacer_enqueue). Packets past their deadline are dropped first, so stale ones never make a
 * fresh one fail with PACER_EFULL. A packet dropped at once (a dependent frame while the chain
 * is broken, an RTX packet of a dropped frame, or one already past its deadline) is counted in
 * the stale_* stats and 0 is returned. Returns 0, PACER_EFULL, PACER_EINVAL, -ENOMEM. */
int pacer_enqueue_media(struct pacer *p, enum pacer_class cls, const uint8_t *pkt, size_t len,
                        uint64_t tag, const struct pacer_media *pm, int64_t now_us)
        __attribute__((warn_unused_result));

/* Drops what is past its deadline at now_us (see above). */
void pacer_expire(struct pacer *p, int64_t now_us);

/* Earliest time (us) at which pacer_next() will hand out a packet: now_us or later, or
 * INT64_MAX when nothing is queued and no padding or probe is due. */
int64_t pacer_next_time(struct pacer *p, int64_t now_us);

/* If a packet may be sent now, copies it into buf (cap bytes), fills *out and returns 1; for
 * padding nothing is copied and out->len is the size to send. Returns 0 when nothing is due,
 * PACER_ENOSPACE when buf is too small (the packet stays queued). */
int pacer_next(struct pacer *p, int64_t now_us, uint8_t *buf, size_t cap, struct pacer_pkt *out)
        __attribute__((warn_unused_result));

void pacer_get_stats(const struct pacer *p, struct pacer_stats *st);

#endif
