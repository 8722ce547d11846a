/* relay/cc.h — one congestion controller per link, in the spirit of Google Congestion Control,
 * tuned for geostationary satellite links (600-800 ms RTT, seconds of modem buffer, 1-2 % of
 * random loss that is not congestion).
 *
 * Inputs: every packet sent (transport-wide sequence number, size, send time) and every
 * transport-wide feedback report (relay/rtcp.h rtcp_twcc_parse output). Pieces:
 *   - packet groups (packets sent within 5 ms form one group), inter-group delay variation;
 *   - a trendline filter over those variations (least-squares slope of the smoothed accumulated
 *     delay) compared with an adaptive threshold: overuse / normal / underuse;
 *   - a standing-queue guard: one-way delay above its windowed minimum (the delay gradient cannot
 *     see a full-but-stable modem buffer);
 *   - an AIMD rate controller on the measured acknowledged rate (multiplicative growth while the
 *     link capacity is unknown, additive near it, decrease to 0.85 x acked rate, deeper while a
 *     queue must drain);
 *   - a loss-based bound that only bites on very heavy loss (> 20 %) or on moderate loss
 *     (> 3 %) together with queueing, so random satellite loss (10 % in a rain fade) does not
 *     collapse the rate; losses behind a queue over 400 ms (tail drops the delay-based cut
 *     already drains) are left out of the loss fraction;
 *   - packets whose report was lost on the way back count as delivered (spread between the
 *     arrivals around them), so a lossy reverse path does not read as a capacity drop;
 *   - probing: clusters sent at a higher rate whose delivery rate lifts the estimate at once;
 *   - no feedback for 2 RTTs (1 s at least) halves the target, again each such period
 *     (cc_on_tick); the first report after that silence sends a probe straight back to the rate
 *     before it, and leaves the outage's losses (a run of them sent over 500 ms) out of the
 *     loss fraction.
 * Every rate is a wire rate: each packet counts its size plus cfg.overhead_bytes (IPv4 20 + UDP 8
 * + tunnel 24 + RTP 12 = 64 by default). Time is passed in explicitly (microseconds, any
 * origin, the sender's clock for send/now times, the receiver's clock for arrival times), so
 * the controller is deterministic and needs no timers of its own.
 */
#ifndef PIROGUE_RELAY_CC_H
#define PIROGUE_RELAY_CC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay/rtcp.h"

#define CC_OVERHEAD_DEFAULT 64 /* IPv4 20 + UDP 8 + tunnel 24 + RTP 12 */

struct cc_config {
	uint32_t start_bps;      /* initial target (wire bit/s); 0 = 100 kbit/s */
	uint32_t min_bps;        /* floor; 0 = 16 kbit/s */
	uint32_t max_bps;        /* ceiling; 0 = 10 Mbit/s */
	uint32_t overhead_bytes; /* per-packet bytes not included in sizes given; 0 = 64 */
	bool probing;            /* send probe clusters (default in cc_config_default: true) */
};

/* Fills *cfg with defaults (100 kbit/s start, 16 kbit/s .. 10 Mbit/s, 64 bytes, probing). */
void cc_config_default(struct cc_config *cfg);

enum cc_usage { CC_NORMAL = 0, CC_OVERUSE = 1, CC_UNDERUSE = 2 };

/* a policer found (cc_stats.policer_bps) holds the target under its rate this long */
#define CC_POLICER_HOLD_S 30

struct cc_stats {
	uint32_t target_bps;     /* current target (wire) */
	uint32_t delay_bps;      /* delay-based estimate */
	uint32_t loss_bound_bps; /* loss-based bound (UINT32_MAX when not limiting) */
	uint32_t acked_bps;      /* measured delivery rate (wire) */
	uint32_t link_bps;       /* capacity estimate near which growth is additive; 0 = unknown */
	enum cc_usage usage;     /* last detector output */
	double trend;            /* modified trend (ms) */
	double threshold;        /* adaptive threshold (ms) */
	double loss;             /* loss fraction 0..1, pooled to >= 200 packets (cc.c) */
	int64_t rtt_us;          /* smoothed RTT from feedback (0 until known) */
	int64_t queue_us;        /* one-way delay above its windowed minimum */
	uint32_t overuses;       /* decreases so far */
	uint32_t queue_cuts;     /* of the decreases, those the queue made (no gradient) */
	uint32_t stand_cuts;     /* ... of them, a queue that stood and did not shrink (cc.c) */
	uint32_t probes;         /* probe clusters started / succeeded */
	uint32_t probes_ok;
	uint32_t probes_recovery; /* of the probes, those back towards the rate before a drop */
	/* the latest evaluated probe: the rate it showed the link delivers (the lower of its send
	 * and receive rates), whether the link delivered (almost) all of it, and whether it was
	 * the periodic probe (not start-up, follow-up or recovery) */
	uint32_t probe_est_bps;
	bool probe_whole;
	bool probe_periodic;
	/* periodic probes that read more than the capacity known twice in a row, and of them
	 * those where the first reading was the lower one, taken instead of the second */
	uint32_t probe_rechecks, probe_rechecks_first;
	uint32_t jitter_holds; /* feedback reports whose gradient overuse had no queue behind */
	/* the latest decrease (overuses): the delay target before it, the short-window delivery
	 * rate it scaled, the queue that set its depth and whether that was the predicted one
	 * (everything sent since the newest acknowledged packet) rather than the measured one, and
	 * whether the gradient detector called it (else a standing or fast-growing queue) */
	uint32_t cut_from_bps, cut_recent_bps;
	int64_t cut_queue_us;
	bool cut_predicted, cut_gradient;
	/* a policer's rate found from how the loss answered the send rate (cc.c, policer_check):
	 * the rate it passes (0 when none holds the target now; the target stays at 0.95x it for
	 * CC_POLICER_HOLD_S) and how many times one was found */
	uint32_t policer_bps;
	uint32_t policer_finds;
	/* the hold is over and the target tests 1.15x the policer's rate for a few loss windows:
	 * what follows is a new hold (policer_bps stays) or the policer gone (policer_bps 0) */
	bool policer_testing;
	/* drains that ended with the target restored from what the link delivered meanwhile, and
	 * of them those whose readings were mostly lost reports' packets credited as arrivals
	 * (the reverse path lossy too): restored from the readings' low quartile */
	uint32_t restores, restores_unclean;
	/* the latest restore: the capacity it took (the target went to 0.85x it), the drain's
	 * readings (how many, how many clean), their mean and their low quartile */
	uint32_t restore_cap_bps, restore_reads, restore_clean, restore_mean_bps, restore_low_bps;
	/* loss windows that capped the rate (loss_bound_bps), the last one's loss fraction, and the
	 * windows of very heavy loss (> 20 %) with no queue that did not, the sender having sent
	 * well under its target */
	uint32_t loss_caps, loss_caps_unfilled;
	double loss_cap_f;
};

struct cc;

/* Creates a controller. cfg NULL means defaults. Returns 0, -EINVAL (min > max, start outside),
 * -ENOMEM. *out is written only on success; free with cc_free. */
int cc_new(struct cc **out, const struct cc_config *cfg) __attribute__((warn_unused_result));
/* Frees the controller (NULL is fine). */
void cc_free(struct cc *cc);

/* Records a packet handed to the network: its transport-wide sequence number, its size in bytes
 * without the per-packet overhead (cfg.overhead_bytes is added), send time, and the probe
 * cluster id it belongs to (0 for none). Sequence numbers must increase by one per packet. */
void cc_on_packet_sent(struct cc *cc, uint16_t twcc_seq, size_t size, int64_t send_us, int cluster);

/* Processes one transport-wide feedback report (n entries in sequence order) received at now_us.
 * Entries for packets never recorded as sent, or already reported, are ignored. Returns 0 or
 * -EINVAL (n == 0 or pkts NULL). */
int cc_on_feedback(struct cc *cc, const struct rtcp_twcc_pkt *pkts, size_t n, int64_t now_us)
        __attribute__((warn_unused_result));

/* Lets time pass without feedback: if nothing was acknowledged for max(1 s, 2 RTT) while
 * packets were in flight, the target is halved (at most once per such period). */
void cc_on_tick(struct cc *cc, int64_t now_us);

/* Target wire rate in bit/s (what the pacer sends at; includes per-packet overhead). */
uint32_t cc_target_bps(const struct cc *cc);

/* The media payload rate that fits in the target when packets carry payload_bytes each:
 * target * payload / (payload + overhead). Use it to set encoder bitrates. */
uint32_t cc_payload_bps(const struct cc *cc, size_t payload_bytes);

/* Asks whether a probe cluster should start now. Returns a cluster id > 0 and sets *rate_bps
 * (wire rate to send the cluster at) and *min_packets / *duration_us (send at least that many
 * packets over at least that long), or 0 when no probe is due. Packets of the cluster are
 * reported with that id to cc_on_packet_sent. */
int cc_probe_next(struct cc *cc, int64_t now_us, uint32_t *rate_bps, unsigned *min_packets,
                  int64_t *duration_us);

/* Copies the controller's current state into *st. */
void cc_get_stats(const struct cc *cc, struct cc_stats *st);

#endif
