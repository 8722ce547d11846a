/* relay/tunnel.c — WireGuard-style UDP tunnel on Noise IK (see tunnel.h for the wire format). */
#include "relay/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mtime.h"

#define MAC_LEN          RELAY_TUNNEL_MAC_LEN
#define KEY_LEN          NOISE_KEY_LEN
#define TS_LEN           8
#define IDX_LEN          4
#define INIT_NOISE_OFF   5
#define INIT_NOISE_LEN   (NOISE_IK_MSG1_OVERHEAD + TS_LEN) /* 104 */
#define INIT_MAC1_OFF    (INIT_NOISE_OFF + INIT_NOISE_LEN) /* 109 */
#define INIT_MAC2_OFF    (INIT_MAC1_OFF + MAC_LEN)         /* 125 */
#define RESP_NOISE_OFF   5
#define RESP_NOISE_LEN   (NOISE_IK_MSG2_OVERHEAD + IDX_LEN) /* 52 */
#define RESP_MAC1_OFF    (RESP_NOISE_OFF + RESP_NOISE_LEN)  /* 57 */
#define RESP_MAC2_OFF    (RESP_MAC1_OFF + MAC_LEN)          /* 73 */
#define COOKIE_NONCE_OFF 5
#define COOKIE_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES /* 24 */
#define COOKIE_BOX_OFF   (COOKIE_NONCE_OFF + COOKIE_NONCE_LEN)
#define PROLOGUE_LEN     (sizeof RELAY_TUNNEL_PROLOGUE - 1 + IDX_LEN)
#define COOKIE_VALID_MS  (RELAY_TUNNEL_COOKIE_SECRET_MS - 10000) /* initiator side margin */
#define LOAD_WINDOW_MS   1000
#define RECV_BATCH       64
#define RL_SLOTS         1024 /* handshake rate limiter buckets (fixed, allocated at creation) */

_Static_assert(INIT_MAC2_OFF + MAC_LEN == RELAY_TUNNEL_INIT_LEN, "init layout");
_Static_assert(RESP_MAC2_OFF + MAC_LEN == RELAY_TUNNEL_RESP_LEN, "response layout");
_Static_assert(COOKIE_BOX_OFF + MAC_LEN + crypto_aead_xchacha20poly1305_ietf_ABYTES ==
                       RELAY_TUNNEL_COOKIE_LEN,
               "cookie layout");

struct session {
	uint32_t local_index, remote_index;
	struct noise_cipher *send, *recv;
	struct noise_replay replay;
	uint64_t created_ms;
	bool initiator;
};

struct pending {
	struct noise_handshake *hs;
	uint32_t index;
	uint64_t first_ms, sent_ms;
	uint8_t mac1[MAC_LEN]; /* of the last initiation sent: AD of the cookie reply */
	bool cookie_retried;
};

struct peer {
	uint32_t id;
	uint8_t pub[KEY_LEN];
	uint8_t mac1_key[KEY_LEN];   /* to compute mac1 on messages we send to this peer */
	uint8_t cookie_key[KEY_LEN]; /* to open cookie replies from this peer */
	struct sockaddr_storage ep;
	socklen_t eplen;
	struct session *cur, *prev, *next;
	struct pending *hs;
	bool persistent, up;
	uint64_t last_init_ts; /* newest initiation timestamp accepted from it */
	uint8_t cookie[MAC_LEN];
	uint64_t cookie_ms;
	bool has_cookie;
	uint64_t last_tx_ms;
	uint64_t keepalive_due_ms; /* 0: none due */
	/* WireGuard's new-handshake timer: armed (at unanswered_ms) by the first data packet sent
	 * since the last authenticated packet received, not pushed back by later sends, disarmed
	 * by any authenticated packet received (transport or handshake) and when it fires. */
	bool unanswered;
	uint64_t unanswered_ms;
};

/* Token bucket (milli-tokens) for the handshakes of one source network under load. */
struct rl_slot {
	uint64_t last_ms;
	uint64_t milli;
	bool used;
};

/* Receiver index -> peer, open addressing (idx 0: empty; p NULL: deleted). */
struct idx_slot {
	uint32_t idx;
	struct peer *p;
};

struct relay_tunnel {
	struct relay_tunnel_config cfg; /* pointer fields not used after new() */
	struct idx_slot *itab;
	size_t icap, iused, ilive; /* iused counts deleted slots too */
	struct rl_slot *rl;        /* RL_SLOTS token buckets keyed by source network */
	uint8_t rl_key[crypto_shorthash_KEYBYTES];
	uint8_t *sk; /* sodium_malloc: our static private key */
	uint8_t pub[KEY_LEN];
	uint8_t mac1_key[KEY_LEN];   /* mac1 of messages addressed to us */
	uint8_t cookie_key[KEY_LEN]; /* seals our cookie replies */
	uint8_t *cookie_secret;      /* sodium_malloc, rotated */
	uint64_t cookie_secret_ms;
	bool has_cookie_secret;
	uint64_t load_window_ms, load_until_ms;
	uint32_t load_count;
	uint64_t last_ts;
	struct peer **peers;
	size_t npeers, cap;
	uint32_t next_peer_id;
	size_t tick_cursor;
	struct relay_tunnel_stats st;
	/* event layer */
	struct event_base *base;
	int fd;
	struct event *ev_read, *ev_tick;
	/* Action lists of the event layer: one for the read/timer callbacks (libevent runs them
	 * one at a time), one for relay_tunnel_send (which the recv/state callbacks may call while
	 * the first is being carried out; its own actions trigger no callback). */
	struct relay_tunnel_actions *ev_acts, *tx_acts;
	uint64_t rx_us; /* kernel receive time of the datagram being handled (relay_tunnel_rx_us) */
};

const char *relay_tunnel_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case RELAY_TUNNEL_ENOTUP:
		return "tunnel: no usable session with the peer yet";
	case RELAY_TUNNEL_ENOPEER:
		return "tunnel: no such peer";
	case RELAY_TUNNEL_ETOOBIG:
		return "tunnel: payload too large";
	case RELAY_TUNNEL_EFULL:
		return "tunnel: action list or peer table full";
	case RELAY_TUNNEL_EMALFORMED:
		return "tunnel: malformed datagram";
	case RELAY_TUNNEL_EMAC:
		return "tunnel: MAC check failed";
	case RELAY_TUNNEL_ECOOKIE:
		return "tunnel: under load, cookie required";
	case RELAY_TUNNEL_EUNKNOWN:
		return "tunnel: peer key not allowed";
	case RELAY_TUNNEL_EINDEX:
		return "tunnel: unknown receiver index";
	case RELAY_TUNNEL_EREPLAY:
		return "tunnel: replayed packet";
	case RELAY_TUNNEL_EDECRYPT:
		return "tunnel: packet failed authentication";
	case RELAY_TUNNEL_EHANDSHAKE:
		return "tunnel: handshake message rejected";
	case RELAY_TUNNEL_EEXPIRED:
		return "tunnel: session expired";
	case RELAY_TUNNEL_ECROSSED:
		return "tunnel: crossing handshake ignored (ours goes on)";
	case RELAY_TUNNEL_ERATELIMIT:
		return "tunnel: handshake rate limit for this source";
	}
	if (err <= ERR_BASE_NOISE && err > ERR_BASE_NOISE - 100)
		return noise_strerror(err);
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "tunnel: unknown error";
}

/* ---- small helpers ---------------------------------------------------------------------- */

static void mac16(uint8_t out[MAC_LEN], const uint8_t *key, size_t keylen, const uint8_t *msg,
                  size_t len)
{
	crypto_generichash(out, MAC_LEN, msg, len, key, keylen);
}

static void label_key(uint8_t out[KEY_LEN], const char label[8], const uint8_t pub[KEY_LEN])
{
	crypto_generichash_state g;

	crypto_generichash_init(&g, NULL, 0, KEY_LEN);
	crypto_generichash_update(&g, (const uint8_t *)label, 8);
	crypto_generichash_update(&g, pub, KEY_LEN);
	crypto_generichash_final(&g, out, KEY_LEN);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	struct buf_reader r;

	buf_reader_init(&r, p, 4);
	return buf_read_u32_le(&r);
}

/* IP address bytes || port (big-endian) of a source address; 0 for other families. */
static size_t addr_bytes(const struct sockaddr *sa, socklen_t len, uint8_t out[18])
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(out, &in->sin_addr, 4);
		memcpy(out + 4, &in->sin_port, 2);
		return 6;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		memcpy(out, &in6->sin6_addr, 16);
		memcpy(out + 16, &in6->sin6_port, 2);
		return 18;
	}
	return 0;
}

static bool addr_equal(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr *b,
                       socklen_t blen)
{
	uint8_t x[18], y[18];
	size_t nx = addr_bytes((const struct sockaddr *)a, alen, x);
	size_t ny = addr_bytes(b, blen, y);

	return nx != 0 && nx == ny && a->ss_family == b->sa_family && memcmp(x, y, nx) == 0;
}

static bool addr_usable(const struct sockaddr *sa, socklen_t len)
{
	uint8_t tmp[18];

	return sa != NULL && len <= (socklen_t)sizeof(struct sockaddr_storage) &&
	       addr_bytes(sa, len, tmp) != 0;
}

static struct relay_tunnel_action *act_push(struct relay_tunnel_actions *acts,
                                            enum relay_tunnel_action_type type,
                                            const struct peer *p)
{
	struct relay_tunnel_action *a;

	if (acts->n >= RELAY_TUNNEL_ACTIONS_MAX)
		return NULL;
	a = &acts->a[acts->n];
	a->type = type;
	a->len = 0;
	a->addrlen = 0;
	a->peer_id = p ? p->id : 0;
	if (p)
		memcpy(a->peer_key, p->pub, KEY_LEN);
	else
		memset(a->peer_key, 0, KEY_LEN);
	return a;
}

static void act_commit(struct relay_tunnel_actions *acts)
{
	acts->n++;
}

static size_t acts_free(const struct relay_tunnel_actions *acts)
{
	return acts->n >= RELAY_TUNNEL_ACTIONS_MAX ? 0 : RELAY_TUNNEL_ACTIONS_MAX - acts->n;
}

/* ---- receiver index table ---------------------------------------------------------------- */

static struct idx_slot *idx_find(const struct relay_tunnel *t, uint32_t idx)
{
	size_t mask = t->icap - 1;

	if (t->icap == 0 || idx == 0)
		return NULL;
	for (size_t i = idx & mask, n = 0; n < t->icap; i = (i + 1) & mask, n++) {
		struct idx_slot *e = &t->itab[i];
		if (e->idx == 0)
			return NULL;
		if (e->idx == idx && e->p != NULL)
			return e;
	}
	return NULL;
}

static void idx_place(struct idx_slot *tab, size_t cap, uint32_t idx, struct peer *p)
{
	size_t i = idx & (cap - 1);

	while (tab[i].idx != 0)
		i = (i + 1) & (cap - 1);
	tab[i].idx = idx;
	tab[i].p = p;
}

/* Rebuilds the table without deleted slots, at most half full. */
static int idx_rebuild(struct relay_tunnel *t)
{
	size_t ncap = 16;
	struct idx_slot *nt;

	while ((t->ilive + 1) * 2 > ncap)
		ncap *= 2;
	if ((nt = calloc(ncap, sizeof *nt)) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < t->icap; i++)
		if (t->itab[i].idx != 0 && t->itab[i].p != NULL)
			idx_place(nt, ncap, t->itab[i].idx, t->itab[i].p);
	free(t->itab);
	t->itab = nt;
	t->icap = ncap;
	t->iused = t->ilive;
	return 0;
}

static int idx_insert(struct relay_tunnel *t, uint32_t idx, struct peer *p)
{
	int ret;

	if ((t->iused + 1) * 2 > t->icap && (ret = idx_rebuild(t)) != 0)
		return ret;
	idx_place(t->itab, t->icap, idx, p);
	t->iused++;
	t->ilive++;
	return 0;
}

static void idx_remove(struct relay_tunnel *t, uint32_t idx)
{
	struct idx_slot *e = idx_find(t, idx);

	if (e != NULL) {
		e->p = NULL;
		t->ilive--;
	}
}

static void session_free(struct relay_tunnel *t, struct session *s)
{
	if (s == NULL)
		return;
	idx_remove(t, s->local_index);
	noise_cipher_free(s->send);
	noise_cipher_free(s->recv);
	sodium_memzero(s, sizeof *s);
	free(s);
	t->st.sessions--;
}

static void pending_free(struct pending *h)
{
	if (h == NULL)
		return;
	noise_handshake_free(h->hs);
	sodium_memzero(h, sizeof *h);
	free(h);
}

/* Abandons p's handshake in progress (its index included). */
static void pending_drop(struct relay_tunnel *t, struct peer *p)
{
	if (p->hs == NULL)
		return;
	idx_remove(t, p->hs->index);
	pending_free(p->hs);
	p->hs = NULL;
}

static void peer_free(struct relay_tunnel *t, struct peer *p)
{
	if (p == NULL)
		return;
	session_free(t, p->cur);
	session_free(t, p->prev);
	session_free(t, p->next);
	pending_drop(t, p);
	sodium_memzero(p, sizeof *p);
	free(p);
	t->st.peers--;
}

/* Peers are kept sorted by id (ids only grow; removal keeps the order). */
static struct peer *peer_by_id(const struct relay_tunnel *t, uint32_t id)
{
	size_t lo = 0, hi = t->npeers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->peers[mid]->id == id)
			return t->peers[mid];
		if (t->peers[mid]->id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Linear: runs once per authenticated initiation, which costs far more. */
static struct peer *peer_by_key(const struct relay_tunnel *t, const uint8_t key[KEY_LEN])
{
	for (size_t i = 0; i < t->npeers; i++)
		if (sodium_memcmp(t->peers[i]->pub, key, KEY_LEN) == 0)
			return t->peers[i];
	return NULL;
}

static uint32_t new_index(const struct relay_tunnel *t)
{
	uint32_t idx;

	do
		idx = randombytes_random();
	while (idx == 0 || idx_find(t, idx) != NULL);
	return idx;
}

static struct session *session_by_index(const struct relay_tunnel *t, uint32_t idx,
                                        struct peer **pp)
{
	struct idx_slot *e = idx_find(t, idx);
	struct peer *p;

	if (e == NULL)
		return NULL;
	p = e->p;
	*pp = p;
	if (p->cur && p->cur->local_index == idx)
		return p->cur;
	if (p->next && p->next->local_index == idx)
		return p->next;
	if (p->prev && p->prev->local_index == idx)
		return p->prev;
	return NULL;
}

static struct peer *peer_by_pending(const struct relay_tunnel *t, uint32_t idx)
{
	struct idx_slot *e = idx_find(t, idx);

	return e != NULL && e->p->hs != NULL && e->p->hs->index == idx ? e->p : NULL;
}

static int peer_add(struct relay_tunnel *t, const uint8_t key[KEY_LEN], struct peer **out)
{
	struct peer *p;

	if (t->npeers >= t->cfg.max_peers)
		return RELAY_TUNNEL_EFULL;
	if (t->npeers == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 8;
		struct peer **np = realloc(t->peers, ncap * sizeof *np);
		if (np == NULL)
			return -ENOMEM;
		t->peers = np;
		t->cap = ncap;
	}
	if ((p = calloc(1, sizeof *p)) == NULL)
		return -ENOMEM;
	p->id = t->next_peer_id++;
	memcpy(p->pub, key, KEY_LEN);
	label_key(p->mac1_key, RELAY_TUNNEL_LABEL_MAC1, key);
	label_key(p->cookie_key, RELAY_TUNNEL_LABEL_COOKIE, key);
	t->peers[t->npeers++] = p;
	t->st.peers++;
	t->st.peers_allocated++;
	*out = p;
	return 0;
}

static void set_endpoint(struct relay_tunnel *t, struct peer *p, const struct sockaddr *from,
                         socklen_t fromlen)
{
	if (p->eplen != 0 && addr_equal(&p->ep, p->eplen, from, fromlen))
		return;
	if (p->eplen != 0)
		t->st.roams++;
	memset(&p->ep, 0, sizeof p->ep);
	memcpy(&p->ep, from, fromlen);
	p->eplen = fromlen;
}

static void build_prologue(uint8_t out[PROLOGUE_LEN], uint32_t index)
{
	memcpy(out, RELAY_TUNNEL_PROLOGUE, sizeof RELAY_TUNNEL_PROLOGUE - 1);
	put_le32(out + sizeof RELAY_TUNNEL_PROLOGUE - 1, index);
}

static bool session_can_send(const struct relay_tunnel *t, const struct session *s, uint64_t now)
{
	return s != NULL && now - s->created_ms < t->cfg.reject_after_ms &&
	       noise_cipher_nonce(s->send) < t->cfg.reject_after_messages;
}

/* The cookie secret, replaced when older than RELAY_TUNNEL_COOKIE_SECRET_MS. */
static const uint8_t *cookie_secret(struct relay_tunnel *t, uint64_t now)
{
	if (!t->has_cookie_secret || now - t->cookie_secret_ms >= RELAY_TUNNEL_COOKIE_SECRET_MS) {
		randombytes_buf(t->cookie_secret, KEY_LEN);
		t->cookie_secret_ms = now;
		t->has_cookie_secret = true;
	}
	return t->cookie_secret;
}

/* ---- sending -------------------------------------------------------------------------- */

/* Appends one transport datagram for s (empty payload = keepalive). */
static int session_send(struct relay_tunnel *t, struct peer *p, struct session *s,
                        const uint8_t *payload, size_t len, uint64_t now,
                        struct relay_tunnel_actions *acts)
{
	static const uint8_t empty[1];
	struct relay_tunnel_action *a = act_push(acts, RELAY_TUNNEL_ACT_SEND, p);
	uint64_t ctr;
	int ret;

	if (a == NULL)
		return RELAY_TUNNEL_EFULL;
	if (!session_can_send(t, s, now) || p->eplen == 0)
		return RELAY_TUNNEL_ENOTUP;
	ctr = noise_cipher_nonce(s->send);
	a->data[0] = RELAY_TUNNEL_MSG_DATA;
	put_le32(a->data + 1, s->remote_index);
	put_le64(a->data + 5, ctr);
	ret = noise_cipher_encrypt(s->send, a->data, RELAY_TUNNEL_DATA_HDR, len ? payload : empty,
	                           len, a->data + RELAY_TUNNEL_DATA_HDR);
	if (ret != 0)
		return ret == NOISE_ENONCE ? RELAY_TUNNEL_ENOTUP : ret;
	a->len = RELAY_TUNNEL_DATA_HDR + len + NOISE_TAG_LEN;
	memcpy(&a->addr, &p->ep, sizeof a->addr);
	a->addrlen = p->eplen;
	act_commit(acts);
	p->last_tx_ms = now;
	p->keepalive_due_ms = 0;
	t->st.tx_packets++;
	t->st.tx_bytes += len;
	if (len == 0)
		t->st.keepalives_sent++;
	else if (!p->unanswered) {
		p->unanswered = true;
		p->unanswered_ms = now;
	}
	return 0;
}

/* Writes a new initiation (fresh ephemeral key and index) to p and appends it. */
static int handshake_start(struct relay_tunnel *t, struct peer *p, uint64_t now,
                           struct relay_tunnel_actions *acts)
{
	uint8_t prologue[PROLOGUE_LEN], ts[TS_LEN];
	struct noise_handshake *hs = NULL;
	struct relay_tunnel_action *a;
	struct pending *h = p->hs;
	size_t n = 0;
	uint64_t wall;
	uint32_t idx;
	int ret;

	if (p->eplen == 0)
		return RELAY_TUNNEL_ENOTUP;
	if ((a = act_push(acts, RELAY_TUNNEL_ACT_SEND, p)) == NULL)
		return RELAY_TUNNEL_EFULL;
	if (h == NULL && (h = calloc(1, sizeof *h)) == NULL)
		return -ENOMEM;
	idx = new_index(t);
	build_prologue(prologue, idx);
	ret = noise_handshake_new(&hs, NOISE_IK, NOISE_INITIATOR, prologue, sizeof prologue, t->sk,
	                          p->pub);
	if (ret != 0)
		goto out;
	wall = mtime_wall_ms() * 1000000u;
	t->last_ts = wall > t->last_ts ? wall : t->last_ts + 1;
	put_le64(ts, t->last_ts);
	a->data[0] = RELAY_TUNNEL_MSG_INIT;
	put_le32(a->data + 1, idx);
	ret = noise_handshake_write_message(hs, ts, sizeof ts, a->data + INIT_NOISE_OFF,
	                                    INIT_NOISE_LEN, &n);
	if (ret != 0)
		goto out;
	mac16(a->data + INIT_MAC1_OFF, p->mac1_key, KEY_LEN, a->data, INIT_MAC1_OFF);
	if (p->has_cookie && now - p->cookie_ms < COOKIE_VALID_MS)
		mac16(a->data + INIT_MAC2_OFF, p->cookie, MAC_LEN, a->data, INIT_MAC2_OFF);
	else
		memset(a->data + INIT_MAC2_OFF, 0, MAC_LEN);
	a->len = RELAY_TUNNEL_INIT_LEN;
	memcpy(&a->addr, &p->ep, sizeof a->addr);
	a->addrlen = p->eplen;
	if ((ret = idx_insert(t, idx, p)) != 0)
		goto out;
	act_commit(acts);

	if (p->hs == NULL) {
		h->first_ms = now;
		p->hs = h;
	} else {
		idx_remove(t, h->index); /* the superseded attempt's index */
	}
	noise_handshake_free(h->hs);
	h->hs = hs;
	hs = NULL;
	h->index = idx;
	h->sent_ms = now;
	memcpy(h->mac1, a->data + INIT_MAC1_OFF, MAC_LEN);
	p->last_tx_ms = now;
	t->st.handshakes_initiated++;
	ret = 0;
out:
	noise_handshake_free(hs);
	if (h != p->hs)
		free(h);
	sodium_memzero(ts, sizeof ts);
	return ret;
}

/* Makes s the current session (previous one kept for in-flight packets). */
static void session_promote(struct relay_tunnel *t, struct peer *p, struct session *s, uint64_t now,
                            struct relay_tunnel_actions *acts)
{
	session_free(t, p->prev);
	p->prev = p->cur;
	p->cur = s;
	t->st.handshakes_completed++;
	if (!p->up) {
		struct relay_tunnel_action *a = act_push(acts, RELAY_TUNNEL_ACT_UP, p);
		p->up = true;
		if (a)
			act_commit(acts);
	}
}

/* ---- receiving ---------------------------------------------------------------------------- */

static void send_cookie_reply(struct relay_tunnel *t, const uint8_t *init,
                              const struct sockaddr *from, socklen_t fromlen,
                              const uint8_t cookie[MAC_LEN], struct relay_tunnel_actions *acts)
{
	struct relay_tunnel_action *a = act_push(acts, RELAY_TUNNEL_ACT_SEND, NULL);

	if (a == NULL)
		return;
	a->data[0] = RELAY_TUNNEL_MSG_COOKIE;
	memcpy(a->data + 1, init + 1, IDX_LEN); /* the initiator's sender index */
	randombytes_buf(a->data + COOKIE_NONCE_OFF, COOKIE_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(a->data + COOKIE_BOX_OFF, NULL, cookie, MAC_LEN,
	                                           init + INIT_MAC1_OFF, MAC_LEN, NULL,
	                                           a->data + COOKIE_NONCE_OFF, t->cookie_key);
	a->len = RELAY_TUNNEL_COOKIE_LEN;
	memcpy(&a->addr, from, fromlen);
	a->addrlen = fromlen;
	act_commit(acts);
	t->st.cookies_sent++;
}

/* True when more than cookie_threshold valid initiations arrived this second (sticky 1 s). */
static bool under_load(struct relay_tunnel *t, uint64_t now)
{
	if (now - t->load_window_ms >= LOAD_WINDOW_MS) {
		t->load_window_ms = now;
		t->load_count = 0;
	}
	if (++t->load_count > t->cfg.cookie_threshold)
		t->load_until_ms = now + LOAD_WINDOW_MS;
	return now < t->load_until_ms;
}

/* Under load, after the cookie check: may this source (IPv4 address, IPv6 /64) have one more
 * handshake now? Colliding sources share a bucket, which only makes the limit stricter. */
static bool rate_ok(struct relay_tunnel *t, const uint8_t *src, size_t srclen, uint64_t now)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t cap = (uint64_t)t->cfg.handshake_burst * 1000, slot = 0;
	struct rl_slot *b;

	crypto_shorthash(h, src, srclen == 6 ? 4 : 8, t->rl_key);
	for (int i = 0; i < 8; i++)
		slot |= (uint64_t)h[i] << (8 * i);
	b = &t->rl[slot % RL_SLOTS];
	if (!b->used) {
		b->used = true;
		b->milli = cap;
	} else {
		b->milli += (now - b->last_ms) * t->cfg.handshake_rate;
		if (b->milli > cap)
			b->milli = cap;
	}
	b->last_ms = now;
	if (b->milli < 1000)
		return false;
	b->milli -= 1000;
	return true;
}

static bool key_allowed(const struct relay_tunnel *t, const uint8_t key[KEY_LEN])
{
	if (t->cfg.role == RELAY_TUNNEL_CLINIC)
		return t->npeers > 0 && sodium_memcmp(t->peers[0]->pub, key, KEY_LEN) == 0;
	return t->cfg.allow(key, t->cfg.arg);
}

static int input_init(struct relay_tunnel *t, const uint8_t *d, size_t len,
                      const struct sockaddr *from, socklen_t fromlen, uint64_t now,
                      struct relay_tunnel_actions *acts)
{
	uint8_t mac[MAC_LEN], cookie[MAC_LEN], src[18], prologue[PROLOGUE_LEN];
	uint8_t ts_buf[TS_LEN], rs[KEY_LEN], idxb[IDX_LEN];
	struct noise_handshake *hs = NULL;
	struct noise_cipher *cs_send = NULL, *cs_recv = NULL;
	struct session *s = NULL;
	struct relay_tunnel_action *a;
	struct peer *p = NULL;
	struct buf_reader r;
	size_t srclen, n = 0;
	uint32_t sender, idx;
	uint64_t ts;
	int ret;

	if (len != RELAY_TUNNEL_INIT_LEN || (srclen = addr_bytes(from, fromlen, src)) == 0) {
		t->st.drop_malformed++;
		return RELAY_TUNNEL_EMALFORMED;
	}
	mac16(mac, t->mac1_key, KEY_LEN, d, INIT_MAC1_OFF);
	if (sodium_memcmp(mac, d + INIT_MAC1_OFF, MAC_LEN) != 0) {
		t->st.drop_bad_mac++;
		return RELAY_TUNNEL_EMAC;
	}
	if (under_load(t, now)) {
		mac16(cookie, cookie_secret(t, now), KEY_LEN, src, srclen);
		mac16(mac, cookie, MAC_LEN, d, INIT_MAC2_OFF);
		if (sodium_memcmp(mac, d + INIT_MAC2_OFF, MAC_LEN) != 0) {
			send_cookie_reply(t, d, from, fromlen, cookie, acts);
			t->st.drop_cookie_needed++;
			sodium_memzero(cookie, sizeof cookie);
			return RELAY_TUNNEL_ECOOKIE;
		}
		sodium_memzero(cookie, sizeof cookie);
		if (!rate_ok(t, src, srclen, now)) {
			t->st.drop_rate_limited++;
			return RELAY_TUNNEL_ERATELIMIT;
		}
	}
	sender = get_le32(d + 1);
	build_prologue(prologue, sender);
	ret = noise_handshake_new(&hs, NOISE_IK, NOISE_RESPONDER, prologue, sizeof prologue, t->sk,
	                          NULL);
	if (ret != 0)
		goto out;
	ret = noise_handshake_read_message(hs, d + INIT_NOISE_OFF, INIT_NOISE_LEN, ts_buf,
	                                   sizeof ts_buf, &n);
	if (ret == 0 && n != TS_LEN)
		ret = NOISE_ESHORT;
	if (ret == 0)
		ret = noise_handshake_remote_static(hs, rs);
	if (ret != 0) {
		t->st.drop_handshake++;
		ret = ret == -ENOMEM ? ret : RELAY_TUNNEL_EHANDSHAKE;
		goto out;
	}
	if (!key_allowed(t, rs)) {
		t->st.drop_unknown_peer++;
		ret = RELAY_TUNNEL_EUNKNOWN;
		goto out;
	}
	buf_reader_init(&r, ts_buf, sizeof ts_buf);
	ts = buf_read_u64_le(&r);
	p = peer_by_key(t, rs);
	if (t->cfg.stamp ? t->cfg.stamp(rs, ts, t->cfg.arg) != 0
	                 : p != NULL && ts <= p->last_init_ts) {
		t->st.drop_stale_initiation++;
		ret = RELAY_TUNNEL_EREPLAY;
		goto out;
	}
	if ((a = act_push(acts, RELAY_TUNNEL_ACT_SEND, p)) == NULL) {
		t->st.drop_no_room++;
		ret = RELAY_TUNNEL_EFULL;
		goto out;
	}
	/* Both sides started a handshake at once: the lower static key wins, so that both end up
	 * on one session. Ours goes on only while it is fresh (it may not be getting through). */
	if (p != NULL && p->hs != NULL) {
		if (memcmp(t->pub, p->pub, KEY_LEN) < 0 &&
		    now - p->hs->first_ms < t->cfg.rekey_timeout_ms) {
			t->st.handshake_crossings++;
			ret = RELAY_TUNNEL_ECROSSED;
			goto out;
		}
		pending_drop(t, p);
	}
	/* Everything checked: now state may be allocated. */
	if (p == NULL && (ret = peer_add(t, rs, &p)) != 0) {
		if (ret == RELAY_TUNNEL_EFULL)
			t->st.drop_no_room++;
		goto out;
	}
	a->peer_id = p->id;
	memcpy(a->peer_key, p->pub, KEY_LEN);
	ret = -ENOMEM;
	if ((s = calloc(1, sizeof *s)) == NULL)
		goto out;
	idx = new_index(t);
	put_le32(idxb, idx);
	a->data[0] = RELAY_TUNNEL_MSG_RESPONSE;
	put_le32(a->data + 1, sender);
	ret = noise_handshake_write_message(hs, idxb, sizeof idxb, a->data + RESP_NOISE_OFF,
	                                    RESP_NOISE_LEN, &n);
	if (ret == 0)
		ret = noise_handshake_split(hs, &cs_send, &cs_recv);
	if (ret != 0) {
		t->st.drop_handshake++;
		ret = ret == -ENOMEM ? ret : RELAY_TUNNEL_EHANDSHAKE;
		goto out;
	}
	mac16(a->data + RESP_MAC1_OFF, p->mac1_key, KEY_LEN, a->data, RESP_MAC1_OFF);
	memset(a->data + RESP_MAC2_OFF, 0, MAC_LEN);
	a->len = RELAY_TUNNEL_RESP_LEN;
	memcpy(&a->addr, from, fromlen);
	a->addrlen = fromlen;
	if ((ret = idx_insert(t, idx, p)) != 0)
		goto out;
	act_commit(acts);

	s->local_index = idx;
	s->remote_index = sender;
	s->send = cs_send;
	s->recv = cs_recv;
	cs_send = cs_recv = NULL;
	noise_replay_init(&s->replay);
	s->created_ms = now;
	s->initiator = false;
	session_free(t, p->next);
	p->next = s;
	t->st.sessions++;
	s = NULL;
	p->last_init_ts = ts;
	p->unanswered = false; /* authenticated packet received */
	p->last_tx_ms = now;
	set_endpoint(t, p, from, fromlen);
	t->st.handshakes_answered++;
	ret = 0;
out:
	noise_handshake_free(hs);
	noise_cipher_free(cs_send);
	noise_cipher_free(cs_recv);
	free(s);
	sodium_memzero(ts_buf, sizeof ts_buf);
	return ret;
}

static int input_response(struct relay_tunnel *t, const uint8_t *d, size_t len,
                          const struct sockaddr *from, socklen_t fromlen, uint64_t now,
                          struct relay_tunnel_actions *acts)
{
	uint8_t mac[MAC_LEN], idxb[IDX_LEN];
	struct noise_cipher *cs_send = NULL, *cs_recv = NULL;
	struct session *s = NULL;
	struct peer *p;
	size_t n = 0;
	int ret;

	if (len != RELAY_TUNNEL_RESP_LEN || !addr_usable(from, fromlen)) {
		t->st.drop_malformed++;
		return RELAY_TUNNEL_EMALFORMED;
	}
	mac16(mac, t->mac1_key, KEY_LEN, d, RESP_MAC1_OFF);
	if (sodium_memcmp(mac, d + RESP_MAC1_OFF, MAC_LEN) != 0) {
		t->st.drop_bad_mac++;
		return RELAY_TUNNEL_EMAC;
	}
	if ((p = peer_by_pending(t, get_le32(d + 1))) == NULL) {
		t->st.drop_unknown_index++;
		return RELAY_TUNNEL_EINDEX;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return -ENOMEM;
	/* A failed read leaves the handshake as it was: the genuine response still works. */
	ret = noise_handshake_read_message(p->hs->hs, d + RESP_NOISE_OFF, RESP_NOISE_LEN, idxb,
	                                   sizeof idxb, &n);
	if (ret == 0 && n != IDX_LEN)
		ret = NOISE_ESHORT;
	if (ret == 0)
		ret = noise_handshake_split(p->hs->hs, &cs_send, &cs_recv);
	if (ret != 0) {
		t->st.drop_handshake++;
		free(s);
		return ret == -ENOMEM ? ret : RELAY_TUNNEL_EHANDSHAKE;
	}
	s->local_index = p->hs->index;
	s->remote_index = get_le32(idxb);
	s->send = cs_send;
	s->recv = cs_recv;
	noise_replay_init(&s->replay);
	s->created_ms = now;
	s->initiator = true;
	t->st.sessions++;
	pending_free(p->hs); /* its index now belongs to the session */
	p->hs = NULL;
	set_endpoint(t, p, from, fromlen);
	p->unanswered = false; /* authenticated packet received */
	session_promote(t, p, s, now, acts);
	/* Confirm the session to the responder at once (it switches on our first packet). */
	if (session_send(t, p, s, NULL, 0, now, acts) != 0)
		t->st.drop_no_room++;
	return 0;
}

static int input_cookie(struct relay_tunnel *t, const uint8_t *d, size_t len, uint64_t now,
                        struct relay_tunnel_actions *acts)
{
	uint8_t cookie[MAC_LEN];
	unsigned long long clen = 0;
	struct peer *p;
	int ret;

	if (len != RELAY_TUNNEL_COOKIE_LEN) {
		t->st.drop_malformed++;
		return RELAY_TUNNEL_EMALFORMED;
	}
	if ((p = peer_by_pending(t, get_le32(d + 1))) == NULL) {
		t->st.drop_unknown_index++;
		return RELAY_TUNNEL_EINDEX;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, &clen, NULL, d + COOKIE_BOX_OFF,
	                                               len - COOKIE_BOX_OFF, p->hs->mac1, MAC_LEN,
	                                               d + COOKIE_NONCE_OFF, p->cookie_key) != 0 ||
	    clen != MAC_LEN) {
		t->st.drop_bad_mac++;
		return RELAY_TUNNEL_EMAC;
	}
	memcpy(p->cookie, cookie, MAC_LEN);
	sodium_memzero(cookie, sizeof cookie);
	p->cookie_ms = now;
	p->has_cookie = true;
	t->st.cookies_received++;
	/* Retry once at once with mac2; later retries follow rekey_timeout_ms. */
	if (!p->hs->cookie_retried) {
		p->hs->cookie_retried = true;
		ret = handshake_start(t, p, now, acts);
		if (ret == -ENOMEM)
			return ret;
	}
	return 0;
}

static int input_data(struct relay_tunnel *t, const uint8_t *d, size_t len,
                      const struct sockaddr *from, socklen_t fromlen, uint64_t now,
                      struct relay_tunnel_actions *acts)
{
	struct relay_tunnel_action *a;
	struct session *s;
	struct peer *p = NULL;
	uint8_t pt[RELAY_TUNNEL_DGRAM_LIMIT];
	struct buf_reader r;
	uint64_t ctr;
	size_t ptlen;

	if (len < RELAY_TUNNEL_OVERHEAD || !addr_usable(from, fromlen)) {
		t->st.drop_malformed++;
		return RELAY_TUNNEL_EMALFORMED;
	}
	buf_reader_init(&r, d + 5, 8);
	ctr = buf_read_u64_le(&r);
	if ((s = session_by_index(t, get_le32(d + 1), &p)) == NULL) {
		t->st.drop_unknown_index++;
		return RELAY_TUNNEL_EINDEX;
	}
	if (now - s->created_ms >= t->cfg.reject_after_ms) {
		t->st.drop_expired++;
		return RELAY_TUNNEL_EEXPIRED;
	}
	if (noise_replay_check(&s->replay, ctr) != 0) {
		t->st.drop_replay++;
		return RELAY_TUNNEL_EREPLAY;
	}
	ptlen = len - RELAY_TUNNEL_OVERHEAD;
	if (noise_cipher_decrypt_at(s->recv, ctr, d, RELAY_TUNNEL_DATA_HDR,
	                            d + RELAY_TUNNEL_DATA_HDR, len - RELAY_TUNNEL_DATA_HDR,
	                            pt) != 0) {
		t->st.drop_decrypt++;
		return RELAY_TUNNEL_EDECRYPT;
	}
	if (noise_replay_update(&s->replay, ctr) != 0) { /* cannot happen after check */
		t->st.drop_replay++;
		return RELAY_TUNNEL_EREPLAY;
	}
	if (s == p->next) {
		p->next = NULL;
		session_promote(t, p, s, now, acts);
	}
	set_endpoint(t, p, from, fromlen);
	p->unanswered = false; /* authenticated packet received */
	t->st.rx_packets++;
	t->st.rx_bytes += ptlen;
	if (ptlen == 0) {
		t->st.keepalives_received++;
	} else if ((a = act_push(acts, RELAY_TUNNEL_ACT_DELIVER, p)) != NULL) {
		memcpy(a->data, pt, ptlen);
		a->len = ptlen;
		act_commit(acts);
		if (p->keepalive_due_ms == 0)
			p->keepalive_due_ms = now + t->cfg.keepalive_ms;
	} else {
		t->st.drop_no_room++;
	}
	sodium_memzero(pt, ptlen);
	return 0;
}

int relay_tunnel_input(struct relay_tunnel *t, const uint8_t *dgram, size_t len,
                       const struct sockaddr *from, socklen_t fromlen, uint64_t now_ms,
                       struct relay_tunnel_actions *acts)
{
	if (t == NULL || acts == NULL || (dgram == NULL && len > 0) || from == NULL)
		return -EINVAL;
	if (acts_free(acts) < 2) {
		t->st.drop_no_room++;
		return RELAY_TUNNEL_EFULL;
	}
	if (len > t->cfg.dgram_max)
		t->st.drop_oversize++;
	if (len == 0 || len > t->cfg.dgram_max) {
		t->st.drop_malformed++;
		return RELAY_TUNNEL_EMALFORMED;
	}
	switch (dgram[0]) {
	case RELAY_TUNNEL_MSG_DATA:
		return input_data(t, dgram, len, from, fromlen, now_ms, acts);
	case RELAY_TUNNEL_MSG_INIT:
		return input_init(t, dgram, len, from, fromlen, now_ms, acts);
	case RELAY_TUNNEL_MSG_RESPONSE:
		return input_response(t, dgram, len, from, fromlen, now_ms, acts);
	case RELAY_TUNNEL_MSG_COOKIE:
		return input_cookie(t, dgram, len, now_ms, acts);
	}
	t->st.drop_malformed++;
	return RELAY_TUNNEL_EMALFORMED;
}

/* ---- sending and timers ----------------------------------------------------------------- */

static bool rekey_due(const struct relay_tunnel *t, const struct peer *p, uint64_t now)
{
	const struct session *s = p->cur;
	uint64_t age;

	if (s == NULL || p->hs != NULL)
		return false;
	if (noise_cipher_nonce(s->send) >= t->cfg.rekey_after_messages)
		return true;
	age = now - s->created_ms;
	if (s->initiator)
		return age >= t->cfg.rekey_after_ms;
	return age >= (uint64_t)t->cfg.rekey_after_ms + 2ull * t->cfg.rekey_timeout_ms;
}

int relay_tunnel_encrypt(struct relay_tunnel *t, uint32_t peer_id, const uint8_t *payload,
                         size_t len, uint64_t now_ms, struct relay_tunnel_actions *acts)
{
	struct peer *p;
	int ret;

	if (t == NULL || acts == NULL || (payload == NULL && len > 0))
		return -EINVAL;
	if ((p = peer_by_id(t, peer_id)) == NULL)
		return RELAY_TUNNEL_ENOPEER;
	if (len > t->cfg.dgram_max - RELAY_TUNNEL_OVERHEAD)
		return RELAY_TUNNEL_ETOOBIG;
	if (acts_free(acts) < 2)
		return RELAY_TUNNEL_EFULL;
	if (!session_can_send(t, p->cur, now_ms)) {
		if (p->hs == NULL) {
			ret = handshake_start(t, p, now_ms, acts);
			if (ret == -ENOMEM)
				return ret;
		}
		return RELAY_TUNNEL_ENOTUP;
	}
	if ((ret = session_send(t, p, p->cur, payload, len, now_ms, acts)) != 0)
		return ret;
	if (rekey_due(t, p, now_ms) && (ret = handshake_start(t, p, now_ms, acts)) == -ENOMEM)
		return ret;
	return 0;
}

/* One peer's timers; needs 3 free action slots. */
static int tick_peer(struct relay_tunnel *t, struct peer *p, uint64_t now,
                     struct relay_tunnel_actions *acts)
{
	struct relay_tunnel_action *a;
	int ret = 0;

	if (p->prev && now - p->prev->created_ms >= t->cfg.reject_after_ms) {
		session_free(t, p->prev);
		p->prev = NULL;
	}
	if (p->next && now - p->next->created_ms >= t->cfg.reject_after_ms) {
		session_free(t, p->next);
		p->next = NULL;
	}
	if (p->cur && now - p->cur->created_ms >= t->cfg.reject_after_ms) {
		session_free(t, p->cur);
		p->cur = NULL;
	}
	if (p->up && !session_can_send(t, p->cur, now)) {
		p->up = false;
		if ((a = act_push(acts, RELAY_TUNNEL_ACT_DOWN, p)) != NULL)
			act_commit(acts);
	}
	if (p->hs && now - p->hs->sent_ms >= t->cfg.rekey_timeout_ms) {
		if (!p->persistent && now - p->hs->first_ms >= t->cfg.handshake_attempt_ms) {
			pending_drop(t, p);
			t->st.handshakes_given_up++;
		} else {
			ret = handshake_start(t, p, now, acts);
		}
	} else if (p->hs == NULL) {
		/* Data sent and nothing authenticated back for keepalive + rekey timeout since
		 * the first unanswered send (the peer may have restarted and lost the session):
		 * later sends do not push this back, or a sender that never pauses (a stream
		 * retrying) would never re-handshake. */
		bool dead = p->cur && p->unanswered &&
		            now - p->unanswered_ms >=
		                    (uint64_t)t->cfg.keepalive_ms + t->cfg.rekey_timeout_ms;
		if ((p->persistent && !session_can_send(t, p->cur, now)) || dead ||
		    rekey_due(t, p, now)) {
			if (dead)
				p->unanswered = false; /* fired: the next data send re-arms it */
			ret = handshake_start(t, p, now, acts);
		}
	}
	if (ret == -ENOMEM)
		return ret;
	if (session_can_send(t, p->cur, now)) {
		bool passive = p->keepalive_due_ms != 0 && now >= p->keepalive_due_ms;
		bool persist = t->cfg.persistent_keepalive_ms != UINT32_MAX &&
		               now - p->last_tx_ms >= t->cfg.persistent_keepalive_ms;
		if (passive || persist)
			(void)session_send(t, p, p->cur, NULL, 0, now, acts);
	}
	return 0;
}

int relay_tunnel_tick(struct relay_tunnel *t, uint64_t now_ms, struct relay_tunnel_actions *acts)
{
	int ret;

	if (t == NULL || acts == NULL)
		return -EINVAL;
	while (t->tick_cursor < t->npeers) {
		if (acts_free(acts) < 3)
			return 1;
		if ((ret = tick_peer(t, t->peers[t->tick_cursor], now_ms, acts)) != 0)
			return ret;
		t->tick_cursor++;
	}
	t->tick_cursor = 0;
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void apply_defaults(struct relay_tunnel_config *c)
{
#define DEF(f, v)                                                                                  \
	if (c->f == 0)                                                                             \
	c->f = (v)
	DEF(rekey_after_ms, 120000);
	DEF(reject_after_ms, 180000);
	DEF(rekey_timeout_ms, 5000);
	DEF(handshake_attempt_ms, 90000);
	DEF(keepalive_ms, 10000);
	DEF(persistent_keepalive_ms, c->role == RELAY_TUNNEL_CLINIC ? 25000 : UINT32_MAX);
	DEF(tick_ms, 100);
	DEF(rekey_after_messages, 1ull << 60);
	DEF(reject_after_messages, UINT64_MAX - (1ull << 13));
	DEF(cookie_threshold, 100);
	DEF(max_peers, 4096);
	DEF(handshake_rate, 20);
	DEF(handshake_burst, 5);
	DEF(dgram_max, RELAY_TUNNEL_DGRAM_MAX);
#undef DEF
}

int relay_tunnel_core_new(struct relay_tunnel **out, const struct relay_tunnel_config *cfg)
{
	struct relay_tunnel *t = NULL;
	struct peer *p;
	int ret = -EINVAL;

	if (out == NULL || cfg == NULL || cfg->local_private == NULL ||
	    (cfg->dgram_max != 0 && (cfg->dgram_max < RELAY_TUNNEL_DGRAM_MIN ||
	                             cfg->dgram_max > RELAY_TUNNEL_DGRAM_LIMIT)))
		goto out;
	if (cfg->role == RELAY_TUNNEL_CLINIC) {
		if (cfg->peer_public == NULL || !addr_usable(cfg->peer_addr, cfg->peer_addrlen))
			goto out;
	} else if (cfg->role != RELAY_TUNNEL_HUB || cfg->allow == NULL) {
		goto out;
	}
	ret = -ENOMEM;
	if (sodium_init() < 0 || (t = calloc(1, sizeof *t)) == NULL)
		goto out;
	t->fd = -1;
	t->cfg = *cfg;
	t->cfg.local_private = t->cfg.peer_public = NULL;
	t->cfg.peer_addr = t->cfg.bind_addr = NULL;
	apply_defaults(&t->cfg);
	t->next_peer_id = 1;
	if ((t->rl = calloc(RL_SLOTS, sizeof *t->rl)) == NULL)
		goto out;
	randombytes_buf(t->rl_key, sizeof t->rl_key);
	if ((t->sk = sodium_malloc(KEY_LEN)) == NULL ||
	    (t->cookie_secret = sodium_malloc(KEY_LEN)) == NULL)
		goto out;
	memcpy(t->sk, cfg->local_private, KEY_LEN);
	if ((ret = noise_public_key(t->pub, t->sk)) != 0)
		goto out;
	label_key(t->mac1_key, RELAY_TUNNEL_LABEL_MAC1, t->pub);
	label_key(t->cookie_key, RELAY_TUNNEL_LABEL_COOKIE, t->pub);
	if (cfg->role == RELAY_TUNNEL_CLINIC) {
		if ((ret = peer_add(t, cfg->peer_public, &p)) != 0)
			goto out;
		p->persistent = true;
		memcpy(&p->ep, cfg->peer_addr, cfg->peer_addrlen);
		p->eplen = cfg->peer_addrlen;
	}
	*out = t;
	t = NULL;
	ret = 0;
out:
	relay_tunnel_free(t);
	return ret;
}

void relay_tunnel_free(struct relay_tunnel *t)
{
	if (t == NULL)
		return;
	if (t->ev_read)
		event_free(t->ev_read);
	if (t->ev_tick)
		event_free(t->ev_tick);
	if (t->fd >= 0)
		close(t->fd);
	for (size_t i = 0; i < t->npeers; i++)
		peer_free(t, t->peers[i]);
	free(t->peers);
	free(t->itab);
	free(t->rl);
	free(t->ev_acts);
	free(t->tx_acts);
	sodium_free(t->sk);
	sodium_free(t->cookie_secret);
	sodium_memzero(t, sizeof *t);
	free(t);
}

void relay_tunnel_stats(const struct relay_tunnel *t, struct relay_tunnel_stats *out)
{
	*out = t->st;
}

int relay_tunnel_peer_find(const struct relay_tunnel *t, const uint8_t key[NOISE_KEY_LEN],
                           uint32_t *peer_id)
{
	const struct peer *p = peer_by_key(t, key);

	if (p == NULL)
		return RELAY_TUNNEL_ENOPEER;
	*peer_id = p->id;
	return 0;
}

int relay_tunnel_peer_endpoint(const struct relay_tunnel *t, uint32_t peer_id,
                               struct sockaddr_storage *out, socklen_t *outlen)
{
	const struct peer *p = peer_by_id(t, peer_id);

	if (p == NULL)
		return RELAY_TUNNEL_ENOPEER;
	if (p->eplen == 0)
		return RELAY_TUNNEL_ENOTUP;
	memcpy(out, &p->ep, sizeof *out);
	*outlen = p->eplen;
	return 0;
}

bool relay_tunnel_peer_is_up(const struct relay_tunnel *t, uint32_t peer_id)
{
	const struct peer *p = peer_by_id(t, peer_id);

	return p != NULL && p->up;
}

int relay_tunnel_peer_remove(struct relay_tunnel *t, uint32_t peer_id)
{
	for (size_t i = 0; i < t->npeers; i++) {
		if (t->peers[i]->id != peer_id)
			continue;
		if (t->peers[i]->persistent)
			return -EINVAL;
		peer_free(t, t->peers[i]);
		memmove(&t->peers[i], &t->peers[i + 1], (t->npeers - i - 1) * sizeof *t->peers);
		t->npeers--;
		t->tick_cursor = 0;
		return 0;
	}
	return RELAY_TUNNEL_ENOPEER;
}

/* ---- event layer ------------------------------------------------------------------------ */

static int run_actions(struct relay_tunnel *t, struct relay_tunnel_actions *acts)
{
	int ret = 0;

	for (size_t i = 0; i < acts->n; i++) {
		struct relay_tunnel_action *a = &acts->a[i];
		switch (a->type) {
		case RELAY_TUNNEL_ACT_SEND:
			if (sendto(t->fd, a->data, a->len, 0, (struct sockaddr *)&a->addr,
			           a->addrlen) < 0) {
				ret = -errno;
				t->st.send_errors++;
			}
			break;
		case RELAY_TUNNEL_ACT_DELIVER:
			if (t->cfg.recv)
				t->cfg.recv(a->peer_id, a->peer_key, a->data, a->len, t->cfg.arg);
			sodium_memzero(a->data, a->len);
			break;
		case RELAY_TUNNEL_ACT_UP:
		case RELAY_TUNNEL_ACT_DOWN:
			if (t->cfg.state)
				t->cfg.state(a->peer_id, a->peer_key,
				             a->type == RELAY_TUNNEL_ACT_UP, t->cfg.arg);
			break;
		}
	}
	acts->n = 0;
	return ret;
}

/* The kernel's receive time of a datagram (SO_TIMESTAMPNS: wall clock) on the monotonic clock,
 * or 0 when it gave none. A busy loop reads datagrams in batches long after they came: the
 * media's arrival times (its congestion controller's delivery rate and delay gradient) must
 * not see that. */
static uint64_t rx_time_us(struct msghdr *mh, uint64_t mono_ns, uint64_t wall_ns)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		struct timespec ts;
		uint64_t at;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS ||
		    c->cmsg_len < CMSG_LEN(sizeof ts))
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof ts);
		at = mtime_ts_to_ns(&ts);
		/* older than 10 s, or in the future: the wall clock stepped meanwhile */
		if (at > wall_ns || wall_ns - at > 10000000000ull || wall_ns - at > mono_ns)
			return 0;
		return (mono_ns - (wall_ns - at)) / 1000;
	}
	return 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct relay_tunnel *t = arg;
	struct relay_tunnel_actions *acts = t->ev_acts;
	uint8_t buf[RELAY_TUNNEL_DGRAM_LIMIT + 1];
	union {
		char buf[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;

	acts->n = 0;
	for (int i = 0; i < RECV_BATCH; i++) {
		struct sockaddr_storage from;
		struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
		struct msghdr mh = {.msg_name = &from,
		                    .msg_namelen = sizeof from,
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl.buf,
		                    .msg_controllen = sizeof ctl.buf};
		ssize_t n = recvmsg(fd, &mh, MSG_TRUNC);
		uint64_t mono_ns, wall_ns;

		if (n < 0)
			break;
		if (mh.msg_flags & MSG_TRUNC)
			n = (ssize_t)sizeof buf; /* oversize: the core drops and counts it */
		mono_ns = mtime_now_ns();
		wall_ns = mtime_wall_ns();
		t->rx_us = rx_time_us(&mh, mono_ns, wall_ns);
		if (t->rx_us == 0)
			t->rx_us = mono_ns / 1000;
		if (relay_tunnel_input(t, buf, (size_t)n, (struct sockaddr *)&from, mh.msg_namelen,
		                       mono_ns / 1000000, acts) == -ENOMEM)
			log_warn("tunnel: out of memory handling a datagram");
		(void)run_actions(t, acts);
		t->rx_us = 0;
		if (fd != t->fd) /* a callback rebound the tunnel: this socket is gone */
			break;
	}
}

uint64_t relay_tunnel_rx_us(const struct relay_tunnel *t)
{
	return t ? t->rx_us : 0;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct relay_tunnel *t = arg;
	struct relay_tunnel_actions *acts = t->ev_acts;
	int ret;

	acts->n = 0;
	do {
		ret = relay_tunnel_tick(t, mtime_now_ms(), acts);
		(void)run_actions(t, acts);
	} while (ret == 1);
}

/* A UDP socket bound to addr; datagrams larger than one 1500-byte packet (dgram_max) are
 * fragmented by the kernel instead of refused with EMSGSIZE or sent with DF. */
static int open_socket(const struct sockaddr *addr, socklen_t addrlen, uint32_t dgram_max, int *out)
{
	int fd = socket(addr->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int dont4 = IP_PMTUDISC_DONT, dont6 = IPV6_PMTUDISC_DONT;

	if (fd < 0)
		return -errno;
	if (dgram_max > RELAY_TUNNEL_DGRAM_MAX &&
	    (addr->sa_family == AF_INET6
	             ? setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont6, sizeof dont6)
	             : setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont4, sizeof dont4)) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	if (bind(fd, addr, addrlen) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* receive times from the kernel (relay_tunnel_rx_us); without them, the read time */
	(void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){1}, sizeof(int));
	*out = fd;
	return 0;
}

int relay_tunnel_new(struct relay_tunnel **out, struct event_base *base,
                     const struct relay_tunnel_config *cfg)
{
	struct relay_tunnel *t = NULL;
	struct timeval tv;
	int ret = -EINVAL;

	if (out == NULL || base == NULL || cfg == NULL || cfg->bind_addr == NULL ||
	    cfg->bind_addrlen == 0 || cfg->bind_addrlen > sizeof(struct sockaddr_storage))
		goto out;
	if ((ret = relay_tunnel_core_new(&t, cfg)) != 0)
		goto out;
	t->base = base;
	if ((ret = open_socket(cfg->bind_addr, cfg->bind_addrlen, t->cfg.dgram_max, &t->fd)) != 0)
		goto out;
	ret = -ENOMEM;
	if ((t->ev_acts = calloc(1, sizeof *t->ev_acts)) == NULL ||
	    (t->tx_acts = calloc(1, sizeof *t->tx_acts)) == NULL)
		goto out;
	t->ev_read = event_new(base, t->fd, EV_READ | EV_PERSIST, on_read, t);
	t->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, t);
	if (t->ev_read == NULL || t->ev_tick == NULL)
		goto out;
	tv.tv_sec = t->cfg.tick_ms / 1000;
	tv.tv_usec = (t->cfg.tick_ms % 1000) * 1000;
	if (event_add(t->ev_read, NULL) != 0 || event_add(t->ev_tick, &tv) != 0)
		goto out;
	event_active(t->ev_tick, EV_TIMEOUT, 0); /* clinic: handshake now, not after one tick */
	*out = t;
	t = NULL;
	ret = 0;
out:
	relay_tunnel_free(t);
	return ret;
}

int relay_tunnel_send(struct relay_tunnel *t, uint32_t peer_id, const uint8_t *payload, size_t len)
{
	struct relay_tunnel_actions *acts;
	int ret, sret;

	if (t == NULL || t->base == NULL)
		return -EINVAL;
	acts = t->tx_acts;
	acts->n = 0;
	ret = relay_tunnel_encrypt(t, peer_id, payload, len, mtime_now_ms(), acts);
	sret = run_actions(t, acts);
	return ret != 0 ? ret : sret;
}

int relay_tunnel_rebind(struct relay_tunnel *t, const struct sockaddr *addr, socklen_t addrlen)
{
	struct event *ev;
	int fd, ret;

	if (t == NULL || t->base == NULL || addr == NULL || addrlen == 0 ||
	    addrlen > sizeof(struct sockaddr_storage))
		return -EINVAL;
	if ((ret = open_socket(addr, addrlen, t->cfg.dgram_max, &fd)) != 0)
		return ret;
	if ((ev = event_new(t->base, fd, EV_READ | EV_PERSIST, on_read, t)) == NULL ||
	    event_add(ev, NULL) != 0) {
		if (ev)
			event_free(ev);
		close(fd);
		return -ENOMEM;
	}
	event_free(t->ev_read);
	close(t->fd);
	t->ev_read = ev;
	t->fd = fd;
	return 0;
}

int relay_tunnel_local_addr(const struct relay_tunnel *t, struct sockaddr_storage *out,
                            socklen_t *outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (t == NULL || t->fd < 0)
		return -EINVAL;
	if (getsockname(t->fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	*out = ss;
	*outlen = len;
	return 0;
}
