/* sync/tunlink.h — the sync transfer (sync/xfer) carried inside the encrypted UDP tunnel.
 *
 * Runs a relay_tunnel (relay/tunnel.h, event layer: the sites' X25519 keys, the clinic pins the
 * hub's key, the hub admits the keys its allow callback accepts) on one UDP socket, and per
 * sync connection a relay_stream (relay/stream.h: reliable ordered bytes under our own rate
 * controller) joined to a libevent bufferevent_pair. One end of the pair is the connection
 * sync/xfer runs on (struct sync_xfer_transport); the other end is pumped into and out of the
 * stream here, a timer drives relay_stream_poll, and the stream's datagrams travel as tunnel
 * payloads. Received payloads are demultiplexed with relay_stream_peek (others are counted and
 * dropped: RTP/RTCP will share the tunnel later).
 *
 *   clinic: sync_tunlink_transport()'s connect opens a stream to the hub (-ENOTCONN while the
 *           tunnel has no session: xfer retries after its backoff; on_up says when it has one);
 *   hub:    an OPEN from a peer creates a stream and hands the xfer end to cfg->accept.
 *
 * A stream that ends (closed by the peer, idle timeout, protocol error, tunnel peer down) sends
 * EOF to its xfer end, so xfer drops the connection and its reconnect/resume logic runs; xfer
 * closing its end closes the stream (a CLOSE goes to the peer). The xfer rate cap becomes the
 * streams' cap (relay_stream_set_cap, 8 x bytes/s as link bits/s). A hub that restarted (and
 * forgot the tunnel session) is handled by the tunnel itself: the clinic's next data goes
 * unanswered and relay_tunnel re-handshakes keepalive + rekey timeout (15 s) after it.
 *
 * Not thread-safe; everything runs on the given event_base. Errors: 0, -errno,
 * RELAY_TUNNEL_E* or RELAY_STREAM_E* (sync_tunlink_strerror).
 */
#ifndef PIROGUE_SYNC_TUNLINK_H
#define PIROGUE_SYNC_TUNLINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "relay/stream.h"
#include "sync/xfer.h"

struct event_base;
struct bufferevent;
struct sync_tunlink;

struct sync_tunlink_config {
	bool hub;
	const uint8_t *self_private; /* our X25519 private key (32 bytes, copied). Required. */
	const uint8_t *hub_public;   /* clinic: the hub's pinned X25519 public key. Required. */
	/* hub: address to bind; clinic: the hub's address (the clinic binds an ephemeral port). */
	const struct sockaddr *addr;
	socklen_t addrlen;
	/* hub: is this initiator key allowed (enrolled, not revoked)? Required. */
	bool (*allow)(void *arg, const uint8_t key[32]);
	/* hub, optional: durable replay protection of tunnel handshakes (relay_tunnel stamp
	 * hook): 0 if `stamp` is newer than the last one accepted from `key` and is now recorded,
	 * non-zero to refuse the handshake. NULL: the tunnel keeps the last one in memory. */
	int (*stamp)(void *arg, const uint8_t key[32], uint64_t stamp);
	/* hub: a new connection (xfer's end of a new stream; the callee owns it). Required. */
	void (*accept)(void *arg, struct bufferevent *bev);
	/* clinic: the tunnel has a usable session now (e.g. kick the reconnect). Optional. */
	void (*on_up)(void *arg);
	void *arg;
	uint32_t streams_per_peer; /* streams a hub keeps per peer, oldest closed first: 4 */
	uint32_t idle_timeout_ms;  /* stream idle timeout: 0 = relay_stream's default */
	/* Largest tunnel datagram sent and accepted (UDP payload bytes): 0 = 1472, one 1500-byte
	 * IPv4 packet; RELAY_TUNNEL_DGRAM_MIN .. RELAY_TUNNEL_DGRAM_LIMIT (1232 .. 5912), else
	 * -EINVAL. Above 1472 the kernel sends each full datagram as IP fragments (2952: two,
	 * 4432: three, 5912: four) and the stream counts their headers as link bytes. Both sides
	 * must use the same value. */
	uint32_t udp_datagram;
	/* Optional, careful resume (relay/stream.h config.resume): path_load fills *p with the
	 * path last measured towards `key` and returns true, or returns false (none, too old);
	 * it is asked for each new stream. path_save gets what a stream measured when it ends.
	 * NULL: every stream starts cold. */
	bool (*path_load)(void *arg, const uint8_t key[32], struct relay_stream_path *p);
	void (*path_save)(void *arg, const uint8_t key[32], const struct relay_stream_path *p);
};

/* Counters since sync_tunlink_new; rate/rtt are those of the most recently opened live
 * stream (0 when none). */
struct sync_tunlink_stats {
	uint32_t streams; /* live now */
	uint64_t streams_opened, streams_ended;
	uint64_t rate_bps, btlbw_bps; /* link bits/s */
	uint32_t srtt_ms, min_rtt_ms;
	uint64_t bytes_sent, bytes_resent; /* stream payload, all streams ever */
	uint64_t bytes_received;
	uint64_t datagrams_sent, datagrams_received, datagrams_lost;
	uint64_t probes;              /* stream probe timeouts fired */
	uint64_t drop_unknown_stream; /* stream datagram of no live stream, not an OPEN */
	uint64_t drop_not_stream;     /* tunnel payload that is no stream datagram */
	uint64_t send_errors;         /* relay_tunnel_send failures (datagram lost) */
	uint64_t drop_oversize;       /* tunnel datagrams longer than udp_datagram (dropped) */
	uint32_t udp_datagram;        /* the configured largest datagram */
	uint64_t tunnel_handshakes;   /* tunnel sessions made (rekeys and re-handshakes too) */
	uint64_t streams_resumed;     /* streams that started from a saved path (careful resume) */
	uint64_t streams_resume_refused; /* ... offered one but measured another RTT */
	uint64_t refused;                /* hub: tunnel handshakes from keys not allowed */
	uint64_t replays;                /* hub: tunnel handshakes refused for their timestamp */
	bool tunnel_up;                  /* clinic: the tunnel has a session now */
};

/* Creates the tunnel (UDP socket bound) on base. Errors: -EINVAL (missing field), -errno from
 * socket/bind, -ENOMEM, tunnel errors. *out is set only on success. */
int sync_tunlink_new(struct sync_tunlink **out, struct event_base *base,
                     const struct sync_tunlink_config *cfg) __attribute__((warn_unused_result));
/* Ends every stream (their xfer ends see EOF), closes the socket; NULL is fine. */
void sync_tunlink_free(struct sync_tunlink *t);

/* The transport to put in struct sync_xfer_config (valid while t lives). */
void sync_tunlink_transport(struct sync_tunlink *t, struct sync_xfer_transport *out);

/* Clinic: opens a stream to the hub; *out is xfer's end. -ENOTCONN without a tunnel session. */
int sync_tunlink_connect(struct sync_tunlink *t, struct bufferevent **out)
        __attribute__((warn_unused_result));

/* Caps every current and future stream at 8 x bytes_per_s link bits/s (0 = no cap). */
void sync_tunlink_set_rate(struct sync_tunlink *t, uint64_t bytes_per_s);

/* Hub: asks allow() again for the peers with streams; those refused lose their streams and
 * their tunnel state (after a reload of the allow-list). */
void sync_tunlink_recheck_peers(struct sync_tunlink *t);

/* The local UDP port (useful with port 0), 0 on error. */
uint16_t sync_tunlink_port(const struct sync_tunlink *t);

void sync_tunlink_stats_get(const struct sync_tunlink *t, struct sync_tunlink_stats *out);

/* Message for tunnel, stream and errno codes; never NULL. */
const char *sync_tunlink_strerror(int err);

#endif
