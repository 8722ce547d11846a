/* tests/unit/test_tunlink.c — sync/tunlink: two tunlinks (clinic, hub) on loopback UDP in one
 * event_base. Raw bytes both ways through the pair ends, end-of-stream in both directions, the
 * allow-list, and sync/xfer running a record over it (with an in-memory store), the rate cap
 * and the stream end reaching xfer as a dropped connection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/keys.h"
#include "common/log.h"
#include "common/mtime.h"
#include "relay/tunnel.h"
#include "sync/tunlink.h"
#include "sync/xfer.h"

/* ---- a minimal in-memory store behind xfer ---- */

struct mem {
	bool hub;
	const uint8_t *allowed; /* hub: the one allowed key (NULL: nobody) */
	uint8_t id[SYNC_XFER_ID_BYTES];
	uint8_t *out;
	uint64_t out_len;
	bool delivered;
	uint8_t *in;
	uint64_t in_total, in_durable;
	bool imported;
};

static int m_allowed(void *arg, const uint8_t peer[32])
{
	struct mem *m = arg;
	return m->allowed && !memcmp(m->allowed, peer, 32) ? 0 : SYNC_XFER_EDENIED;
}

static int m_pending(void *arg, const uint8_t peer[32], struct sync_xfer_rec *r, size_t max)
{
	struct mem *m = arg;

	(void)peer;
	if (!m->out || m->delivered || max < 1)
		return 0;
	memset(r, 0, sizeof *r);
	memcpy(r->id, m->id, sizeof r->id);
	r->prio = 1;
	r->total = m->out_len;
	r->fresh = 1;
	return 1;
}

static int m_read(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t off,
                  uint8_t *buf, size_t len)
{
	struct mem *m = arg;
	(void)peer;
	(void)id;
	memcpy(buf, m->out + off, len);
	return 0;
}

static int m_delivered(void *arg, const uint8_t peer[32], const uint8_t id[16], int st, int32_t c)
{
	struct mem *m = arg;
	(void)peer;
	(void)id;
	(void)c;
	m->delivered = st == SYNC_DELIVERED_OK;
	return 0;
}

static int m_begin(void *arg, const uint8_t peer[32], const struct sync_xfer_rec *r, uint64_t *off)
{
	struct mem *m = arg;

	(void)peer;
	if (m->imported)
		return SYNC_RESUME_HAVE;
	if (!m->in) {
		m->in = calloc(1, r->total);
		m->in_total = r->total;
		memcpy(m->id, r->id, sizeof m->id);
	}
	*off = m->in_durable;
	return SYNC_RESUME_FROM;
}

static int m_write(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t off,
                   const uint8_t *d, size_t len, uint64_t *durable)
{
	struct mem *m = arg;
	(void)peer;
	(void)id;
	if (off + len > m->in_total)
		return -EINVAL;
	memcpy(m->in + off, d, len);
	m->in_durable = *durable = off + len;
	return 0;
}

static int m_finish(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t total,
                    int32_t *code)
{
	struct mem *m = arg;
	(void)peer;
	(void)id;
	(void)code;
	m->imported = total == m->in_total;
	return 0;
}

static const struct sync_xfer_ops mem_ops = {
        .peer_allowed = m_allowed,
        .out_pending = m_pending,
        .out_read = m_read,
        .out_delivered = m_delivered,
        .in_begin = m_begin,
        .in_write = m_write,
        .in_finish = m_finish,
};

/* ---- the lab: two tunlinks on loopback ---- */

struct lab {
	struct event_base *base;
	struct keys *kc, *kh;
	struct sync_tunlink *tc, *th;
	struct mem mc, mh;
	bool allow; /* the hub's allow-list holds the clinic */
	struct bufferevent *accepted;
	int ups;
	struct sync_xfer *xc, *xh; /* when xfer runs on top */
	struct evbuffer *got;      /* raw tests: what the hub's end received */
	bool hub_eof, clinic_eof;
	uint32_t dgram_c, dgram_h; /* [sync] udp_datagram of each side (0: default) */
};

static bool allow_cb(void *arg, const uint8_t key[32])
{
	struct lab *l = arg;
	return l->allow && !memcmp(key, l->kc->pub.x25519, 32);
}

static void accept_cb(void *arg, struct bufferevent *bev)
{
	struct lab *l = arg;

	if (l->xh) {
		assert_int_equal(sync_xfer_accept(l->xh, bev), 0);
		return;
	}
	if (l->accepted) /* raw tests take one connection */
		bufferevent_free(l->accepted);
	l->accepted = bev;
}

static void up_cb(void *arg)
{
	struct lab *l = arg;
	l->ups++;
	if (l->xc)
		sync_xfer_kick(l->xc);
}

static struct keys *mkkeys(void)
{
	uint8_t secret[64];
	struct keys *k = NULL;

	randombytes_buf(secret, sizeof secret);
	assert_int_equal(keys_from_secret(secret, &k), 0);
	return k;
}

static void start(struct lab *l)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sync_tunlink_config hc = {0}, cc = {0};

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	hc.hub = true;
	hc.self_private = l->kh->x25519_sk;
	hc.addr = (struct sockaddr *)&sin;
	hc.addrlen = sizeof sin;
	hc.allow = allow_cb;
	hc.accept = accept_cb;
	hc.arg = l;
	hc.udp_datagram = l->dgram_h;
	assert_int_equal(sync_tunlink_new(&l->th, l->base, &hc), 0);
	sin.sin_port = htons(sync_tunlink_port(l->th));
	assert_true(sin.sin_port != 0);
	cc.self_private = l->kc->x25519_sk;
	cc.hub_public = l->kh->pub.x25519;
	cc.addr = (struct sockaddr *)&sin;
	cc.addrlen = sizeof sin;
	cc.on_up = up_cb;
	cc.arg = l;
	cc.udp_datagram = l->dgram_c;
	assert_int_equal(sync_tunlink_new(&l->tc, l->base, &cc), 0);
}

static int setup(void **state)
{
	struct lab *l = calloc(1, sizeof *l);

	assert_non_null(l);
	log_init("test_tunlink", getenv("TL_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_WARN);
	l->base = event_base_new();
	l->kc = mkkeys();
	l->kh = mkkeys();
	l->allow = true;
	l->got = evbuffer_new();
	l->mh.hub = true;
	l->mh.allowed = l->kc->pub.x25519;
	*state = l;
	return 0;
}

static int teardown(void **state)
{
	struct lab *l = *state;

	sync_xfer_free(l->xc);
	sync_xfer_free(l->xh);
	if (l->accepted)
		bufferevent_free(l->accepted);
	sync_tunlink_free(l->tc);
	sync_tunlink_free(l->th);
	/* Freed pair ends with deferred callbacks still pending are released by the loop. */
	event_base_loop(l->base, EVLOOP_NONBLOCK);
	evbuffer_free(l->got);
	free(l->mc.out);
	free(l->mc.in);
	free(l->mh.out);
	free(l->mh.in);
	keys_free(l->kc);
	keys_free(l->kh);
	event_base_free(l->base);
	free(l);
	return 0;
}

typedef bool (*pred_fn)(struct lab *l);

static bool run_until(struct lab *l, pred_fn pred, int timeout_ms)
{
	uint64_t end = mtime_now_ms() + (uint64_t)timeout_ms;

	while (!pred(l)) {
		struct timeval tick = {0, 2000};
		if (mtime_now_ms() > end)
			return false;
		event_base_loopexit(l->base, &tick);
		event_base_dispatch(l->base);
	}
	return true;
}

static bool tunnel_up(struct lab *l)
{
	return l->ups > 0;
}
static bool have_accepted(struct lab *l)
{
	return l->accepted != NULL;
}

static void hub_read(struct bufferevent *bev, void *arg)
{
	struct lab *l = arg;
	evbuffer_add_buffer(l->got, bufferevent_get_input(bev));
}
static void hub_event(struct bufferevent *bev, short what, void *arg)
{
	struct lab *l = arg;
	(void)bev;
	if (what & BEV_EVENT_EOF)
		l->hub_eof = true;
}
static void clinic_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)arg;
}
static void clinic_event(struct bufferevent *bev, short what, void *arg)
{
	struct lab *l = arg;
	(void)bev;
	if (what & BEV_EVENT_EOF)
		l->clinic_eof = true;
}

static size_t want;
static bool got_all(struct lab *l)
{
	return evbuffer_get_length(l->got) >= want;
}
static bool hub_saw_eof(struct lab *l)
{
	return l->hub_eof;
}
static bool clinic_saw_eof(struct lab *l)
{
	return l->clinic_eof;
}

/* Starts the lab, waits for the tunnel, opens a stream from the clinic, writes n bytes into it
 * and waits for the hub to accept it; the hub's end then reads into l->got. Returns the
 * clinic's end. */
static struct bufferevent *send_to_hub(struct lab *l, const uint8_t *data, size_t n)
{
	struct bufferevent *c = NULL;

	start(l);
	assert_true(run_until(l, tunnel_up, 5000));
	assert_int_equal(sync_tunlink_connect(l->tc, &c), 0);
	bufferevent_setcb(c, clinic_read, NULL, clinic_event, l);
	bufferevent_enable(c, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(c, data, n), 0);
	assert_true(run_until(l, have_accepted, 5000));
	bufferevent_setcb(l->accepted, hub_read, NULL, hub_event, l);
	bufferevent_enable(l->accepted, EV_READ | EV_WRITE);
	return c;
}

/* Bytes written at the clinic's end come out, in order, at the hub's end, and back. */
static void test_bytes_both_ways_and_close(void **state)
{
	struct lab *l = *state;
	struct bufferevent *c = NULL;
	struct sync_tunlink_stats st;
	size_t n = 300000;
	uint8_t *data = malloc(n), *back;

	assert_non_null(data);
	randombytes_buf(data, n);
	c = send_to_hub(l, data, n);
	want = n;
	assert_true(run_until(l, got_all, 20000));
	assert_int_equal(evbuffer_get_length(l->got), n);
	assert_memory_equal(evbuffer_pullup(l->got, -1), data, n);
	sync_tunlink_stats_get(l->tc, &st);
	assert_int_equal(st.streams, 1);
	assert_true(st.bytes_sent >= n);
	assert_true(st.tunnel_up);

	/* Back: hub -> clinic. */
	evbuffer_drain(l->got, n);
	assert_int_equal(bufferevent_write(l->accepted, data, 5000), 0);
	bufferevent_setcb(c, NULL, NULL, clinic_event, l);
	for (int i = 0; i < 2000 && evbuffer_get_length(bufferevent_get_input(c)) < 5000; i++) {
		struct timeval tick = {0, 2000};
		event_base_loopexit(l->base, &tick);
		event_base_dispatch(l->base);
	}
	back = evbuffer_pullup(bufferevent_get_input(c), -1);
	assert_int_equal(evbuffer_get_length(bufferevent_get_input(c)), 5000);
	assert_memory_equal(back, data, 5000);

	/* The clinic's end closes: the hub's end sees EOF (CLOSE over the tunnel). */
	bufferevent_flush(c, EV_WRITE, BEV_FINISHED);
	bufferevent_free(c);
	assert_true(run_until(l, hub_saw_eof, 5000));
	sync_tunlink_stats_get(l->tc, &st);
	assert_int_equal(st.streams, 0);
	assert_int_equal(st.streams_ended, 1);
	free(data);
}

/* udp_datagram out of range is refused; in range, the bytes travel in datagrams of that size
 * (fewer datagrams than at the default); a hub at the default drops the clinic's larger
 * datagrams as oversize (both sides must agree). */
static void test_udp_datagram_size(void **state)
{
	struct lab *l = *state;
	struct bufferevent *c = NULL;
	struct sync_tunlink_stats st;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct sync_tunlink_config cfg = {0};
	struct sync_tunlink *t = (struct sync_tunlink *)&sin; /* must stay untouched */
	const uint32_t bad[] = {1, 1231, 5913, 9000};
	size_t n = 300000;
	uint8_t *data = malloc(n);

	assert_non_null(data);
	randombytes_buf(data, n);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg.hub = true;
	cfg.self_private = l->kh->x25519_sk;
	cfg.addr = (struct sockaddr *)&sin;
	cfg.addrlen = sizeof sin;
	cfg.allow = allow_cb;
	cfg.accept = accept_cb;
	cfg.arg = l;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cfg.udp_datagram = bad[i];
		assert_int_equal(sync_tunlink_new(&t, l->base, &cfg), -EINVAL);
		assert_ptr_equal(t, &sin);
	}

	l->dgram_c = l->dgram_h = 4432;
	c = send_to_hub(l, data, n);
	want = n;
	assert_true(run_until(l, got_all, 20000));
	assert_memory_equal(evbuffer_pullup(l->got, -1), data, n);
	sync_tunlink_stats_get(l->tc, &st);
	assert_int_equal(st.udp_datagram, 4432);
	/* 300000 bytes in 4388-byte DATA frames: 69 full datagrams (plus OPEN, probes, resends);
	 * at the default it takes 211. */
	assert_true(st.datagrams_sent >= n / 4388);
	assert_true(st.datagrams_sent < n / 1428);
	sync_tunlink_stats_get(l->th, &st);
	assert_int_equal(st.drop_oversize, 0);
	bufferevent_free(c);
	sync_tunlink_free(l->tc);
	sync_tunlink_free(l->th);
	l->tc = l->th = NULL;
	bufferevent_free(l->accepted);
	l->accepted = NULL;
	event_base_loop(l->base, EVLOOP_NONBLOCK);

	/* Clinic 4432, hub at the default: the OPEN (small) passes, the full DATA datagrams do
	 * not. */
	evbuffer_drain(l->got, evbuffer_get_length(l->got));
	l->dgram_h = 0;
	l->ups = 0;
	c = send_to_hub(l, data, n);
	assert_false(run_until(l, got_all, 1500));
	sync_tunlink_stats_get(l->th, &st);
	assert_true(st.drop_oversize > 0);
	assert_int_equal(st.udp_datagram, RELAY_TUNNEL_DGRAM_MAX);
	assert_true(evbuffer_get_length(l->got) < n);
	bufferevent_free(c);
	free(data);
}

/* The hub ends its side (e.g. freed): the clinic's end sees EOF. */
static void test_hub_end_reaches_clinic(void **state)
{
	struct lab *l = *state;
	struct bufferevent *c = NULL;

	start(l);
	assert_true(run_until(l, tunnel_up, 5000));
	assert_int_equal(sync_tunlink_connect(l->tc, &c), 0);
	bufferevent_setcb(c, clinic_read, NULL, clinic_event, l);
	bufferevent_enable(c, EV_READ | EV_WRITE);
	assert_int_equal(bufferevent_write(c, "hello", 5), 0);
	assert_true(run_until(l, have_accepted, 5000));
	bufferevent_flush(l->accepted, EV_WRITE, BEV_FINISHED);
	bufferevent_free(l->accepted);
	l->accepted = NULL;
	assert_true(run_until(l, clinic_saw_eof, 5000));
	bufferevent_free(c);
}

/* A key the hub does not allow gets no tunnel session, hence no stream, hence no connection. */
static void test_not_allowed(void **state)
{
	struct lab *l = *state;
	struct bufferevent *c = NULL;
	struct sync_tunlink_stats st;

	l->allow = false;
	start(l);
	assert_false(run_until(l, tunnel_up, 1500));
	assert_int_equal(sync_tunlink_connect(l->tc, &c), -ENOTCONN);
	assert_null(c);
	assert_null(l->accepted);
	sync_tunlink_stats_get(l->th, &st);
	assert_int_equal(st.streams_opened, 0);
}

/* ---- xfer on top ---- */

static void start_xfer(struct lab *l)
{
	struct sync_xfer_config cfg = {0};
	struct sync_xfer_transport tpc, tph;

	start(l);
	sync_tunlink_transport(l->th, &tph);
	sync_tunlink_transport(l->tc, &tpc);
	cfg.role = SYNC_XFER_HUB;
	cfg.self = l->kh;
	cfg.transport = &tph;
	cfg.keepalive_ms = 200;
	cfg.dead_ms = 2000;
	assert_int_equal(sync_xfer_new(&l->xh, l->base, &cfg, &mem_ops, &l->mh), 0);
	memset(&cfg, 0, sizeof cfg);
	cfg.role = SYNC_XFER_CLINIC;
	cfg.self = l->kc;
	cfg.hub = l->kh->pub;
	cfg.transport = &tpc;
	cfg.keepalive_ms = 200;
	cfg.dead_ms = 2000;
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 200;
	assert_int_equal(sync_xfer_new(&l->xc, l->base, &cfg, &mem_ops, &l->mc), 0);
}

static void add_record(struct mem *m, size_t n)
{
	m->out = malloc(n);
	m->out_len = n;
	randombytes_buf(m->out, n);
	randombytes_buf(m->id, sizeof m->id);
}

static bool delivered(struct lab *l)
{
	return l->mc.delivered && l->mh.imported;
}

static bool sessions_up(struct lab *l)
{
	struct sync_xfer_stats a, b;
	sync_xfer_stats_get(l->xc, &a);
	sync_xfer_stats_get(l->xh, &b);
	return a.peers == 1 && b.peers == 1;
}

/* A record goes clinic -> hub through xfer (Noise IK inside) over the tunnel stream. */
static void test_xfer_record_over_tunnel(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats xs;
	struct sync_tunlink_stats ts;

	add_record(&l->mc, 400000);
	start_xfer(l);
	assert_true(run_until(l, delivered, 30000));
	assert_memory_equal(l->mh.in, l->mc.out, l->mc.out_len);
	sync_xfer_stats_get(l->xh, &xs);
	assert_int_equal(xs.records_received, 1);
	assert_int_equal(xs.connects, 1);
	sync_tunlink_stats_get(l->tc, &ts);
	assert_int_equal(ts.streams, 1);
	assert_true(ts.bytes_sent >= 400000);
	sync_tunlink_stats_get(l->th, &ts);
	assert_true(ts.bytes_received >= 400000);
}

static uint64_t hub_disconnects(struct lab *l)
{
	struct sync_xfer_stats s;
	sync_xfer_stats_get(l->xh, &s);
	return s.disconnects;
}
static bool hub_dropped(struct lab *l)
{
	return hub_disconnects(l) >= 1;
}
static bool clinic_reconnected(struct lab *l)
{
	struct sync_xfer_stats s;
	sync_xfer_stats_get(l->xc, &s);
	return s.connects >= 2 && s.peers == 1;
}

/* Revocation at the hub: its streams end, both xfers see the connection drop; re-allowed, the
 * clinic reconnects on its own (reconnect with backoff over a new tunnel session). */
static void test_stream_end_drops_xfer_session(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats s;
	struct sync_tunlink_stats ts;
	uint64_t hs0, t0;

	start_xfer(l);
	assert_true(run_until(l, sessions_up, 10000));
	sync_tunlink_stats_get(l->tc, &ts);
	hs0 = ts.tunnel_handshakes;
	assert_int_equal(hs0, 1);
	l->allow = false;
	sync_tunlink_recheck_peers(l->th);
	assert_true(run_until(l, hub_dropped, 5000));
	sync_xfer_stats_get(l->xc, &s);
	l->allow = true;
	t0 = mtime_now_ms();
	assert_true(run_until(l, clinic_reconnected, 40000));
	/* The hub forgot the clinic's tunnel session: the clinic's tunnel noticed (its sends went
	 * unanswered for keepalive + rekey timeout, 15 s) and made a new one with the same hub. */
	sync_tunlink_stats_get(l->tc, &ts);
	print_message("# clinic reconnected %llu ms after re-allow, tunnel handshakes %llu -> "
	              "%llu\n",
	              (unsigned long long)(mtime_now_ms() - t0), (unsigned long long)hs0,
	              (unsigned long long)ts.tunnel_handshakes);
	assert_true(ts.tunnel_handshakes >= hs0 + 1);
	assert_true(ts.tunnel_up);
}

static bool xfer_delivered(struct lab *l)
{
	return l->mc.delivered;
}

/* sync_xfer_set_rate caps the stream: 100 KB at 25 KB/s takes >= 3 s (uncapped: well under). */
static void test_rate_cap(void **state)
{
	struct lab *l = *state;
	struct sync_tunlink_stats ts;
	uint64_t t0, ms;

	start_xfer(l);
	assert_true(run_until(l, sessions_up, 10000));
	assert_int_equal(sync_xfer_set_rate(l->xc, 25000), 0);
	add_record(&l->mc, 100000);
	t0 = mtime_now_ms();
	sync_xfer_kick(l->xc);
	assert_true(run_until(l, xfer_delivered, 30000));
	ms = mtime_now_ms() - t0;
	sync_tunlink_stats_get(l->tc, &ts);
	print_message("# 100 KB at a 25 KB/s cap: %llu ms (%llu datagrams, %llu B, %llu B re-sent, "
	              "%llu probes)\n",
	              (unsigned long long)ms, (unsigned long long)ts.datagrams_sent,
	              (unsigned long long)ts.bytes_sent, (unsigned long long)ts.bytes_resent,
	              (unsigned long long)ts.probes);
	assert_true(ms >= 3000);
	assert_true(ms < 12000);
}

/* The peer's RATE (sync_xfer_ask_rate at the hub) caps the clinic's udp stream: 100 KB at
 * 25 KB/s takes >= 3 s. Before RATE went through the transport it set a libevent limit on the
 * bufferevent_pair, which the stream did not see (well under 1 s). Lifting it (RATE 0)
 * restores the clinic's own cap (none here): the next 100 KB goes fast. */
static bool never(struct lab *l)
{
	(void)l;
	return false;
}

static void test_peer_rate_caps_stream(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats xs;
	uint64_t t0, ms, ms2;

	start_xfer(l);
	assert_true(run_until(l, sessions_up, 10000));
	assert_int_equal(sync_xfer_ask_rate(l->xh, 25000), 0);
	run_until(l, never, 300); /* the RATE crosses */
	add_record(&l->mc, 100000);
	t0 = mtime_now_ms();
	sync_xfer_kick(l->xc);
	assert_true(run_until(l, xfer_delivered, 30000));
	ms = mtime_now_ms() - t0;
	sync_xfer_stats_get(l->xc, &xs);
	assert_int_equal(xs.rate_bytes_per_s, 0); /* its own cap is unchanged */
	assert_int_equal(sync_xfer_ask_rate(l->xh, 0), 0);
	run_until(l, never, 300);
	/* a second record: both in-memory stores forget the first */
	free(l->mc.out);
	free(l->mh.in);
	l->mh.in = NULL;
	l->mh.in_durable = 0;
	l->mh.imported = false;
	l->mc.delivered = false;
	add_record(&l->mc, 100000);
	t0 = mtime_now_ms();
	sync_xfer_kick(l->xc);
	assert_true(run_until(l, xfer_delivered, 30000));
	ms2 = mtime_now_ms() - t0;
	print_message("# 100 KB after the peer's RATE 25 KB/s: %llu ms; after RATE 0: %llu ms\n",
	              (unsigned long long)ms, (unsigned long long)ms2);
	assert_true(ms >= 3000);
	assert_true(ms < 12000);
	assert_true(ms2 < ms);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_bytes_both_ways_and_close, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_udp_datagram_size, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_hub_end_reaches_clinic, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_allowed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_xfer_record_over_tunnel, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stream_end_drops_xfer_session, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_rate_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_peer_rate_caps_stream, setup, teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
