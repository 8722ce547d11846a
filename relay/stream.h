/* relay/stream.h — a reliable, ordered byte stream over the tunnel's datagrams (bulk sync).
 *
 * Why: sync over TCP BBR reaches ~82 % (1 % loss) / ~75 % (2 %) of a geo-sat link in
 * bench/sync.sh. Linux BBR v1 drains to 4 packets for ~200 ms + one 600 ms round every 10 s
 * (ProbeRTT) and cuts its window on loss bursts; at 600 ms RTT each costs several percent.
 * The fallback is to carry bulk inside the UDP tunnel under a controller of our own.
 * No Debian library offers a reliable stream over an existing authenticated datagram channel
 * (QUIC libraries bring their own TLS handshake and packet protection), so it is written here,
 * small and QUIC-shaped (RFC 9000/9002 ideas, not their wire format).
 *
 * Datagrams (the tunnel's transport payloads, <= mtu bytes) start with a type byte in 0x01..0x0f
 * (RTP/RTCP start with 0x80..0xbf, so one tunnel can carry both), then the 32-bit stream id
 * chosen by the opener, so relay_stream_peek() can demultiplex without state.
 *
 *   Sender: every datagram gets a fresh, increasing packet number (a retransmission is new
 *   data under a new number: no retransmission ambiguity). DATA carries (offset, bytes) of the
 *   stream. ACK frames list received packet-number ranges plus the ack delay; RFC 9002 loss
 *   detection (packet threshold 3, time threshold 9/8 RTT, probe timeout for the tail); lost
 *   byte ranges are resent before new data.
 *   Rate: a model-based controller (delivery-rate max filter over ~10 round trips; min RTT =
 *   lowest sample, raised only when three 10 s epochs in a row stayed a target queue above
 *   it, so our own standing queue cannot ratchet it up). Startup paces at 2.5 x the estimate
 *   until the queue grows (or the rate stops growing, or loss far above the baseline). Then
 *   in-flight is held at estimate x (min RTT + a target queue of max(min RTT / 6, 30 ms) +
 *   the 25 ms ack delay), paced at 1.25 x the estimate: ack-clocked, the bottleneck queue
 *   settles near the target whatever the small errors of the estimate, so the link stays busy
 *   through jitter and loss while the queue stays far below one BDP. Every 10 s the target is
 *   0 for one round trip so the min RTT stays honest (a gentle drain, no drain-to-four-packets
 *   probe). Random loss does not lower the rate; a loss rate far above the path's baseline
 *   (> max(20 %, 3 x baseline) over a round trip) cuts the estimate by 15 %; a standing queue
 *   above max(4 x target, min RTT / 2) for a whole round trip re-bases the estimate on the
 *   delivery rate measured meanwhile (capacity drop). An outage (probe timeouts) lowers
 *   nothing: packets lost in it are not congestion, samples stretched over it are ignored.
 *   Every rate counts `overhead` bytes per datagram (IPv4 + UDP + tunnel) so the estimate is in
 *   link bits; a datagram whose len + overhead exceeds link_mtu travels as IPv4 fragments of at
 *   most link_mtu bytes, and each fragment after the first counts another 20-byte IPv4 header
 *   (in rates, window and pacing alike).
 *   Flow control: the receiver advertises how many bytes past the read point it will buffer.
 *   Lifecycle: OPEN (opener) / OPEN_OK (acceptor) with the stream id; CLOSE (with a reason) from
 *   either side ends it; a stream that hears nothing for idle_timeout_ms is dead. An opener may
 *   send up to 64 KiB before the acceptor's window is known (so recv_window >= 64 KiB). Either
 *   side sends a PING when it has sent nothing for idle_timeout_ms / 4, so an idle but healthy
 *   stream does not time out. A new stream id after a restart of either side starts from
 *   offset 0 (the sync protocol above resumes from its own persisted offsets, so the stream
 *   itself keeps nothing on disk). Its caller may keep the path a stream measured
 *   (relay_stream_path) and give it to the next one (config.resume: careful resume).
 *   Startup ends only on rounds that were not application-limited (a session idles on
 *   keepalives before its first record).
 *
 * Core only: no socket, no clock, no event loop — the caller passes the time and moves the
 * datagrams (sync/ joins it to relay_tunnel and a libevent timer). Not thread-safe.
 * Errors: 0, -errno or RELAY_STREAM_E* (relay_stream_strerror).
 */
#ifndef PIROGUE_RELAY_STREAM_H
#define PIROGUE_RELAY_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct relay_stream;

#define RELAY_STREAM_ERR_BASE   (ERR_BASE_RELAY - 700)
#define RELAY_STREAM_EMALFORMED (RELAY_STREAM_ERR_BASE - 0) /* datagram does not parse */
#define RELAY_STREAM_ESTREAM    (RELAY_STREAM_ERR_BASE - 1) /* not this stream's id */
#define RELAY_STREAM_ECLOSED    (RELAY_STREAM_ERR_BASE - 2) /* closed (by us or the peer) */
#define RELAY_STREAM_ETIMEDOUT  (RELAY_STREAM_ERR_BASE - 3) /* nothing heard for idle_timeout_ms */
#define RELAY_STREAM_EPROTO                                                                        \
	(RELAY_STREAM_ERR_BASE - 4) /* peer broke the protocol (e.g.                               \
	                               data past the advertised window) */

/* Message for any RELAY_STREAM_E* code or negated errno; never NULL. */
const char *relay_stream_strerror(int err);

/* What a stream learned about its path, kept by the caller to start the next stream on the same
 * path (careful resume, after draft-ietf-tsvwg-careful-resume): a satellite link's capacity
 * changes little between one session and the next, and at 600 ms RTT the startup from
 * start_bps costs several round trips, most of a small record's transfer time. */
struct relay_stream_path {
	uint64_t bps;       /* bottleneck estimate (link bits/s) */
	int64_t min_rtt_us; /* lowest RTT seen */
};

/* All zero fields take the default shown. */
struct relay_stream_config {
	uint32_t mtu;       /* largest datagram the stream emits: 1443 (tunnel payload max) */
	uint32_t overhead;  /* link bytes per datagram below the stream: 57 (IPv4+UDP+tunnel) */
	uint32_t link_mtu;  /* IP packet size: 1500 (>= 576, > overhead); larger: fragments */
	uint64_t start_bps; /* first pacing rate before any estimate: 256000 */
	uint64_t max_bps;   /* rate cap (0: none); see relay_stream_set_cap */
	uint32_t
	        send_buffer; /* bytes relay_stream_write() accepts ahead of the peer's ack: 4 MiB */
	uint32_t recv_window;     /* bytes buffered past the read point: 4 MiB */
	uint32_t idle_timeout_ms; /* 60000 */
	/* Careful resume: the path a previous stream measured (bps 0: none). The stream starts
	 * as usual (start_bps) until its first RTT sample. If that sample is within half to twice
	 * resume.min_rtt_us (the same path), startup continues from resume.bps / 2 instead of
	 * start_bps, growing from there as startup does. If the path cannot take that (queue or
	 * loss rises before a round trip of it is acknowledged), the estimate falls back to the
	 * delivery rate actually measured, as any startup exit does: the saved figure itself is
	 * never kept as an estimate. Otherwise (another RTT: roaming, another link) it is ignored.
	 */
	struct relay_stream_path resume;
	/* Optional debugging trace (NULL: none): one line per acknowledgement, per batch of
	 * packets declared lost and per probe timeout, with the sender's state. */
	void (*trace)(void *arg, const char *line);
	void *trace_arg;
};

/* Creates a stream. opener: we send OPEN until OPEN_OK (or any packet of the stream) arrives;
 * otherwise the stream was created on a received OPEN and answers OPEN_OK (feed that OPEN to
 * relay_stream_input too: it carries the opener's window).
 * Memory, all allocated here: send_buffer * 1.09 (buffer + packet records) + recv_window * 1.125
 * (buffer + reassembly bitmap) + ~5 KiB. Errors: -EINVAL (mtu < 64 or > 65507, recv_window < 64
 * KiB, send_buffer < mtu, start_bps < 8000, link_mtu < 576 or <= overhead), -ENOMEM. */
int relay_stream_new(struct relay_stream **out, const struct relay_stream_config *cfg,
                     uint32_t stream_id, bool opener, int64_t now_us)
        __attribute__((warn_unused_result));
void relay_stream_free(struct relay_stream *s);

/* Demultiplexing helper: is this datagram a stream datagram, and if so its type and id?
 * Never reads past len. */
bool relay_stream_peek(const uint8_t *d, size_t len, uint8_t *type, uint32_t *stream_id);
/* Is it an OPEN (a peer asking to start a new stream)? */
bool relay_stream_is_open(const uint8_t *d, size_t len);

/* Feeds one received datagram of this stream. A malformed datagram changes nothing and returns
 * RELAY_STREAM_EMALFORMED (counted in the stats). Likewise refused and counted, with nothing
 * changed: another stream's id (RELAY_STREAM_ESTREAM), DATA past the window we can buffer
 * (RELAY_STREAM_EPROTO; the stream stays open, the datagram is dropped). On a stream that has
 * ended, returns its error. */
int relay_stream_input(struct relay_stream *s, const uint8_t *d, size_t len, int64_t now_us);

/* The next datagram to send now, if any: 1 with *len set, 0 when nothing is due (then
 * *next_us is when to call again, or INT64_MAX), or a negative error (closed / timed out;
 * -ENOBUFS if cap < mtu). Call it until it returns 0, and again after every input and write. */
int relay_stream_poll(struct relay_stream *s, int64_t now_us, uint8_t *out, size_t cap, size_t *len,
                      int64_t *next_us);

/* Application side. write: bytes accepted (up to relay_stream_writable()); read: in-order bytes. */
size_t relay_stream_write(struct relay_stream *s, const uint8_t *p, size_t n);
size_t relay_stream_writable(const struct relay_stream *s);
size_t relay_stream_read(struct relay_stream *s, uint8_t *p, size_t cap);
size_t relay_stream_readable(const struct relay_stream *s);
/* Ends the stream: a CLOSE is sent (reason: 0 normal) at the next poll (three times, back to
 * back), then poll returns RELAY_STREAM_ECLOSED. Abortive: bytes not yet acknowledged are not
 * sent any more; for a clean end wait until stats.bytes_acked covers everything written.
 * Bytes already received stay readable after either side closed. */
void relay_stream_close(struct relay_stream *s, uint32_t reason);
/* 0 while open, else why it ended (RELAY_STREAM_ECLOSED, _ETIMEDOUT, _EPROTO). */
int relay_stream_error(const struct relay_stream *s);

/* Caps the sending rate in link bits/s (0: no cap), effective at once (sync yields to media). */
void relay_stream_set_cap(struct relay_stream *s, uint64_t max_bps);

/* The path this stream measured, for the next stream's config.resume: true once it has a
 * delivery-rate sample of its own that was not application-limited, else false. After startup
 * the estimate; during startup (a short transfer) the highest rate measured, a lower bound. */
bool relay_stream_path(const struct relay_stream *s, struct relay_stream_path *out);

struct relay_stream_stats {
	uint64_t bytes_sent;     /* stream payload bytes sent, retransmissions included */
	uint64_t bytes_resent;   /* of which retransmissions */
	uint64_t bytes_acked;    /* in-order stream bytes the peer has acknowledged */
	uint64_t bytes_received; /* stream payload bytes received, duplicates included */
	uint64_t datagrams_sent, datagrams_received, datagrams_lost, datagrams_malformed;
	uint64_t probes;    /* probe timeouts fired (RFC 9002 PTO) */
	uint64_t rate_bps;  /* current pacing rate (link bits/s) */
	uint64_t btlbw_bps; /* bottleneck estimate (link bits/s) */
	uint32_t srtt_ms, min_rtt_ms;
	uint32_t inflight; /* bytes in flight */
	/* careful resume: 0 none offered (or not decided yet), 1 used (startup continued from
	 * half the saved rate), 2 refused (the RTT did not match) */
	uint8_t resume;
};
void relay_stream_stats(const struct relay_stream *s, struct relay_stream_stats *out);

#endif
