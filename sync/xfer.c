/* sync/xfer.c — the record transfer engine (see xfer.h for the protocol and the contract). */
#include "sync/xfer.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <sodium.h>

#include "common/log.h"
#include "common/mtime.h"
#include "common/netaddr.h"
#include "common/noise.h"

#define PROLOGUE "pirogue-sync/1"
/* Handshake records are small (IK: 96 and 48 bytes plus empty payloads). */
#define HS_RECORD_MAX 512
/* Pre-authentication connections the hub holds at once (each costs a socket, a bufferevent and
 * a handshake state, nothing else). */
#define PREAUTH_MAX 256
/* One wire record at most. */
#define WIRE_REC_MAX (SYNC_FRAME_WIRE_MAX + 2)
/* Incoming records a peer may have open at once. */
#define INS_MAX (4 * SYNC_XFER_PENDING_MAX)
/* Resend bookkeeping (per id high-water marks) is bounded. */
#define HW_MAX 4096

enum conn_state { C_CONNECTING, C_HANDSHAKE, C_UP };
/* O_REFUSED: the receiver declined for now (RESUME REFUSE, e.g. busy): offered again after the
 * next delivery. O_REJECTED: refused for good (DELIVERED REJECTED): not again this session. */
enum out_state { O_OFFERED, O_SENDING, O_DONE_SENT, O_REFUSED, O_REJECTED };

struct out_rec {
	struct sync_xfer_rec rec;
	enum out_state state;
	uint64_t next;  /* next byte to send */
	uint64_t acked; /* receiver's durable offset */
	uint64_t seq;   /* FIFO order within a priority */
	bool resumed;   /* the receiver's RESUME arrived */
};

struct in_rec {
	uint8_t id[SYNC_XFER_ID_BYTES];
	uint64_t total;
	uint64_t expect;  /* next byte we expect on the wire */
	uint64_t durable; /* what the store has made durable */
};

struct hw_ent {
	uint8_t id[SYNC_XFER_ID_BYTES];
	uint64_t hw;
};

struct hw_map {
	struct hw_ent *v;
	size_t n, cap;
};

/* Last handshake timestamp seen per allowed peer (IK message 1 replay protection). */
struct hs_stamp {
	uint8_t peer[SYNC_XFER_KEY_BYTES];
	uint64_t stamp;
};

struct conn {
	struct sync_xfer *x;
	struct conn *next;
	struct bufferevent *bev;
	struct event *timer;
	enum conn_state state;
	bool initiator;
	bool external; /* bev came from cfg.transport (not a TCP socket) */
	bool limited;  /* in the rate-limit group */
	uint64_t last_rx_ms;
	uint8_t peer[SYNC_XFER_KEY_BYTES];
	struct noise_handshake *hs;
	struct noise_cipher *tx, *rx;
	/* Per-peer state: allocated only once the peer is authenticated and allowed. */
	uint8_t *pt;   /* plaintext of what we send (SYNC_FRAME_MSG_MAX) */
	uint8_t *rxpt; /* plaintext of what we receive (views of decoded frames point here) */
	struct ev_token_bucket_cfg *peer_rl; /* cap the peer asked for (RATE), owned */
	uint64_t peer_rate;                  /* the same over a transport: bytes/s, 0 = none */
	uint8_t *wire;                       /* 2 + NOISE_MSG_MAX */
	uint8_t *chunk;                      /* cfg.chunk bytes */
	struct out_rec *outs;
	size_t nouts, capouts;
	struct in_rec *ins;
	size_t nins, capins;
	uint64_t inflight;
	uint64_t seq;
	bool hello_seen;
	/* Ids this session answered HAVE/REFUSE: chunks the sender sent optimistically before
	 * our answer are dropped (and counted as duplicates), not a protocol error. */
	uint8_t ignored[16][SYNC_XFER_ID_BYTES];
	unsigned nignored;
};

struct sync_xfer {
	struct event_base *base;
	struct sync_xfer_config cfg;
	char *connect_addr, *listen_addr, *congestion;
	struct sync_xfer_ops ops;
	void *arg;
	struct sync_xfer_transport tp; /* tp.connect == NULL: TCP */
	struct conn *conns;
	size_t npreauth;
	struct evconnlistener *listener;
	struct event *reconnect;
	unsigned attempt;
	bool congestion_warned;
	struct bufferevent_rate_limit_group *rl;
	struct sync_xfer_rec *tmp; /* SYNC_XFER_PENDING_MAX scratch records for out_pending */
	struct hw_map sent_hw, recv_hw;
	struct hs_stamp *stamps;
	size_t nstamps;
	uint64_t last_stamp; /* clinic: last timestamp we sent */
	struct sync_xfer_stats st;
};

static void conn_close(struct conn *c, int err);
static void schedule_reconnect(struct sync_xfer *x);
static int make_rl_cfg(uint64_t rate, struct ev_token_bucket_cfg **out);

/* ---- small helpers ---------------------------------------------------------------------- */

static struct hw_ent *hw_find(struct hw_map *m, const uint8_t *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!memcmp(m->v[i].id, id, SYNC_XFER_ID_BYTES))
			return &m->v[i];
	return NULL;
}

static uint64_t hw_get(struct hw_map *m, const uint8_t *id)
{
	struct hw_ent *e = hw_find(m, id);
	return e ? e->hw : 0;
}

/* Raises the mark; bookkeeping only, so allocation failure just forgets. */
static void hw_raise(struct hw_map *m, const uint8_t *id, uint64_t hw)
{
	struct hw_ent *e = hw_find(m, id);

	if (e) {
		if (hw > e->hw)
			e->hw = hw;
		return;
	}
	if (m->n == HW_MAX) {
		memmove(m->v, m->v + 1, (m->n - 1) * sizeof *m->v);
		m->n--;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct hw_ent *v = realloc(m->v, cap * sizeof *v);
		if (!v)
			return;
		m->v = v;
		m->cap = cap;
	}
	memcpy(m->v[m->n].id, id, SYNC_XFER_ID_BYTES);
	m->v[m->n].hw = hw;
	m->n++;
}

static void hw_forget(struct hw_map *m, const uint8_t *id)
{
	struct hw_ent *e = hw_find(m, id);

	if (e) {
		*e = m->v[m->n - 1];
		m->n--;
	}
}

static void emit(struct conn *c, enum sync_xfer_event ev, const uint8_t *id, int64_t a, int64_t b)
{
	if (c->x->ops.on_event)
		c->x->ops.on_event(c->x->arg, ev, c->peer, id, a, b);
}

static void peer_hex(const uint8_t *peer, char out[17])
{
	sodium_bin2hex(out, 17, peer, 8);
}

/* Parses "host:port" (numeric first, then the resolver). */
static int resolve(const char *addr, struct sockaddr_storage *ss, int *sslen)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *colon;
	int len = (int)sizeof *ss;

	memset(ss, 0, sizeof *ss);
	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)ss, &len) == 0) {
		*sslen = len;
		return 0;
	}
	colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof host || colon == addr)
		return SYNC_XFER_EADDR;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0 || !res)
		return SYNC_XFER_EADDR;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = (int)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* TCP options every sync socket gets: no Nagle (small ACKs must not wait), the congestion
 * controller asked for (BBR) with a clean fallback, and a user timeout so a send stuck on a
 * dead link fails instead of retrying for 15 minutes. */
static void tune_socket(struct sync_xfer *x, evutil_socket_t fd)
{
	int one = 1, lowat = (int)(x->cfg.chunk > 16384 ? x->cfg.chunk : 16384);
	unsigned int uto = x->cfg.dead_ms;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof uto);
	/* Keep the kernel's not-yet-sent queue short (writable only below lowat): data the
	 * kernel holds is out of our scheduler's reach, and urgent chunks would queue behind it.
	 * In-flight data is still governed by the congestion controller (BBR's cwnd). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
	if (x->congestion && *x->congestion &&
	    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, x->congestion, strlen(x->congestion)) !=
	            0 &&
	    !x->congestion_warned) {
		log_warn("sync: TCP congestion control '%s' unavailable (%s); using the kernel "
		         "default",
		         x->congestion, strerror(errno));
		x->congestion_warned = true;
	}
}

/* ---- sending ---------------------------------------------------------------------------- */

/* Writes one length-prefixed wire record. */
static int send_wire(struct conn *c, const uint8_t *p, size_t len)
{
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (len == 0 || len > SYNC_FRAME_WIRE_MAX)
		return -EINVAL;
	if (evbuffer_add(out, hdr, 2) != 0 || evbuffer_add(out, p, len) != 0)
		return -ENOMEM;
	return 0;
}

/* Encodes, encrypts and queues one sync message. */
static int send_msg(struct conn *c, const struct sync_frame *f)
{
	size_t len;
	int ret;

	if ((ret = sync_frame_encode(f, c->pt, SYNC_FRAME_MSG_MAX, &len)) != 0)
		return ret;
	if ((ret = noise_cipher_encrypt(c->tx, NULL, 0, c->pt, len, c->wire + 2)) != 0)
		return ret;
	c->wire[0] = (uint8_t)((len + NOISE_TAG_LEN) >> 8);
	c->wire[1] = (uint8_t)(len + NOISE_TAG_LEN);
	if (evbuffer_add(bufferevent_get_output(c->bev), c->wire, len + NOISE_TAG_LEN + 2) != 0)
		return -ENOMEM;
	return 0;
}

static struct out_rec *out_find(struct conn *c, const uint8_t *id)
{
	for (size_t i = 0; i < c->nouts; i++)
		if (!memcmp(c->outs[i].rec.id, id, SYNC_XFER_ID_BYTES))
			return &c->outs[i];
	return NULL;
}

static void out_remove(struct conn *c, struct out_rec *o)
{
	size_t i = (size_t)(o - c->outs);

	c->outs[i] = c->outs[c->nouts - 1];
	c->nouts--;
}

static size_t outs_active(const struct conn *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nouts; i++)
		n += c->outs[i].state != O_REFUSED && c->outs[i].state != O_REJECTED;
	return n;
}

/* Offers every pending record this session has not offered yet. */
static int offer_new(struct conn *c)
{
	struct sync_xfer *x = c->x;
	int n, ret;

	n = x->ops.out_pending(x->arg, c->peer, x->tmp, SYNC_XFER_PENDING_MAX);
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < SYNC_XFER_PENDING_MAX; i++) {
		struct sync_xfer_rec *r = &x->tmp[i];
		struct sync_frame f = {.type = SYNC_MSG_OFFER};
		struct out_rec *o;

		if (out_find(c, r->id))
			continue;
		/* Urgent records are always offered; others wait for room. */
		if (outs_active(c) >= SYNC_XFER_PENDING_MAX && r->prio > 0)
			continue;
		if (r->total > SYNC_FRAME_OFFSET_MAX || r->meta_len > SYNC_FRAME_META_MAX)
			continue;
		if (c->nouts == c->capouts) {
			size_t cap = c->capouts ? c->capouts * 2 : 16;
			struct out_rec *v = realloc(c->outs, cap * sizeof *v);
			if (!v)
				return -ENOMEM;
			c->outs = v;
			c->capouts = cap;
		}
		o = &c->outs[c->nouts++];
		memset(o, 0, sizeof *o);
		o->rec = *r;
		/* A record nothing of which can have reached the receiver starts at once, without
		 * waiting a round trip for RESUME (saves an RTT for every new urgent case). */
		o->state = r->fresh && hw_get(&x->sent_hw, r->id) == 0 ? O_SENDING : O_OFFERED;
		o->seq = c->seq++;
		memcpy(f.u.offer.id, r->id, SYNC_XFER_ID_BYTES);
		f.u.offer.prio = r->prio;
		f.u.offer.kind = r->kind;
		f.u.offer.total = r->total;
		f.u.offer.chunk_size = x->cfg.chunk;
		f.u.offer.meta_len = r->meta_len;
		f.u.offer.meta = o->rec.meta;
		if ((ret = send_msg(c, &f)) != 0)
			return ret;
		x->st.offers_sent++;
	}
	return 0;
}

/* The record the next chunk comes from: most urgent, then first offered. */
static struct out_rec *pick(struct conn *c)
{
	struct out_rec *best = NULL;

	for (size_t i = 0; i < c->nouts; i++) {
		struct out_rec *o = &c->outs[i];
		if (o->state != O_SENDING || o->next >= o->rec.total)
			continue;
		if (!best || o->rec.prio < best->rec.prio ||
		    (o->rec.prio == best->rec.prio && o->seq < best->seq))
			best = o;
	}
	return best;
}

static int send_done(struct conn *c, struct out_rec *o)
{
	struct sync_frame f = {.type = SYNC_MSG_DONE};

	memcpy(f.u.done.id, o->rec.id, SYNC_XFER_ID_BYTES);
	f.u.done.total = o->rec.total;
	o->state = O_DONE_SENT;
	return send_msg(c, &f);
}

/* Sends chunks while the window and the local output queue have room. */
static int pump(struct conn *c)
{
	struct sync_xfer *x = c->x;
	struct evbuffer *out;
	int ret;

	if (c->state != C_UP)
		return 0;
	out = bufferevent_get_output(c->bev);
	/* Produce a chunk only when the local queue is (nearly) empty: every byte queued here or
	 * in the kernel is a byte an urgent record arriving now would wait behind. */
	while (c->inflight < x->cfg.window && evbuffer_get_length(out) < x->cfg.chunk) {
		struct out_rec *o = pick(c);
		struct sync_frame f = {.type = SYNC_MSG_CHUNK};
		uint64_t left, hw;
		size_t n;

		if (!o)
			break;
		left = o->rec.total - o->next;
		n = left < x->cfg.chunk ? (size_t)left : x->cfg.chunk;
		ret = x->ops.out_read(x->arg, c->peer, o->rec.id, o->next, c->chunk, n);
		if (ret < 0)
			return ret;
		memcpy(f.u.chunk.id, o->rec.id, SYNC_XFER_ID_BYTES);
		f.u.chunk.offset = o->next;
		f.u.chunk.data = c->chunk;
		f.u.chunk.len = n;
		if ((ret = send_msg(c, &f)) != 0)
			return ret;
		hw = hw_get(&x->sent_hw, o->rec.id);
		if (o->next < hw) {
			x->st.bytes_resent += (hw - o->next) < n ? hw - o->next : n;
			x->st.chunks_resent++;
		}
		x->st.bytes_sent += n;
		o->next += n;
		c->inflight += n;
		hw_raise(&x->sent_hw, o->rec.id, o->next);
		if (o->next == o->rec.total && (ret = send_done(c, o)) != 0)
			return ret;
	}
	return 0;
}

/* ---- receiving -------------------------------------------------------------------------- */

static struct in_rec *in_find(struct conn *c, const uint8_t *id)
{
	for (size_t i = 0; i < c->nins; i++)
		if (!memcmp(c->ins[i].id, id, SYNC_XFER_ID_BYTES))
			return &c->ins[i];
	return NULL;
}

static bool is_ignored(struct conn *c, const uint8_t *id)
{
	unsigned n = c->nignored < 16 ? c->nignored : 16;

	for (unsigned i = 0; i < n; i++)
		if (!memcmp(c->ignored[i], id, SYNC_XFER_ID_BYTES))
			return true;
	return false;
}

static void ignore(struct conn *c, const uint8_t *id)
{
	if (!is_ignored(c, id))
		memcpy(c->ignored[c->nignored++ % 16], id, SYNC_XFER_ID_BYTES);
}

static int on_offer(struct conn *c, const struct sync_frame_offer *of)
{
	struct sync_xfer *x = c->x;
	struct sync_frame f = {.type = SYNC_MSG_RESUME};
	struct in_rec *ir = in_find(c, of->id);
	struct sync_xfer_rec *r = x->tmp;
	uint64_t off = 0;
	int st;

	x->st.offers_received++;
	memcpy(f.u.resume.id, of->id, SYNC_XFER_ID_BYTES);
	if (ir) { /* offered twice in one session: answer the same */
		f.u.resume.status = SYNC_RESUME_FROM;
		f.u.resume.offset = ir->durable;
		return send_msg(c, &f);
	}
	if (c->nins >= INS_MAX)
		return SYNC_XFER_EPROTO;
	memset(r, 0, sizeof *r);
	memcpy(r->id, of->id, SYNC_XFER_ID_BYTES);
	r->prio = of->prio;
	r->kind = of->kind;
	r->total = of->total;
	r->meta_len = of->meta_len;
	if (of->meta_len)
		memcpy(r->meta, of->meta, of->meta_len);
	st = x->ops.in_begin(x->arg, c->peer, r, &off);
	if (st < 0)
		return st;
	if ((st == SYNC_RESUME_FROM && off > of->total) ||
	    (st == SYNC_RESUME_REFUSE && off > (uint64_t)INT32_MAX))
		return -EINVAL;
	if (st != SYNC_RESUME_FROM)
		ignore(c, of->id);
	if (st == SYNC_RESUME_REFUSE && off) { /* refused for good: off is the negated code */
		x->st.records_rejected++;
		emit(c, SYNC_XFER_EV_RECEIVED, of->id, 1, -(int64_t)off);
	}
	f.u.resume.status = (uint8_t)st;
	f.u.resume.offset = st == SYNC_RESUME_HAVE ? 0 : off;
	if (st == SYNC_RESUME_FROM) {
		if (c->nins == c->capins) {
			size_t cap = c->capins ? c->capins * 2 : 16;
			struct in_rec *v = realloc(c->ins, cap * sizeof *v);
			if (!v)
				return -ENOMEM;
			c->ins = v;
			c->capins = cap;
		}
		ir = &c->ins[c->nins++];
		memcpy(ir->id, of->id, SYNC_XFER_ID_BYTES);
		ir->total = of->total;
		ir->expect = ir->durable = off;
	}
	return send_msg(c, &f);
}

/* The receiver's verdict on a record: DELIVERED(ok, or rejected with code) to the sender, and
 * this session forgets the record (a rejected one's chunks still in flight and its DONE are
 * dropped as duplicates). */
static int in_verdict(struct conn *c, struct in_rec *ir, bool ok, int32_t code)
{
	struct sync_xfer *x = c->x;
	struct sync_frame f = {.type = SYNC_MSG_DELIVERED};

	memcpy(f.u.delivered.id, ir->id, SYNC_XFER_ID_BYTES);
	f.u.delivered.status = ok ? SYNC_DELIVERED_OK : SYNC_DELIVERED_REJECTED;
	f.u.delivered.code = ok ? 0 : code;
	if (ok) {
		x->st.records_received++;
	} else {
		x->st.records_rejected++;
		ignore(c, ir->id);
	}
	emit(c, SYNC_XFER_EV_RECEIVED, ir->id, ok ? 0 : 1, ok ? 0 : code);
	hw_forget(&x->recv_hw, ir->id);
	*ir = c->ins[c->nins - 1];
	c->nins--;
	return send_msg(c, &f);
}

static int on_chunk(struct conn *c, const struct sync_frame_chunk *ch)
{
	struct sync_xfer *x = c->x;
	struct in_rec *ir = in_find(c, ch->id);
	const uint8_t *data = ch->data;
	uint64_t hw, off = ch->offset, durable = 0;
	size_t len = ch->len;
	int ret;

	if (!ir) {
		if (!is_ignored(c, ch->id))
			return SYNC_XFER_EPROTO;
		x->st.bytes_received += len;
		x->st.dup_bytes_received += len;
		x->st.dup_chunks_received++;
		return 0;
	}
	if (off > ir->expect || off > ir->total || len > ir->total - off)
		return SYNC_XFER_EPROTO;
	x->st.bytes_received += len;
	if (off < ir->expect) {
		/* Sent before our RESUME reached the sender: we have these bytes already. */
		uint64_t skip = ir->expect - off;

		x->st.dup_chunks_received++;
		if (skip >= len) {
			x->st.dup_bytes_received += len;
			return 0;
		}
		x->st.dup_bytes_received += skip;
		off += skip;
		data += skip;
		len -= (size_t)skip;
	} else {
		hw = hw_get(&x->recv_hw, ch->id);
		if (off < hw) {
			x->st.dup_bytes_received += (hw - off) < len ? hw - off : len;
			x->st.dup_chunks_received++;
		}
	}
	ret = x->ops.in_write(x->arg, c->peer, ch->id, off, data, len, &durable);
	if (ret < 0)
		return ret;
	if (ret > 0) /* the header or a chunk failed verification: refused for good */
		return in_verdict(c, ir, false, -ret);
	ir->expect += len;
	hw_raise(&x->recv_hw, ch->id, ir->expect);
	if (durable > ir->expect)
		return -EINVAL;
	if (durable > ir->durable) {
		struct sync_frame f = {.type = SYNC_MSG_ACK};

		ir->durable = durable;
		memcpy(f.u.ack.id, ch->id, SYNC_XFER_ID_BYTES);
		f.u.ack.offset = durable;
		if ((ret = send_msg(c, &f)) != 0)
			return ret;
		emit(c, SYNC_XFER_EV_RECV_PROGRESS, ch->id, (int64_t)durable, (int64_t)ir->total);
	}
	return 0;
}

static int on_done(struct conn *c, const struct sync_frame_done *d)
{
	struct sync_xfer *x = c->x;
	struct in_rec *ir = in_find(c, d->id);
	int32_t code = 0;
	int ret;

	if (!ir && is_ignored(c, d->id))
		return 0;
	if (!ir || d->total != ir->total || ir->expect != ir->total)
		return SYNC_XFER_EPROTO;
	if (ir->durable != ir->total)
		return -EIO; /* the store did not make every byte durable */
	ret = x->ops.in_finish(x->arg, c->peer, d->id, ir->total, &code);
	if (ret < 0)
		return ret;
	return in_verdict(c, ir, ret == 0, code);
}

/* ---- sender-side replies ---------------------------------------------------------------- */

/* The receiver refused one of our records for good: the store records it (it is not offered
 * again, not even in a later session) and this session keeps it as O_REJECTED. */
static int out_rejected(struct conn *c, struct out_rec *o, int32_t code)
{
	struct sync_xfer *x = c->x;
	int ret;

	c->inflight -= o->next - o->acked;
	ret = x->ops.out_delivered(x->arg, c->peer, o->rec.id, SYNC_DELIVERED_REJECTED, code);
	if (ret < 0)
		return ret;
	x->st.records_refused++;
	emit(c, SYNC_XFER_EV_SENT, o->rec.id, SYNC_DELIVERED_REJECTED, code);
	hw_forget(&x->sent_hw, o->rec.id);
	o->state = O_REJECTED;
	return 0;
}

static int on_resume(struct conn *c, const struct sync_frame_resume *r)
{
	struct sync_xfer *x = c->x;
	struct out_rec *o = out_find(c, r->id);
	int ret;

	if (!o || o->resumed || o->state == O_REFUSED || o->state == O_REJECTED)
		return SYNC_XFER_EPROTO;
	o->resumed = true;
	switch (r->status) {
	case SYNC_RESUME_FROM:
		if (r->offset > o->rec.total)
			return SYNC_XFER_EPROTO;
		if (o->state == O_OFFERED) {
			o->next = o->acked = r->offset;
			o->state = O_SENDING;
		} else if (r->offset <= o->next) {
			/* Sent optimistically; the receiver already had [0, offset). */
			c->inflight -= r->offset - o->acked;
			o->acked = r->offset;
		} else {
			c->inflight -= o->next - o->acked;
			o->next = o->acked = r->offset;
		}
		if (o->state == O_SENDING && o->next == o->rec.total)
			return send_done(c, o);
		return 0;
	case SYNC_RESUME_HAVE:
		c->inflight -= o->next - o->acked;
		ret = x->ops.out_delivered(x->arg, c->peer, r->id, SYNC_DELIVERED_OK, 0);
		if (ret < 0)
			return ret;
		x->st.records_sent++;
		emit(c, SYNC_XFER_EV_SENT, r->id, SYNC_DELIVERED_OK, 0);
		hw_forget(&x->sent_hw, r->id);
		out_remove(c, o);
		return offer_new(c);
	default: {
		char hex[33];

		if (r->offset) /* refused for good; the offset carries the negated reason code */
			return r->offset > (uint64_t)INT32_MAX
			               ? SYNC_XFER_EPROTO
			               : out_rejected(c, o, -(int32_t)r->offset);
		sodium_bin2hex(hex, sizeof hex, r->id, SYNC_XFER_ID_BYTES);
		log_warn("sync: peer declined record %s for now", hex);
		c->inflight -= o->next - o->acked;
		o->state = O_REFUSED;
		return 0;
	}
	}
}

static int on_ack(struct conn *c, const struct sync_frame_ack *a)
{
	struct sync_xfer *x = c->x;
	struct out_rec *o = out_find(c, a->id);

	if (!o || !o->resumed || (o->state != O_SENDING && o->state != O_DONE_SENT) ||
	    a->offset > o->next)
		return SYNC_XFER_EPROTO;
	if (a->offset <= o->acked)
		return 0;
	c->inflight -= a->offset - o->acked;
	o->acked = a->offset;
	if (x->ops.out_progress)
		x->ops.out_progress(x->arg, c->peer, a->id, o->acked, o->rec.total);
	emit(c, SYNC_XFER_EV_SEND_PROGRESS, a->id, (int64_t)o->acked, (int64_t)o->rec.total);
	return 0;
}

static int on_delivered(struct conn *c, const struct sync_frame_delivered *d)
{
	struct sync_xfer *x = c->x;
	struct out_rec *o = out_find(c, d->id);
	int ret;

	if (!o || !o->resumed)
		return SYNC_XFER_EPROTO;
	if (d->status != SYNC_DELIVERED_OK) {
		/* Refused for good: after DONE (the whole record failed verification), or earlier
		 * (its header or a chunk did; the receiver drops what we still send of it). */
		if (o->state != O_SENDING && o->state != O_DONE_SENT)
			return SYNC_XFER_EPROTO;
		if ((ret = out_rejected(c, o, d->code)) != 0)
			return ret;
	} else {
		if (o->state != O_DONE_SENT || o->acked != o->rec.total)
			return SYNC_XFER_EPROTO;
		ret = x->ops.out_delivered(x->arg, c->peer, d->id, d->status, d->code);
		if (ret < 0)
			return ret;
		x->st.records_sent++;
		emit(c, SYNC_XFER_EV_SENT, d->id, d->status, d->code);
		hw_forget(&x->sent_hw, d->id);
		out_remove(c, o);
		/* The receiver made progress: offer again what it declined for now. */
		for (size_t i = c->nouts; i-- > 0;)
			if (c->outs[i].state == O_REFUSED)
				out_remove(c, &c->outs[i]);
	}
	if (outs_active(c) < SYNC_XFER_PENDING_MAX / 2)
		return offer_new(c);
	return 0;
}

/* ---- session ---------------------------------------------------------------------------- */

/* Over a transport, the cap it applies is the lowest of ours (sync_xfer_set_rate) and those
 * the live sessions' peers asked for (RATE). The transport's cap covers all its connections:
 * on a hub with several clinics, one clinic's RATE slows the others too (a per-connection cap
 * would need one in struct sync_xfer_transport). */
static void tp_apply_rate(struct sync_xfer *x)
{
	uint64_t r = x->cfg.rate_bytes_per_s;

	for (struct conn *c = x->conns; c; c = c->next)
		if (c->state == C_UP && c->peer_rate && (!r || c->peer_rate < r))
			r = c->peer_rate;
	x->tp.set_rate(x->tp.arg, r);
}

static int on_message(struct conn *c, const uint8_t *p, size_t len)
{
	struct sync_xfer *x = c->x;
	struct sync_frame f;
	int ret;

	if ((ret = sync_frame_decode(p, len, &f)) != 0)
		return ret;
	if (!c->hello_seen && f.type != SYNC_MSG_HELLO)
		return SYNC_XFER_EPROTO;
	switch (f.type) {
	case SYNC_MSG_HELLO:
		if (c->hello_seen || f.u.hello.role == (c->x->cfg.role == SYNC_XFER_CLINIC ? 1 : 2))
			return SYNC_XFER_EPROTO;
		c->hello_seen = true;
		return 0;
	case SYNC_MSG_OFFER:
		return on_offer(c, &f.u.offer);
	case SYNC_MSG_RESUME:
		return on_resume(c, &f.u.resume);
	case SYNC_MSG_CHUNK:
		return on_chunk(c, &f.u.chunk);
	case SYNC_MSG_ACK:
		return on_ack(c, &f.u.ack);
	case SYNC_MSG_DONE:
		return on_done(c, &f.u.done);
	case SYNC_MSG_DELIVERED:
		return on_delivered(c, &f.u.delivered);
	case SYNC_MSG_KEEPALIVE:
		return 0;
	case SYNC_MSG_RATE: {
		/* The peer asks us to slow down (e.g. its live media needs the link). */
		struct ev_token_bucket_cfg *cfg = NULL;
		if (x->tp.set_rate) {
			/* A transport's bufferevent_pair is not the wire: cap the transport. */
			c->peer_rate = f.u.rate.bytes_per_s;
			tp_apply_rate(x);
			return 0;
		}
		if (f.u.rate.bytes_per_s && (ret = make_rl_cfg(f.u.rate.bytes_per_s, &cfg)) != 0)
			return ret;
		/* libevent keeps the cfg pointer: the old one is freed only once replaced. */
		if (bufferevent_set_rate_limit(c->bev, cfg) != 0) {
			ev_token_bucket_cfg_free(cfg);
			return -ENOMEM;
		}
		if (c->peer_rl)
			ev_token_bucket_cfg_free(c->peer_rl);
		c->peer_rl = cfg;
		return 0;
	}
	case SYNC_MSG_ERROR:
		log_warn("sync: peer reported error %d: %.*s", f.u.error.code,
		         (int)f.u.error.msg_len, (const char *)f.u.error.msg);
		return SYNC_XFER_EPROTO;
	}
	return SYNC_XFER_EPROTO;
}

/* Moves a connection to the authenticated state: per-peer buffers, HELLO, our offers. */
static int session_up(struct conn *c)
{
	struct sync_xfer *x = c->x;
	struct sync_frame f = {.type = SYNC_MSG_HELLO};
	int ret;

	if ((ret = noise_handshake_split(c->hs, &c->tx, &c->rx)) != 0)
		return ret;
	noise_handshake_free(c->hs);
	c->hs = NULL;
	if (!c->initiator)
		x->npreauth--;
	c->state = C_UP;
	c->pt = malloc(SYNC_FRAME_MSG_MAX);
	c->rxpt = malloc(SYNC_FRAME_MSG_MAX);
	c->wire = malloc(NOISE_MSG_MAX + 2);
	c->chunk = malloc(x->cfg.chunk);
	if (!c->pt || !c->rxpt || !c->wire || !c->chunk)
		return -ENOMEM;
	/* One session per peer: a reconnect replaces a half-dead old session. */
	for (struct conn *o = x->conns, *nx; o; o = nx) {
		nx = o->next;
		if (o != c && o->state == C_UP && !memcmp(o->peer, c->peer, sizeof c->peer))
			conn_close(o, 0);
	}
	if (x->cfg.rate_bytes_per_s && !c->external &&
	    bufferevent_add_to_rate_limit_group(c->bev, x->rl) == 0)
		c->limited = true;
	x->st.connects++;
	x->st.peers++;
	x->attempt = 0;
	c->last_rx_ms = mtime_now_ms();
	event_free(c->timer); /* the handshake deadline */
	c->timer = NULL;
	emit(c, SYNC_XFER_EV_CONNECTED, NULL, 0, 0);
	{
		char hex[17];
		peer_hex(c->peer, hex);
		log_info("sync: session up with %s…", hex);
	}
	f.u.hello.role = x->cfg.role == SYNC_XFER_CLINIC ? 1 : 2;
	f.u.hello.max_chunk = x->cfg.chunk;
	f.u.hello.window = x->cfg.window;
	if ((ret = send_msg(c, &f)) != 0)
		return ret;
	return offer_new(c);
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg);

static int start_keepalive(struct conn *c)
{
	struct timeval tv = {c->x->cfg.keepalive_ms / 1000, (c->x->cfg.keepalive_ms % 1000) * 1000};

	if (c->timer)
		event_free(c->timer);
	c->timer = event_new(c->x->base, -1, EV_PERSIST, keepalive_cb, c);
	if (!c->timer || event_add(c->timer, &tv) != 0)
		return -ENOMEM;
	return 0;
}

/* A captured IK message 1 reads successfully again when replayed (Noise property): the clinic
 * puts a strictly increasing timestamp in its payload and the hub refuses non-increasing ones,
 * as WireGuard does. Only allowed peers get an entry. The last accepted timestamp is kept
 * durably through ops->hs_stamp (a message recorded before a hub restart is refused after it
 * too; a re-enrolment resets it) and in memory, which decides alone without the hook or when
 * the store cannot say. */
static int check_stamp(struct sync_xfer *x, const uint8_t *peer, const uint8_t payload[8])
{
	uint64_t t = 0;
	struct hs_stamp *e = NULL;
	char hex[17];
	int ret;

	for (int i = 0; i < 8; i++)
		t = t << 8 | payload[i];
	for (size_t i = 0; i < x->nstamps; i++)
		if (!memcmp(x->stamps[i].peer, peer, SYNC_XFER_KEY_BYTES))
			e = &x->stamps[i];
	/* The store decides when there is one (it logs a refusal, naming the clinic): its record
	 * outlives a restart and re-enrolment resets it, which memory here would not see. */
	ret = x->ops.hs_stamp ? x->ops.hs_stamp(x->arg, peer, t) : -1;
	if (ret < 0) {
		if (x->ops.hs_stamp)
			log_error("sync: handshake timestamp not checked against the store; "
			          "in-memory check only");
		ret = e && t <= e->stamp;
		if (ret) {
			peer_hex(peer, hex);
			log_warn(
			        "sync: replayed or stale handshake from %s… refused (its timestamp "
			        "is not newer than the last accepted one)",
			        hex);
		}
	}
	if (ret > 0) {
		x->st.replays++;
		return SYNC_XFER_EPROTO;
	}
	if (!e) {
		struct hs_stamp *v = realloc(x->stamps, (x->nstamps + 1) * sizeof *v);
		if (!v)
			return -ENOMEM;
		x->stamps = v;
		e = &v[x->nstamps++];
		memcpy(e->peer, peer, SYNC_XFER_KEY_BYTES);
	}
	e->stamp = t;
	return 0;
}

/* One wire record in the handshake phase. */
static int on_handshake_record(struct conn *c, const uint8_t *p, size_t len)
{
	struct sync_xfer *x = c->x;
	uint8_t payload[HS_RECORD_MAX], out[HS_RECORD_MAX];
	size_t plen, olen;
	int ret;

	ret = noise_handshake_read_message(c->hs, p, len, payload, sizeof payload, &plen);
	if (ret != 0)
		return ret;
	if (!c->initiator && plen != 8)
		return SYNC_XFER_EPROTO;
	if (!c->initiator) {
		/* The clinic's static key is known now: check it before anything else. */
		if ((ret = noise_handshake_remote_static(c->hs, c->peer)) != 0)
			return ret;
		if (x->ops.peer_allowed(x->arg, c->peer) != 0) {
			char hex[17];
			peer_hex(c->peer, hex);
			log_warn("sync: refused connection from unknown or revoked key %s…", hex);
			x->st.refused++;
			emit(c, SYNC_XFER_EV_REFUSED, NULL, 0, 0);
			return SYNC_XFER_EDENIED;
		}
		if ((ret = check_stamp(x, c->peer, payload)) != 0)
			return ret;
		ret = noise_handshake_write_message(c->hs, NULL, 0, out, sizeof out, &olen);
		if (ret != 0)
			return ret;
		if ((ret = send_wire(c, out, olen)) != 0)
			return ret;
	}
	if (!noise_handshake_is_done(c->hs))
		return SYNC_XFER_EPROTO;
	if ((ret = session_up(c)) != 0)
		return ret;
	return start_keepalive(c);
}

static void readcb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	int ret = 0;

	c->last_rx_ms = mtime_now_ms();
	for (;;) {
		uint8_t hdr[2];
		size_t len, avail = evbuffer_get_length(in);
		uint8_t *p;

		if (avail < 2)
			break;
		evbuffer_copyout(in, hdr, 2);
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0 || (c->state != C_UP && len > HS_RECORD_MAX)) {
			ret = SYNC_XFER_EPROTO;
			break;
		}
		if (avail < 2 + len)
			break;
		p = evbuffer_pullup(in, (ev_ssize_t)(2 + len));
		if (!p) {
			ret = -ENOMEM;
			break;
		}
		if (c->state == C_UP) {
			ret = noise_cipher_decrypt(c->rx, NULL, 0, p + 2, len, c->rxpt);
			if (ret == 0)
				ret = on_message(c, c->rxpt, len - NOISE_TAG_LEN);
		} else {
			ret = on_handshake_record(c, p + 2, len);
		}
		evbuffer_drain(in, 2 + len);
		if (ret != 0)
			break;
	}
	if (ret == 0)
		ret = pump(c);
	if (ret != 0)
		conn_close(c, ret);
}

static void writecb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	int ret = pump(c);

	(void)bev;
	if (ret != 0)
		conn_close(c, ret);
}

/* Clinic: the byte stream to the hub is there: IK message 1 with our timestamp. */
static int start_handshake(struct conn *c)
{
	struct sync_xfer *x = c->x;
	uint8_t msg[HS_RECORD_MAX], stamp[8];
	uint64_t t;
	size_t len;
	int ret;

	c->state = C_HANDSHAKE;
	t = mtime_wall_ms() * 1000;
	if (t <= x->last_stamp)
		t = x->last_stamp + 1;
	x->last_stamp = t;
	for (int i = 0; i < 8; i++)
		stamp[i] = (uint8_t)(t >> (56 - 8 * i));
	ret = noise_handshake_write_message(c->hs, stamp, sizeof stamp, msg, sizeof msg, &len);
	if (ret == 0)
		ret = send_wire(c, msg, len);
	return ret;
}

static void eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	int ret;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		tune_socket(c->x, bufferevent_getfd(c->bev));
		if ((ret = start_handshake(c)) != 0)
			conn_close(c, ret);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		conn_close(c, -ECONNRESET);
		return;
	}
	conn_close(c, c->external ? -EIO : -(EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : EIO));
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct sync_frame f = {.type = SYNC_MSG_KEEPALIVE};
	int ret;

	(void)fd;
	(void)what;
	if (mtime_now_ms() - c->last_rx_ms > c->x->cfg.dead_ms) {
		conn_close(c, -ETIMEDOUT);
		return;
	}
	f.u.keepalive.stamp = mtime_now_ms();
	if ((ret = send_msg(c, &f)) != 0)
		conn_close(c, ret);
}

/* Handshake deadline (both sides): a peer that does not finish in time is dropped. */
static void hs_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_close(arg, -ETIMEDOUT);
}

/* A connection on the TCP socket fd, or (bev != NULL) on a transport's bufferevent. Either
 * is owned (closed / freed) from the call on, also on failure. */
static struct conn *conn_new(struct sync_xfer *x, evutil_socket_t fd, struct bufferevent *bev,
                             bool initiator)
{
	struct conn *c = calloc(1, sizeof *c);
	struct timeval tv = {x->cfg.connect_timeout_ms / 1000,
	                     (x->cfg.connect_timeout_ms % 1000) * 1000};

	if (!c) {
		if (bev)
			bufferevent_free(bev);
		else if (fd >= 0)
			evutil_closesocket(fd);
		return NULL;
	}
	c->x = x;
	c->initiator = initiator;
	c->external = bev != NULL;
	c->state = initiator ? C_CONNECTING : C_HANDSHAKE;
	c->bev = bev ? bev : bufferevent_socket_new(x->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(x->base, hs_timeout_cb, c);
	if (!c->bev || !c->timer ||
	    noise_handshake_new(&c->hs, NOISE_IK, initiator ? NOISE_INITIATOR : NOISE_RESPONDER,
	                        (const uint8_t *)PROLOGUE, strlen(PROLOGUE), x->cfg.self->x25519_sk,
	                        initiator ? x->cfg.hub.x25519 : NULL) != 0) {
		if (c->bev)
			bufferevent_free(c->bev);
		else if (fd >= 0)
			evutil_closesocket(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return NULL;
	}
	if (initiator)
		memcpy(c->peer, x->cfg.hub.x25519, sizeof c->peer);
	bufferevent_setcb(c->bev, readcb, writecb, eventcb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &tv);
	c->next = x->conns;
	x->conns = c;
	return c;
}

static void conn_close(struct conn *c, int err)
{
	struct sync_xfer *x = c->x;
	struct conn **pp;
	char hex[17];

	for (pp = &x->conns; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	peer_hex(c->peer, hex);
	if (c->state == C_UP) {
		x->st.disconnects++;
		x->st.peers--;
		log_info("sync: session with %s… closed: %s", hex,
		         err ? sync_xfer_strerror(err)
		             : "closed here (stop, reload or newer session)");
		emit(c, SYNC_XFER_EV_DISCONNECTED, NULL, err, 0);
	} else {
		if (!c->initiator)
			x->npreauth--;
		log_debug("sync: connection closed before the session was up: %s",
		          sync_xfer_strerror(err));
	}
	if (c->limited)
		bufferevent_remove_from_rate_limit_group(c->bev);
	/* A transport learns the end from an EOF (its side of a bufferevent_pair gets it). */
	if (c->external) {
		bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
		bufferevent_flush(c->bev, EV_WRITE, BEV_FINISHED);
	}
	bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	noise_handshake_free(c->hs);
	noise_cipher_free(c->tx);
	noise_cipher_free(c->rx);
	if (c->peer_rl)
		ev_token_bucket_cfg_free(c->peer_rl);
	if (c->peer_rate && c->state == C_UP) /* its peer's RATE no longer holds */
		tp_apply_rate(x);
	free(c->pt);
	free(c->rxpt);
	free(c->wire);
	free(c->chunk);
	free(c->outs);
	free(c->ins);
	free(c);
	if (x->cfg.role == SYNC_XFER_CLINIC && !x->conns)
		schedule_reconnect(x);
}

/* ---- clinic: connect and reconnect ------------------------------------------------------ */

static void connect_now(struct sync_xfer *x)
{
	struct sockaddr_storage ss;
	int sslen, ret;
	evutil_socket_t fd;
	struct conn *c;

	if (x->conns)
		return;
	if (x->tp.connect) {
		struct bufferevent *bev = NULL;

		if ((ret = x->tp.connect(x->tp.arg, &bev)) != 0 || !bev) {
			log_debug("sync: transport cannot connect yet: %s",
			          sync_xfer_strerror(ret ? ret : -EIO));
			schedule_reconnect(x);
			return;
		}
		if (!(c = conn_new(x, -1, bev, true))) {
			schedule_reconnect(x);
			return;
		}
		if ((ret = start_handshake(c)) != 0)
			conn_close(c, ret);
		return;
	}
	if ((ret = resolve(x->connect_addr, &ss, &sslen)) != 0) {
		log_warn("sync: cannot resolve hub address %s", x->connect_addr);
		schedule_reconnect(x);
		return;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_warn("sync: socket: %s", strerror(errno));
		schedule_reconnect(x);
		return;
	}
	tune_socket(x, fd);
	c = conn_new(x, fd, NULL, true);
	if (!c) {
		schedule_reconnect(x);
		return;
	}
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, sslen) != 0)
		conn_close(c, -ECONNREFUSED);
}

static void reconnect_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	connect_now(arg);
}

static void schedule_reconnect(struct sync_xfer *x)
{
	uint64_t d = x->cfg.backoff_min_ms;
	struct timeval tv;

	if (!x->reconnect)
		return; /* being freed */
	for (unsigned i = 0; i < x->attempt && d < x->cfg.backoff_max_ms; i++)
		d *= 2;
	if (d > x->cfg.backoff_max_ms)
		d = x->cfg.backoff_max_ms;
	/* Equal jitter: half fixed, half random, so many clinics do not reconnect in step. */
	d = d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
	if (x->attempt < 32)
		x->attempt++;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(x->reconnect, &tv);
}

/* ---- hub: accept ------------------------------------------------------------------------ */

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
	struct sync_xfer *x = arg;

	(void)l;
	(void)sa;
	(void)salen;
	if (x->npreauth >= PREAUTH_MAX) {
		evutil_closesocket(fd);
		return;
	}
	tune_socket(x, fd);
	if (conn_new(x, fd, NULL, false))
		x->npreauth++;
}

int sync_xfer_accept(struct sync_xfer *x, struct bufferevent *bev)
{
	if (x->cfg.role != SYNC_XFER_HUB || x->npreauth >= PREAUTH_MAX) {
		bufferevent_flush(bev, EV_WRITE, BEV_FINISHED); /* the transport sees the end */
		bufferevent_free(bev);
		return x->cfg.role != SYNC_XFER_HUB ? -EINVAL : -EBUSY;
	}
	if (!conn_new(x, -1, bev, false))
		return -ENOMEM;
	x->npreauth++;
	return 0;
}

/* ---- public ----------------------------------------------------------------------------- */

static int make_rl_cfg(uint64_t rate, struct ev_token_bucket_cfg **out)
{
	struct timeval tick = {0, 100000};
	size_t per_tick, burst;

	if (rate > (uint64_t)EV_RATE_LIMIT_MAX / 2)
		rate = (uint64_t)EV_RATE_LIMIT_MAX / 2;
	per_tick = (size_t)(rate / 10) ? (size_t)(rate / 10) : 1;
	burst = per_tick > 2 * WIRE_REC_MAX ? per_tick : 2 * WIRE_REC_MAX;
	*out = ev_token_bucket_cfg_new(EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, per_tick, burst,
	                               &tick);
	return *out ? 0 : -ENOMEM;
}

int sync_xfer_new(struct sync_xfer **out, struct event_base *base,
                  const struct sync_xfer_config *cfg, const struct sync_xfer_ops *ops,
                  void *ops_arg)
{
	struct sync_xfer *x = NULL;
	struct ev_token_bucket_cfg *rlc = NULL;
	int ret = -EINVAL;

	if (!base || !cfg || !ops || !cfg->self || !ops->out_pending || !ops->out_read ||
	    !ops->out_delivered || !ops->in_begin || !ops->in_write || !ops->in_finish)
		return -EINVAL;
	if (cfg->transport && (!cfg->transport->connect || !cfg->transport->set_rate))
		return -EINVAL;
	if (cfg->role == SYNC_XFER_CLINIC
	            ? !cfg->connect_addr && !cfg->transport
	            : (cfg->role != SYNC_XFER_HUB || (!cfg->listen_addr && !cfg->transport) ||
	               !ops->peer_allowed))
		return -EINVAL;
	if (cfg->chunk > SYNC_FRAME_CHUNK_MAX)
		return -EINVAL;
	if (!(x = calloc(1, sizeof *x)))
		return -ENOMEM;
	x->base = base;
	x->cfg = *cfg;
	x->ops = *ops;
	x->arg = ops_arg;
	if (cfg->transport)
		x->tp = *cfg->transport;
	x->cfg.transport = NULL; /* x->tp holds the copy */
	if (!x->cfg.chunk)
		x->cfg.chunk = SYNC_XFER_CHUNK_DEFAULT;
	if (!x->cfg.window)
		x->cfg.window = SYNC_XFER_WINDOW_DEFAULT;
	if (!x->cfg.keepalive_ms)
		x->cfg.keepalive_ms = 5000;
	if (!x->cfg.dead_ms)
		x->cfg.dead_ms = 20000;
	if (!x->cfg.connect_timeout_ms)
		x->cfg.connect_timeout_ms = 10000;
	if (!x->cfg.backoff_min_ms)
		x->cfg.backoff_min_ms = 500;
	if (!x->cfg.backoff_max_ms)
		x->cfg.backoff_max_ms = 30000;
	if (x->cfg.backoff_max_ms < x->cfg.backoff_min_ms)
		x->cfg.backoff_max_ms = x->cfg.backoff_min_ms;
	x->connect_addr = cfg->connect_addr ? strdup(cfg->connect_addr) : NULL;
	x->listen_addr = cfg->listen_addr ? strdup(cfg->listen_addr) : NULL;
	x->congestion = cfg->congestion ? strdup(cfg->congestion) : NULL;
	x->cfg.connect_addr = x->connect_addr;
	x->cfg.listen_addr = x->listen_addr;
	x->cfg.congestion = x->congestion;
	x->tmp = calloc(SYNC_XFER_PENDING_MAX, sizeof *x->tmp);
	x->reconnect = evtimer_new(base, reconnect_cb, x);
	if ((cfg->connect_addr && !x->connect_addr) || (cfg->listen_addr && !x->listen_addr) ||
	    (cfg->congestion && !x->congestion) || !x->tmp || !x->reconnect) {
		ret = -ENOMEM;
		goto out;
	}
	if ((ret = make_rl_cfg(cfg->rate_bytes_per_s, &rlc)) != 0)
		goto out;
	x->rl = bufferevent_rate_limit_group_new(base, rlc);
	ev_token_bucket_cfg_free(rlc);
	if (!x->rl) {
		ret = -ENOMEM;
		goto out;
	}
	x->st.rate_bytes_per_s = cfg->rate_bytes_per_s;
	if (x->tp.set_rate)
		x->tp.set_rate(x->tp.arg, cfg->rate_bytes_per_s);
	if (cfg->role == SYNC_XFER_HUB) {
		struct sockaddr_storage ss;
		int sslen;

		if (!x->listen_addr)
			goto done; /* connections come from the transport only */
		if ((ret = resolve(x->listen_addr, &ss, &sslen)) != 0)
			goto out;
		x->listener = evconnlistener_new_bind(base, accept_cb, x,
		                                      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
		                                              LEV_OPT_CLOSE_ON_EXEC,
		                                      128, (struct sockaddr *)&ss, sslen);
		if (!x->listener) {
			ret = -(errno ? errno : EADDRINUSE);
			goto out;
		}
		tune_socket(x, evconnlistener_get_fd(x->listener));
	} else {
		struct timeval now = {0, 0};
		evtimer_add(x->reconnect, &now);
	}
done:
	*out = x;
	x = NULL;
	ret = 0;
out:
	sync_xfer_free(x);
	return ret;
}

void sync_xfer_free(struct sync_xfer *x)
{
	if (!x)
		return;
	if (x->reconnect) {
		event_free(x->reconnect);
		x->reconnect = NULL;
	}
	while (x->conns)
		conn_close(x->conns, 0);
	if (x->listener)
		evconnlistener_free(x->listener);
	if (x->rl)
		bufferevent_rate_limit_group_free(x->rl);
	free(x->tmp);
	free(x->stamps);
	free(x->sent_hw.v);
	free(x->recv_hw.v);
	free(x->connect_addr);
	free(x->listen_addr);
	free(x->congestion);
	free(x);
}

void sync_xfer_kick(struct sync_xfer *x)
{
	for (struct conn *c = x->conns, *nx; c; c = nx) {
		int ret;

		nx = c->next;
		if (c->state != C_UP)
			continue;
		/* Records refused for good this session may have been re-queued by the operator
		 * (`pirogue case retry` pokes the daemon): offered again if still pending. */
		for (size_t i = c->nouts; i-- > 0;)
			if (c->outs[i].state == O_REJECTED)
				out_remove(c, &c->outs[i]);
		ret = offer_new(c);
		if (ret == 0)
			ret = pump(c);
		if (ret != 0)
			conn_close(c, ret);
	}
	if (x->cfg.role == SYNC_XFER_CLINIC && !x->conns && x->reconnect) {
		struct timeval now = {0, 0};
		x->attempt = 0;
		evtimer_del(x->reconnect);
		evtimer_add(x->reconnect, &now);
	}
}

void sync_xfer_recheck_peers(struct sync_xfer *x)
{
	if (x->cfg.role != SYNC_XFER_HUB)
		return;
	for (struct conn *c = x->conns, *nx; c; c = nx) {
		nx = c->next;
		if (c->state == C_UP && x->ops.peer_allowed(x->arg, c->peer) != 0)
			conn_close(c, SYNC_XFER_EDENIED);
	}
}

int sync_xfer_set_rate(struct sync_xfer *x, uint64_t bytes_per_s)
{
	struct ev_token_bucket_cfg *rlc;
	int ret;

	if (x->tp.set_rate) {
		x->cfg.rate_bytes_per_s = bytes_per_s;
		x->st.rate_bytes_per_s = bytes_per_s;
		tp_apply_rate(x);
		return 0;
	}
	if (bytes_per_s) {
		if ((ret = make_rl_cfg(bytes_per_s, &rlc)) != 0)
			return ret;
		ret = bufferevent_rate_limit_group_set_cfg(x->rl, rlc) == 0 ? 0 : -ENOMEM;
		ev_token_bucket_cfg_free(rlc);
		if (ret)
			return ret;
	}
	for (struct conn *c = x->conns; c; c = c->next) {
		if (c->state != C_UP)
			continue;
		if (bytes_per_s && !c->limited)
			c->limited = bufferevent_add_to_rate_limit_group(c->bev, x->rl) == 0;
		else if (!bytes_per_s && c->limited)
			c->limited = bufferevent_remove_from_rate_limit_group(c->bev) != 0;
	}
	x->cfg.rate_bytes_per_s = bytes_per_s;
	x->st.rate_bytes_per_s = bytes_per_s;
	return 0;
}

int sync_xfer_ask_rate(struct sync_xfer *x, uint64_t bytes_per_s)
{
	struct sync_frame f = {.type = SYNC_MSG_RATE};
	int ret, first = 0;

	f.u.rate.bytes_per_s = bytes_per_s;
	for (struct conn *c = x->conns, *nx; c; c = nx) {
		nx = c->next;
		if (c->state != C_UP)
			continue;
		if ((ret = send_msg(c, &f)) != 0) {
			conn_close(c, ret);
			if (!first)
				first = ret;
		}
	}
	return first;
}

uint16_t sync_xfer_listen_port(const struct sync_xfer *x)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (!x->listener ||
	    getsockname(evconnlistener_get_fd(x->listener), (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return netaddr_port(&ss);
}

void sync_xfer_stats_get(const struct sync_xfer *x, struct sync_xfer_stats *out)
{
	*out = x->st;
}

const char *sync_xfer_strerror(int err)
{
	switch (err) {
	case SYNC_XFER_EPROTO:
		return "sync protocol violation by the peer";
	case SYNC_XFER_EDENIED:
		return "peer not enrolled or revoked";
	case SYNC_XFER_EADDR:
		return "address does not parse or resolve";
	}
	if (err <= ERR_BASE_NOISE && err > ERR_BASE_NOISE - 100)
		return noise_strerror(err);
	if (err <= ERR_BASE_SYNC - 200 && err > ERR_BASE_SYNC - 250)
		return sync_frame_strerror(err);
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
