/* relay/tunnel.h — the encrypted UDP tunnel between a clinic and its hub (live media path).
 *
 * In the manner of WireGuard, on Noise_IK_25519_ChaChaPoly_BLAKE2b (common/noise.h) with the
 * sites' long-term X25519 keys (common/keys.h). One UDP flow per clinic–hub pair. A clinic has
 * exactly one peer (its hub: address + pinned public key); a hub has many peers, admitted by an
 * allow-list callback (the list lives in the sync store).
 *
 * ---- Wire format (all integers little-endian) -------------------------------------------
 *
 *  1 INITIATION (RELAY_TUNNEL_INIT_LEN = 141 bytes)
 *      type=1 (1) | sender_index (4) | Noise IK msg 1 (96 + 8 = 104) | mac1 (16) | mac2 (16)
 *    The Noise prologue is "pirogue-tunnel-v1" || sender_index (4), so the index is
 *    authenticated. The encrypted Noise payload is an 8-byte timestamp (wall-clock ns, strictly
 *    increasing per initiator): the responder accepts an initiation from a peer only if its
 *    timestamp is newer than the last one accepted (replayed initiations are dropped). The
 *    last accepted one is kept in memory, or, with the stamp hook of the config, wherever the
 *    hook keeps it (a hub: its store, so a recorded initiation is refused after a restart too).
 *    As in WireGuard this needs a sane wall clock on the initiator: a clinic whose clock went
 *    back (no RTC, no NTP yet) is not answered until its clock passes the last accepted
 *    timestamp or the record is reset (in memory: relay_tunnel_peer_remove, restart; the
 *    sync store: re-enrolment).
 *  2 RESPONSE (RELAY_TUNNEL_RESP_LEN = 89 bytes)
 *      type=2 (1) | receiver_index (4) | Noise IK msg 2 (48 + 4 = 52) | mac1 (16) | mac2 (16)
 *    receiver_index is the initiator's sender_index; the encrypted Noise payload is the
 *    responder's own index (4), the receiver index of the transport messages sent to it.
 *  3 COOKIE REPLY (RELAY_TUNNEL_COOKIE_LEN = 61 bytes, smaller than what it answers)
 *      type=3 (1) | receiver_index (4) | nonce (24) | XChaCha20-Poly1305(cookie (16)) (32)
 *  4 TRANSPORT (RELAY_TUNNEL_OVERHEAD = 29 bytes more than the payload)
 *      type=4 (1) | receiver_index (4) | counter (8) | ChaCha20-Poly1305(payload) (len + 16)
 *    The counter is the AEAD nonce; the 13-byte header is the associated data. An empty payload
 *    is a keepalive.
 *
 *  MACs are keyed BLAKE2b with a 16-byte output, MAC(key, msg) = BLAKE2b-128(key, msg):
 *    mac1 = MAC(BLAKE2b-256("mac1----" || receiver's static public key), msg up to mac1)
 *           checked before any public-key work, so garbage is rejected for the price of a hash;
 *    mac2 = MAC(cookie, msg up to mac2), or 16 zero bytes when the sender holds no fresh cookie;
 *    cookie = MAC(secret, source IPv4/IPv6 address bytes || source port (2, big-endian)), the
 *           secret being random and replaced every RELAY_TUNNEL_COOKIE_SECRET_MS;
 *    the cookie reply is XChaCha20-Poly1305 under BLAKE2b-256("cookie--" || responder's static
 *           public key), random nonce, associated data = the mac1 of the initiation it answers.
 *
 * ---- Behaviour --------------------------------------------------------------------------
 *
 *  - Nothing is allocated for a packet until it has passed mac1, the cookie check when under
 *    load, the Noise decryption of msg 1 (proof of the initiator's static key), the allow
 *    check and the timestamp check. Unknown or revoked keys get no answer at all.
 *  - Under load (more than cookie_threshold valid initiations in the current second, sticky for
 *    one second) an initiation without a valid mac2 is answered by a cookie reply, statelessly.
 *    The initiator stores the cookie (valid RELAY_TUNNEL_COOKIE_SECRET_MS minus a margin) and
 *    retries at once with mac2. Under load, initiations with a valid mac2 are also limited per
 *    source network (IPv4 address, IPv6 /64) to handshake_rate/s with bursts of
 *    handshake_burst, in a fixed table of token buckets (nothing allocated per packet).
 *  - Sessions: each handshake makes a new session with fresh indices. The initiator uses it as
 *    soon as it reads the response and sends a keepalive at once to confirm it; the responder
 *    keeps it as "next" and switches to it on the first authenticated transport packet. The
 *    session replaced stays as "previous" (until the next switch, at most reject_after_ms after
 *    its creation) to decrypt packets still in flight.
 *  - Crossing handshakes (both sides initiate at once, e.g. both reach rekey_after_messages): the
 *    side with the lower static public key (memcmp) ignores the other's initiation while its own
 *    is younger than rekey_timeout_ms; the other side abandons its own and answers. Both then
 *    use the same new session.
 *  - Rekey: a new handshake when the session's initiator has used it rekey_after_ms (the
 *    responder takes over after rekey_after_ms + 2 x rekey_timeout_ms), or when either side's
 *    send counter reaches rekey_after_messages. A session is never used to send after
 *    reject_after_ms or reject_after_messages, nor accepted on receive after reject_after_ms.
 *  - Handshakes are retried every rekey_timeout_ms with a new ephemeral key; a clinic retries
 *    for ever, a hub gives up on a peer after handshake_attempt_ms.
 *  - Replay: a sliding window per session (struct noise_replay, 4032 packets): out of order
 *    is fine, duplicates and packets older than the window are dropped and counted.
 *  - Keepalives: after receiving data, if nothing is sent within keepalive_ms an empty transport
 *    message is sent; the clinic also sends one whenever it has sent nothing for
 *    persistent_keepalive_ms (holds the NAT mapping). If nothing authenticated was received for
 *    keepalive_ms + rekey_timeout_ms after the first data packet sent since the last receive
 *    (later sends do not push this back), a new handshake starts: a peer that restarted and
 *    lost the session is reached again even while data is sent continuously.
 *  - Roaming: an authenticated, non-replayed transport packet (or handshake message) from a new
 *    source address moves the peer's endpoint there; a packet failing any check never does.
 *
 * ---- Two layers -------------------------------------------------------------------------
 *
 *  The core (relay_tunnel_core_new, relay_tunnel_input, relay_tunnel_encrypt, relay_tunnel_tick)
 *  touches no socket and no clock: it takes a datagram, its source and the time, and appends
 *  actions (datagrams to send, plaintext to deliver, peer up/down) to a caller-owned list. The
 *  event layer (relay_tunnel_new) owns a UDP socket on a libevent event_base, runs the core on
 *  each datagram and on a periodic timer, and turns actions into sendto() and callbacks.
 *  Objects are not thread-safe. Do not free a tunnel from inside one of its callbacks.
 *
 * Errors: 0, -errno, or RELAY_TUNNEL_E* below (relay_tunnel_strerror names them all).
 * Output pointers are written only on success.
 */
#ifndef PIROGUE_RELAY_TUNNEL_H
#define PIROGUE_RELAY_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/err.h"
#include "common/noise.h"

struct event_base;
struct relay_tunnel;

/* ---- Wire constants ---- */
#define RELAY_TUNNEL_MSG_INIT     1
#define RELAY_TUNNEL_MSG_RESPONSE 2
#define RELAY_TUNNEL_MSG_COOKIE   3
#define RELAY_TUNNEL_MSG_DATA     4

#define RELAY_TUNNEL_MAC_LEN          16
#define RELAY_TUNNEL_INIT_LEN         141
#define RELAY_TUNNEL_RESP_LEN         89
#define RELAY_TUNNEL_COOKIE_LEN       61
#define RELAY_TUNNEL_DATA_HDR         13 /* type, index, counter */
#define RELAY_TUNNEL_OVERHEAD         (RELAY_TUNNEL_DATA_HDR + NOISE_TAG_LEN) /* 29 */
#define RELAY_TUNNEL_DGRAM_MAX        1472 /* default dgram_max (1500 - IPv4 - UDP) */
#define RELAY_TUNNEL_PAYLOAD_MAX      (RELAY_TUNNEL_DGRAM_MAX - RELAY_TUNNEL_OVERHEAD) /* 1443 */
#define RELAY_TUNNEL_DGRAM_MIN        1232 /* dgram_max range: a 1280-byte IPv6 packet ... */
#define RELAY_TUNNEL_DGRAM_LIMIT      5912 /* ... to 4 IPv4 fragments of 1500 (4 x 1480 - 8) */
#define RELAY_TUNNEL_PROLOGUE         "pirogue-tunnel-v1"
#define RELAY_TUNNEL_LABEL_MAC1       "mac1----"
#define RELAY_TUNNEL_LABEL_COOKIE     "cookie--"
#define RELAY_TUNNEL_COOKIE_SECRET_MS 120000

/* ---- Errors (relay/ range, tunnel part: -3100 .. -3149) ----
 *   ENOTUP      no usable session with the peer (a handshake is under way)
 *   ENOPEER     no peer with that id / key
 *   ETOOBIG     payload larger than dgram_max - RELAY_TUNNEL_OVERHEAD
 *   EFULL       action list or peer table full
 *   EMALFORMED  unknown message type, wrong length, oversize datagram
 *   EMAC        mac1 wrong, or cookie reply not authentic
 *   ECOOKIE     under load and no valid mac2: a cookie reply was sent instead
 *   EUNKNOWN    static key not allowed (unknown or revoked)
 *   EINDEX      no session / pending handshake with that receiver index
 *   EREPLAY     transport counter or initiation timestamp already seen / too old
 *   EDECRYPT    transport packet failed authentication (tampered, wrong key)
 *   EHANDSHAKE  Noise refused the handshake message
 *   EEXPIRED    session older than reject_after_ms
 *   ECROSSED    both sides initiated at once; ours goes on, theirs is ignored
 *   ERATELIMIT  under load, this source network already had its handshakes this second */
#define RELAY_TUNNEL_ERR_BASE   (ERR_BASE_RELAY - 100)
#define RELAY_TUNNEL_ENOTUP     (RELAY_TUNNEL_ERR_BASE - 0)
#define RELAY_TUNNEL_ENOPEER    (RELAY_TUNNEL_ERR_BASE - 1)
#define RELAY_TUNNEL_ETOOBIG    (RELAY_TUNNEL_ERR_BASE - 2)
#define RELAY_TUNNEL_EFULL      (RELAY_TUNNEL_ERR_BASE - 3)
#define RELAY_TUNNEL_EMALFORMED (RELAY_TUNNEL_ERR_BASE - 10)
#define RELAY_TUNNEL_EMAC       (RELAY_TUNNEL_ERR_BASE - 11)
#define RELAY_TUNNEL_ECOOKIE    (RELAY_TUNNEL_ERR_BASE - 12)
#define RELAY_TUNNEL_EUNKNOWN   (RELAY_TUNNEL_ERR_BASE - 13)
#define RELAY_TUNNEL_EINDEX     (RELAY_TUNNEL_ERR_BASE - 14)
#define RELAY_TUNNEL_EREPLAY    (RELAY_TUNNEL_ERR_BASE - 15)
#define RELAY_TUNNEL_EDECRYPT   (RELAY_TUNNEL_ERR_BASE - 16)
#define RELAY_TUNNEL_EHANDSHAKE (RELAY_TUNNEL_ERR_BASE - 17)
#define RELAY_TUNNEL_EEXPIRED   (RELAY_TUNNEL_ERR_BASE - 18)
#define RELAY_TUNNEL_ECROSSED   (RELAY_TUNNEL_ERR_BASE - 19)
#define RELAY_TUNNEL_ERATELIMIT (RELAY_TUNNEL_ERR_BASE - 20)

/* Message for any RELAY_TUNNEL_E* code, NOISE_E* code or negated errno; never NULL. */
const char *relay_tunnel_strerror(int err);

/* ---- Configuration ---- */

enum relay_tunnel_role { RELAY_TUNNEL_CLINIC, RELAY_TUNNEL_HUB };

/* Is this initiator's static key allowed (enrolled, not revoked)? Called by a hub for each
 * authenticated initiation, before any per-peer state exists. */
typedef bool relay_tunnel_allow_h(const uint8_t key[NOISE_KEY_LEN], void *arg);
/* A transport payload arrived from peer `peer_id` (key: its static key). data is valid only
 * during the call. Keepalives (empty payloads) are not delivered. */
typedef void relay_tunnel_recv_h(uint32_t peer_id, const uint8_t key[NOISE_KEY_LEN],
                                 const uint8_t *data, size_t len, void *arg);
/* The peer gained (up = true) or lost its last usable session. */
typedef void relay_tunnel_state_h(uint32_t peer_id, const uint8_t key[NOISE_KEY_LEN], bool up,
                                  void *arg);
/* Durable replay protection of initiations (e.g. the sync store, so that it survives a
 * restart): an authenticated initiation from an allowed key carries timestamp ts. Return 0 if
 * ts is newer than the last one accepted from that key and is now recorded; non-zero refuses
 * the initiation (a replay, or a clock that went back; also when the record cannot be
 * checked). Called before any per-peer state exists. */
typedef int relay_tunnel_stamp_h(const uint8_t key[NOISE_KEY_LEN], uint64_t ts, void *arg);

/* All durations in milliseconds; a zero field takes the default shown. */
struct relay_tunnel_config {
	enum relay_tunnel_role role;
	const uint8_t *local_private; /* our X25519 private key (32 bytes, copied). Required. */
	/* Clinic only (required): the hub's pinned public key and address. */
	const uint8_t *peer_public;
	const struct sockaddr *peer_addr;
	socklen_t peer_addrlen;
	/* Event layer only: address to bind the UDP socket to (port 0: any). Required there. */
	const struct sockaddr *bind_addr;
	socklen_t bind_addrlen;
	/* Hub only (required): allow-list check. */
	relay_tunnel_allow_h *allow;
	/* Optional (gets `arg`): when set it is the initiation timestamp check, the only one;
	 * when NULL the last accepted timestamp is kept per peer in memory (lost at restart). */
	relay_tunnel_stamp_h *stamp;
	/* Event layer: optional callbacks (all get `arg`). */
	relay_tunnel_recv_h *recv;
	relay_tunnel_state_h *state;
	void *arg;

	uint32_t rekey_after_ms;          /* 120000 */
	uint32_t reject_after_ms;         /* 180000 */
	uint32_t rekey_timeout_ms;        /* 5000: handshake retry interval */
	uint32_t handshake_attempt_ms;    /* 90000: hub gives up after this */
	uint32_t keepalive_ms;            /* 10000 */
	uint32_t persistent_keepalive_ms; /* clinic 25000, hub never; UINT32_MAX: never */
	uint32_t tick_ms;                 /* 100: event layer timer period */
	uint64_t rekey_after_messages;    /* 2^60 */
	uint64_t reject_after_messages;   /* 2^64 - 2^13 - 1 */
	uint32_t cookie_threshold;        /* 100 initiations/s before asking for cookies */
	uint32_t max_peers;               /* 4096 (hub) */
	uint32_t handshake_rate;          /* 20/s per source network when under load ... */
	uint32_t handshake_burst;         /* ... with bursts of 5 */
	/* Largest datagram sent or accepted: RELAY_TUNNEL_DGRAM_MAX (1472); RELAY_TUNNEL_DGRAM_MIN
	 * .. RELAY_TUNNEL_DGRAM_LIMIT. Larger than 1472 (one IPv4 packet of 1500 bytes), datagrams
	 * are sent as IP fragments: the event layer's socket then has IP_MTU_DISCOVER (IPv6:
	 * IPV6_MTU_DISCOVER) = PMTUDISC_DONT, and the receiving kernel reassembles them. Both ends
	 * must use the same value (a larger datagram is dropped as oversize). */
	uint32_t dgram_max;
};

/* ---- Statistics ---- */
struct relay_tunnel_stats {
	uint64_t rx_packets, rx_bytes; /* authenticated transport packets / payload bytes */
	uint64_t tx_packets, tx_bytes; /* transport packets / payload bytes sent */
	uint64_t keepalives_sent, keepalives_received;
	uint64_t handshakes_initiated; /* initiations sent (retries included) */
	uint64_t handshakes_answered;  /* responses sent */
	uint64_t handshakes_completed; /* sessions that became current (either role) */
	uint64_t handshakes_given_up;
	uint64_t handshake_crossings; /* peer's initiation ignored: ours was in flight (we win) */
	uint64_t cookies_sent, cookies_received;
	uint64_t roams;           /* endpoint moved by an authenticated packet */
	uint64_t peers;           /* per-peer states now allocated */
	uint64_t peers_allocated; /* per-peer states ever allocated */
	uint64_t sessions;        /* sessions now held */
	/* Dropped datagrams, by reason. */
	uint64_t drop_malformed;        /* unknown type, wrong length, oversize */
	uint64_t drop_oversize;         /* of those: longer than dgram_max */
	uint64_t drop_bad_mac;          /* mac1 wrong, or cookie reply not authentic */
	uint64_t drop_cookie_needed;    /* under load without valid mac2 (cookie reply sent) */
	uint64_t drop_rate_limited;     /* under load, valid mac2, source over its rate */
	uint64_t drop_handshake;        /* Noise refused msg 1 / msg 2 */
	uint64_t drop_unknown_peer;     /* static key not allowed: unknown or revoked */
	uint64_t drop_stale_initiation; /* initiation timestamp not newer (replayed), or refused
	                                 * by the stamp hook */
	uint64_t drop_unknown_index;    /* no session / pending handshake with that index */
	uint64_t drop_replay;           /* transport counter seen or outside the window */
	uint64_t drop_decrypt;          /* transport packet failed authentication (tamper) */
	uint64_t drop_expired;          /* session past reject_after_ms */
	uint64_t drop_no_room;          /* peer table full, or action list full */
	uint64_t send_errors;           /* sendto() failures (event layer) */
};

/* ---- Core: no sockets, no clock ---- */

enum relay_tunnel_action_type {
	RELAY_TUNNEL_ACT_SEND,    /* send data[0..len) to addr */
	RELAY_TUNNEL_ACT_DELIVER, /* plaintext data[0..len) from peer */
	RELAY_TUNNEL_ACT_UP,      /* peer has a usable session */
	RELAY_TUNNEL_ACT_DOWN,    /* peer lost its last usable session */
};

struct relay_tunnel_action {
	enum relay_tunnel_action_type type;
	uint32_t peer_id;
	uint8_t peer_key[NOISE_KEY_LEN];
	struct sockaddr_storage addr; /* SEND: destination */
	socklen_t addrlen;
	size_t len;
	uint8_t data[RELAY_TUNNEL_DGRAM_LIMIT];
};

#define RELAY_TUNNEL_ACTIONS_MAX 8
/* Caller-owned list; the core only appends. Set n = 0 (or memset) before use and after
 * carrying the actions out. */
struct relay_tunnel_actions {
	size_t n;
	struct relay_tunnel_action a[RELAY_TUNNEL_ACTIONS_MAX];
};

/* Creates a tunnel core (cfg as above; bind_addr, recv, state, tick_ms are ignored). A clinic's
 * single peer is created at once with id 1 and is "persistent" (the next tick starts the
 * handshake). *out is released with relay_tunnel_free().
 * Errors: -EINVAL (missing key/allow/peer, bad role, dgram_max out of range), -ENOMEM, NOISE_EDH
 * (degenerate key). */
int relay_tunnel_core_new(struct relay_tunnel **out, const struct relay_tunnel_config *cfg)
        __attribute__((warn_unused_result));

/* Processes one received datagram (dgram, len: untrusted) from `from` at monotonic time now_ms
 * and appends 0..2 actions to acts (needs 2 free slots). Returns 0 if the datagram was accepted,
 * otherwise the reason it was dropped (also counted in the stats): RELAY_TUNNEL_EMALFORMED,
 * _EMAC, _ECOOKIE (a cookie reply was appended), _EUNKNOWN, _EINDEX, _EREPLAY, _EDECRYPT,
 * _EHANDSHAKE, _EEXPIRED, _ECROSSED, _ERATELIMIT, _EFULL (no 2 free slots, or peer table full),
 * -ENOMEM. A dropped datagram changes nothing but counters (and, for a valid initiation, the load
 * meter). */
int relay_tunnel_input(struct relay_tunnel *t, const uint8_t *dgram, size_t len,
                       const struct sockaddr *from, socklen_t fromlen, uint64_t now_ms,
                       struct relay_tunnel_actions *acts) __attribute__((warn_unused_result));

/* Encrypts payload (len <= dgram_max - RELAY_TUNNEL_OVERHEAD; len 0 sends a keepalive) for peer_id
 * and appends the datagram (and, when a rekey is due, an initiation) to acts (needs 2 free slots).
 * Errors: RELAY_TUNNEL_ENOPEER, _ETOOBIG, _EFULL, _ENOTUP (no usable session: a handshake is
 * started if none is under way and the peer's address is known), -ENOMEM. */
int relay_tunnel_encrypt(struct relay_tunnel *t, uint32_t peer_id, const uint8_t *payload,
                         size_t len, uint64_t now_ms, struct relay_tunnel_actions *acts)
        __attribute__((warn_unused_result));

/* Runs the timers at now_ms: session expiry (DOWN actions), handshake start/retry/give-up,
 * time and dead-peer rekey, keepalives. Appends actions; returns 0 when every peer was
 * handled, 1 when acts filled up first (carry them out, reset, call again), -ENOMEM. */
int relay_tunnel_tick(struct relay_tunnel *t, uint64_t now_ms, struct relay_tunnel_actions *acts)
        __attribute__((warn_unused_result));

/* ---- Event layer ---- */

/* Creates a tunnel bound to cfg->bind_addr (UDP, non-blocking, owned by the tunnel) on base,
 * with a timer every tick_ms; a clinic starts its handshake at once. Callbacks: cfg->recv,
 * cfg->state. Errors: as relay_tunnel_core_new, plus -errno from socket()/bind(), -ENOMEM. */
int relay_tunnel_new(struct relay_tunnel **out, struct event_base *base,
                     const struct relay_tunnel_config *cfg) __attribute__((warn_unused_result));

/* Sends payload to peer_id now (event layer). Errors: as relay_tunnel_encrypt; -errno when
 * sendto() fails (also counted in send_errors). -EINVAL on a core-only tunnel. */
int relay_tunnel_send(struct relay_tunnel *t, uint32_t peer_id, const uint8_t *payload, size_t len)
        __attribute__((warn_unused_result));

/* Moves the tunnel to a new local socket bound to addr (e.g. the clinic switching from
 * satellite to 4G); sessions are kept and the peer learns the new address from the next
 * authenticated packet (roaming). On error the old socket stays. Errors: -errno, -EINVAL. */
int relay_tunnel_rebind(struct relay_tunnel *t, const struct sockaddr *addr, socklen_t addrlen)
        __attribute__((warn_unused_result));

/* When the kernel received the datagram whose payload the recv callback is being given
 * (SO_TIMESTAMPNS, on mtime_now_us's monotonic clock; the time it was read where the kernel gave
 * none): a busy event loop reads datagrams in batches, long after they came, and the media's
 * arrival times must not see that. 0 outside a recv callback. */
uint64_t relay_tunnel_rx_us(const struct relay_tunnel *t);

/* Local address of the socket (to learn the port chosen for port 0). Errors: -errno, -EINVAL. */
int relay_tunnel_local_addr(const struct relay_tunnel *t, struct sockaddr_storage *out,
                            socklen_t *outlen) __attribute__((warn_unused_result));

/* ---- Both layers ---- */

/* Copies the counters. */
void relay_tunnel_stats(const struct relay_tunnel *t, struct relay_tunnel_stats *out);

/* Finds the peer with this static key. Errors: RELAY_TUNNEL_ENOPEER. */
int relay_tunnel_peer_find(const struct relay_tunnel *t, const uint8_t key[NOISE_KEY_LEN],
                           uint32_t *peer_id) __attribute__((warn_unused_result));

/* Copies a peer's current endpoint (address packets to it go to). Errors: _ENOPEER, _ENOTUP
 * (no address known). */
int relay_tunnel_peer_endpoint(const struct relay_tunnel *t, uint32_t peer_id,
                               struct sockaddr_storage *out, socklen_t *outlen)
        __attribute__((warn_unused_result));

/* True when the peer has a usable session. */
bool relay_tunnel_peer_is_up(const struct relay_tunnel *t, uint32_t peer_id);

/* Forgets a peer and wipes its sessions at once (revocation); no callback, no DOWN action.
 * A clinic's configured peer cannot be removed. Errors: RELAY_TUNNEL_ENOPEER, -EINVAL. */
int relay_tunnel_peer_remove(struct relay_tunnel *t, uint32_t peer_id)
        __attribute__((warn_unused_result));

/* Closes the socket, wipes every key and releases everything; NULL is fine. */
void relay_tunnel_free(struct relay_tunnel *t);

#endif
