/* tests/unit/test_xfer.c — the transfer engine between two in-process endpoints over loopback
 * TCP, with an in-memory store behind each (durable offsets advance in whole "store chunks",
 * like sync/store does, so resume and re-send accounting are exercised for real). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/keys.h"
#include "common/log.h"
#include "common/mtime.h"
#include "common/noise.h"
#include "sync/store.h"
#include "sync/xfer.h"
#include "sync/xfer_store.h"

#define STORE_CHUNK 10000 /* the mem store persists in units of this many bytes */
#define MAX_RECS    64

struct mem_out {
	uint8_t id[SYNC_XFER_ID_BYTES];
	uint8_t prio;
	uint8_t *data;
	uint64_t total;
	bool delivered;
	int status;
	int32_t code;
	int outcomes; /* out_delivered calls */
	uint64_t delivered_ms;
};

struct mem_in {
	uint8_t id[SYNC_XFER_ID_BYTES];
	uint8_t *data;
	uint64_t total;
	uint64_t durable;
	int imports;
	uint64_t bytes_written; /* every byte in_write was given (re-sends included) */
};

struct mem_site {
	struct keys *keys;
	struct mem_out out[MAX_RECS];
	size_t nout;
	struct mem_in in[MAX_RECS];
	size_t nin;
	uint8_t allowed[4][32];
	size_t nallowed;
	int begins;     /* in_begin calls */
	int reject_all; /* in_finish refuses */
	/* Refusals for good of one record: at its offer (RESUME REFUSE with a code), or by
	 * in_write once refuse_at bytes of it arrived (a bad header or chunk). */
	uint8_t refuse_id[SYNC_XFER_ID_BYTES];
	int refuse_offer_code, refuse_write_code;
	uint64_t refuse_at;
};

static struct mem_in *in_find(struct mem_site *s, const uint8_t *id)
{
	for (size_t i = 0; i < s->nin; i++)
		if (!memcmp(s->in[i].id, id, SYNC_XFER_ID_BYTES))
			return &s->in[i];
	return NULL;
}

static struct mem_out *out_find(struct mem_site *s, const uint8_t *id)
{
	for (size_t i = 0; i < s->nout; i++)
		if (!memcmp(s->out[i].id, id, SYNC_XFER_ID_BYTES))
			return &s->out[i];
	return NULL;
}

static int m_peer_allowed(void *arg, const uint8_t peer[32])
{
	struct mem_site *s = arg;
	for (size_t i = 0; i < s->nallowed; i++)
		if (!memcmp(s->allowed[i], peer, 32))
			return 0;
	return SYNC_XFER_EDENIED;
}

static int m_out_pending(void *arg, const uint8_t peer[32], struct sync_xfer_rec *recs, size_t max)
{
	struct mem_site *s = arg;
	size_t n = 0;

	(void)peer;
	for (int prio = 0; prio < 3; prio++)
		for (size_t i = 0; i < s->nout && n < max; i++) {
			struct mem_out *o = &s->out[i];
			if (o->delivered || o->prio != prio)
				continue;
			memset(&recs[n], 0, sizeof recs[n]);
			memcpy(recs[n].id, o->id, SYNC_XFER_ID_BYTES);
			recs[n].prio = o->prio;
			recs[n].total = o->total;
			recs[n].fresh =
			        (uint8_t)(i % 2); /* both paths: optimistic and RESUME-first */
			recs[n].meta_len = 3;
			memcpy(recs[n].meta, "abc", 3);
			n++;
		}
	return (int)n;
}

static int m_out_read(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t off,
                      uint8_t *buf, size_t len)
{
	struct mem_out *o = out_find(arg, id);
	(void)peer;
	if (!o || off + len > o->total)
		return -EINVAL;
	memcpy(buf, o->data + off, len);
	return 0;
}

static int m_out_delivered(void *arg, const uint8_t peer[32], const uint8_t id[16], int status,
                           int32_t code)
{
	struct mem_out *o = out_find(arg, id);
	(void)peer;
	if (!o)
		return -EINVAL;
	o->delivered = true;
	o->status = status;
	o->code = code;
	o->outcomes++;
	o->delivered_ms = mtime_now_ms();
	return 0;
}

static int m_in_begin(void *arg, const uint8_t peer[32], const struct sync_xfer_rec *rec,
                      uint64_t *offset)
{
	struct mem_site *s = arg;
	struct mem_in *in = in_find(s, rec->id);

	(void)peer;
	s->begins++;
	if (rec->meta_len != 3 || memcmp(rec->meta, "abc", 3))
		return -EINVAL;
	if (s->refuse_offer_code && !memcmp(rec->id, s->refuse_id, SYNC_XFER_ID_BYTES)) {
		*offset = (uint64_t) - (int64_t)s->refuse_offer_code;
		return SYNC_RESUME_REFUSE;
	}
	if (!in) {
		in = &s->in[s->nin++];
		memset(in, 0, sizeof *in);
		memcpy(in->id, rec->id, SYNC_XFER_ID_BYTES);
		in->total = rec->total;
		in->data = calloc(1, rec->total ? rec->total : 1);
	}
	if (in->imports)
		return SYNC_RESUME_HAVE;
	*offset = in->durable;
	return SYNC_RESUME_FROM;
}

static int m_in_write(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t off,
                      const uint8_t *data, size_t len, uint64_t *durable)
{
	struct mem_site *s = arg;
	struct mem_in *in = in_find(s, id);
	uint64_t end = off + len;

	(void)peer;
	if (!in || end > in->total)
		return -EINVAL;
	if (s->refuse_write_code && !memcmp(id, s->refuse_id, SYNC_XFER_ID_BYTES) &&
	    end > s->refuse_at) {
		in->durable = 0; /* forgets it */
		return -s->refuse_write_code;
	}
	memcpy(in->data + off, data, len);
	in->bytes_written += len;
	/* Durable only in whole store chunks (or at the very end). */
	in->durable = end == in->total ? end : end / STORE_CHUNK * STORE_CHUNK;
	if (in->durable < off)
		in->durable = off - off % STORE_CHUNK;
	*durable = in->durable;
	return 0;
}

static int m_in_finish(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t total,
                       int32_t *code)
{
	struct mem_site *s = arg;
	struct mem_in *in = in_find(s, id);

	(void)peer;
	if (!in || total != in->total)
		return -EINVAL;
	if (s->reject_all) {
		*code = -4108;
		return 1;
	}
	in->imports++;
	return 0;
}

static const struct sync_xfer_ops mem_ops = {
        .peer_allowed = m_peer_allowed,
        .out_pending = m_out_pending,
        .out_read = m_out_read,
        .out_delivered = m_out_delivered,
        .in_begin = m_in_begin,
        .in_write = m_in_write,
        .in_finish = m_in_finish,
};

struct lab {
	struct event_base *base;
	struct mem_site clinic, hub;
	struct sync_xfer *xc, *xh;
	uint16_t port;
	char addr[64];
};

static void site_init(struct mem_site *s)
{
	uint8_t secret[64];

	memset(s, 0, sizeof *s);
	randombytes_buf(secret, sizeof secret);
	assert_int_equal(keys_from_secret(secret, &s->keys), 0);
}

static void site_free(struct mem_site *s)
{
	for (size_t i = 0; i < s->nout; i++)
		free(s->out[i].data);
	for (size_t i = 0; i < s->nin; i++)
		free(s->in[i].data);
	keys_free(s->keys);
}

static struct mem_out *add_out(struct mem_site *s, uint8_t prio, uint64_t total)
{
	struct mem_out *o = &s->out[s->nout++];

	memset(o, 0, sizeof *o);
	randombytes_buf(o->id, sizeof o->id);
	o->prio = prio;
	o->total = total;
	o->data = malloc(total ? total : 1);
	randombytes_buf(o->data, total);
	return o;
}

static void start_hub(struct lab *l, uint16_t port)
{
	struct sync_xfer_config cfg = {0};

	cfg.role = SYNC_XFER_HUB;
	cfg.self = l->hub.keys;
	snprintf(l->addr, sizeof l->addr, "127.0.0.1:%u", port);
	cfg.listen_addr = l->addr;
	cfg.congestion = "bbr";
	cfg.keepalive_ms = 200;
	cfg.dead_ms = 2000;
	assert_int_equal(sync_xfer_new(&l->xh, l->base, &cfg, &mem_ops, &l->hub), 0);
	l->port = sync_xfer_listen_port(l->xh);
	assert_true(l->port != 0);
	snprintf(l->addr, sizeof l->addr, "127.0.0.1:%u", l->port);
}

static void start_clinic(struct lab *l)
{
	struct sync_xfer_config cfg = {0};

	cfg.role = SYNC_XFER_CLINIC;
	cfg.self = l->clinic.keys;
	cfg.hub = l->hub.keys->pub;
	cfg.connect_addr = l->addr;
	cfg.congestion = "no-such-cc"; /* falls back cleanly */
	cfg.keepalive_ms = 200;
	cfg.dead_ms = 2000;
	cfg.backoff_min_ms = 20;
	cfg.backoff_max_ms = 200;
	assert_int_equal(sync_xfer_new(&l->xc, l->base, &cfg, &mem_ops, &l->clinic), 0);
}

static int lab_setup(void **state)
{
	struct lab *l = calloc(1, sizeof *l);

	assert_non_null(l);
	log_init("test_xfer", LOG_LVL_WARN);
	l->base = event_base_new();
	site_init(&l->clinic);
	site_init(&l->hub);
	memcpy(l->hub.allowed[l->hub.nallowed++], l->clinic.keys->pub.x25519, 32);
	*state = l;
	return 0;
}

static int lab_teardown(void **state)
{
	struct lab *l = *state;

	sync_xfer_free(l->xc);
	sync_xfer_free(l->xh);
	site_free(&l->clinic);
	site_free(&l->hub);
	event_base_free(l->base);
	free(l);
	return 0;
}

typedef bool (*pred_fn)(struct lab *l);

struct waiter {
	struct lab *l;
	pred_fn pred;
	bool ok;
};

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	(void)fd;
	(void)what;
	if (w->pred(w->l)) {
		w->ok = true;
		event_base_loopbreak(w->l->base);
	}
}

/* Runs the loop until pred holds (checked every 2 ms) or timeout_ms passes. */
static bool run_until(struct lab *l, pred_fn pred, int timeout_ms)
{
	struct waiter w = {l, pred, false};
	struct timeval tick = {0, 2000}, to = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	struct event *t = event_new(l->base, -1, EV_PERSIST, poll_cb, &w);

	event_add(t, &tick);
	event_base_loopexit(l->base, &to);
	if (!pred(l))
		event_base_dispatch(l->base);
	else
		w.ok = true;
	event_free(t);
	/* Clear a pending loopexit so the next run starts clean. */
	event_base_loopbreak(l->base);
	event_base_loop(l->base, EVLOOP_NONBLOCK);
	return w.ok || pred(l);
}

static bool all_delivered_both_ways(struct lab *l)
{
	for (size_t i = 0; i < l->clinic.nout; i++)
		if (!l->clinic.out[i].delivered)
			return false;
	for (size_t i = 0; i < l->hub.nout; i++)
		if (!l->hub.out[i].delivered)
			return false;
	return true;
}

static void assert_arrived(struct mem_site *from, struct mem_site *to)
{
	for (size_t i = 0; i < from->nout; i++) {
		struct mem_in *in = in_find(to, from->out[i].id);
		assert_non_null(in);
		assert_int_equal(in->imports, 1);
		assert_int_equal(in->total, from->out[i].total);
		assert_memory_equal(in->data, from->out[i].data, in->total);
		assert_int_equal(from->out[i].status, SYNC_DELIVERED_OK);
	}
}

static void test_records_travel_both_ways_intact(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats st;

	add_out(&l->clinic, 1, 1);
	add_out(&l->clinic, 0, 50000);
	add_out(&l->clinic, 2, 3 * 1024 * 1024 + 7);
	add_out(&l->clinic, 1, STORE_CHUNK * 4);
	add_out(&l->hub, 1, 123456); /* a reply */
	start_hub(l, 0);
	start_clinic(l);
	assert_true(run_until(l, all_delivered_both_ways, 20000));
	assert_arrived(&l->clinic, &l->hub);
	assert_arrived(&l->hub, &l->clinic);
	sync_xfer_stats_get(l->xc, &st);
	assert_int_equal(st.records_sent, 4);
	assert_int_equal(st.records_received, 1);
	assert_int_equal(st.bytes_resent, 0);
	assert_int_equal(st.connects, 1);
	sync_xfer_stats_get(l->xh, &st);
	assert_int_equal(st.records_received, 4);
	assert_int_equal(st.dup_bytes_received, 0);
}

static bool hub_refused(struct lab *l)
{
	struct sync_xfer_stats st;
	sync_xfer_stats_get(l->xh, &st);
	return st.refused >= 2;
}

static void test_unknown_clinic_is_refused_before_any_state(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats st;

	l->hub.nallowed = 0; /* not enrolled */
	add_out(&l->clinic, 0, 5000);
	start_hub(l, 0);
	start_clinic(l);
	/* It retries with backoff and is refused each time. */
	assert_true(run_until(l, hub_refused, 10000));
	assert_int_equal(l->hub.begins, 0);
	assert_int_equal(l->hub.nin, 0);
	sync_xfer_stats_get(l->xh, &st);
	assert_int_equal(st.connects, 0);
	assert_int_equal(st.bytes_received, 0);
	sync_xfer_stats_get(l->xc, &st);
	assert_int_equal(st.connects, 0);
	assert_false(l->clinic.out[0].delivered);
}

static bool some_progress(struct lab *l)
{
	struct mem_in *in = l->hub.nin ? &l->hub.in[0] : NULL;
	return in && in->durable >= 300000;
}

static bool first_delivered(struct lab *l)
{
	return l->clinic.out[0].delivered;
}

static void test_hub_restart_resumes_from_durable_offset(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats st;
	struct mem_in *in;
	uint16_t port;

	add_out(&l->clinic, 1, 4 * 1024 * 1024);
	start_hub(l, 0);
	port = l->port;
	start_clinic(l);
	assert_true(sync_xfer_set_rate(l->xc, 4 * 1024 * 1024) == 0);
	assert_true(run_until(l, some_progress, 10000));
	/* The hub dies (like kill -9: no goodbye); its store keeps only what was durable. */
	sync_xfer_free(l->xh);
	l->xh = NULL;
	in = &l->hub.in[0];
	start_hub(l, port);
	assert_true(run_until(l, first_delivered, 20000));
	assert_arrived(&l->clinic, &l->hub);
	/* What the receiver got twice is at most what it held but had not made durable. */
	sync_xfer_stats_get(l->xh, &st);
	assert_true(st.dup_bytes_received == 0); /* a new hub process has no memory of it */
	assert_true(in->bytes_written - in->total < STORE_CHUNK + SYNC_XFER_WINDOW_DEFAULT);
	sync_xfer_stats_get(l->xc, &st);
	assert_true(st.connects == 2);
	assert_true(st.bytes_resent <= st.bytes_sent - in->total);
	assert_int_equal(st.bytes_sent - st.bytes_resent, in->total);
}

static bool urgent_delivered(struct lab *l)
{
	return l->clinic.nout > 1 && l->clinic.out[1].delivered;
}

static void test_urgent_record_overtakes_a_bulk_transfer(void **state)
{
	struct lab *l = *state;
	const uint64_t rate = 2 * 1024 * 1024; /* bytes/s, capped so the bulk takes ~5 s */
	uint64_t t0, dt;

	add_out(&l->clinic, 2, 10 * 1024 * 1024);
	start_hub(l, 0);
	start_clinic(l);
	assert_int_equal(sync_xfer_set_rate(l->xc, rate), 0);
	assert_true(run_until(l, some_progress, 10000));
	add_out(&l->clinic, 0, 50 * 1024);
	t0 = mtime_now_ms();
	sync_xfer_kick(l->xc);
	assert_true(run_until(l, urgent_delivered, 10000));
	dt = mtime_now_ms() - t0;
	print_message("urgent 50 KiB delivered %llu ms after it was queued (bulk at %llu B/s)\n",
	              (unsigned long long)dt, (unsigned long long)rate);
	/* Bounded by the few chunks queued ahead of it (TCP_NOTSENT_LOWAT, one message in the
	 * local queue), not by the 10 MB bulk record: 50 KiB + ~64 KiB ahead at 2 MiB/s ~ 60 ms. */
	assert_false(l->clinic.out[0].delivered);
	assert_true(dt < 1000);
	assert_true(run_until(l, all_delivered_both_ways, 20000));
	assert_arrived(&l->clinic, &l->hub);
}

static bool clinic_session_up(struct lab *l)
{
	struct sync_xfer_stats st;
	sync_xfer_stats_get(l->xh, &st);
	return st.peers == 1;
}

static bool clinic_session_down(struct lab *l)
{
	struct sync_xfer_stats st;
	sync_xfer_stats_get(l->xh, &st);
	return st.peers == 0 && st.refused >= 1;
}

static void test_revoked_clinic_is_disconnected_on_recheck(void **state)
{
	struct lab *l = *state;

	start_hub(l, 0);
	start_clinic(l);
	assert_true(run_until(l, clinic_session_up, 5000));
	l->hub.nallowed = 0; /* revoked */
	sync_xfer_recheck_peers(l->xh);
	/* Closed at once, and its reconnects are refused. */
	assert_true(run_until(l, clinic_session_down, 5000));
}

static void test_rejected_record_is_reported_to_the_sender(void **state)
{
	struct lab *l = *state;

	l->hub.reject_all = 1;
	add_out(&l->clinic, 1, 20000);
	start_hub(l, 0);
	start_clinic(l);
	assert_true(run_until(l, first_delivered, 5000));
	assert_int_equal(l->clinic.out[0].status, SYNC_DELIVERED_REJECTED);
	assert_int_equal(l->hub.in[0].imports, 0);
}

static void test_record_refused_mid_transfer_stops_there_and_others_flow(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats hs, cs;
	struct mem_out *bad;

	bad = add_out(&l->clinic, 1, 400000);
	add_out(&l->clinic, 1, 100000);
	add_out(&l->clinic, 0, 1000);
	memcpy(l->hub.refuse_id, bad->id, SYNC_XFER_ID_BYTES);
	l->hub.refuse_write_code = -4108; /* what a chunk failing its signed hash gives */
	l->hub.refuse_at = 150000;
	start_hub(l, 0);
	start_clinic(l);
	assert_true(run_until(l, all_delivered_both_ways, 10000));
	assert_int_equal(l->clinic.out[0].status, SYNC_DELIVERED_REJECTED);
	assert_int_equal(l->clinic.out[0].code, -4108);
	assert_int_equal(l->clinic.out[0].outcomes, 1);
	for (int i = 1; i < 3; i++) {
		assert_int_equal(l->clinic.out[i].status, SYNC_DELIVERED_OK);
		assert_int_equal(in_find(&l->hub, l->clinic.out[i].id)->imports, 1);
	}
	assert_int_equal(in_find(&l->hub, bad->id)->imports, 0);
	/* the receiver stopped taking its bytes at the refusal */
	assert_true(in_find(&l->hub, bad->id)->bytes_written < bad->total);
	sync_xfer_stats_get(l->xh, &hs);
	sync_xfer_stats_get(l->xc, &cs);
	assert_int_equal(hs.records_rejected, 1);
	assert_int_equal(hs.records_received, 2);
	assert_int_equal(hs.offers_received, 3);
	assert_int_equal(hs.connects, 1); /* refused without dropping the session */
	assert_int_equal(cs.records_refused, 1);
	assert_int_equal(cs.records_sent, 2);
	assert_int_equal(cs.offers_sent, 3);
	assert_int_equal(cs.connects, 1);
}

static void test_record_refused_at_its_offer_carries_the_reason(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats hs, cs;
	struct mem_out *bad;

	bad = add_out(&l->clinic, 1, 50000);
	add_out(&l->clinic, 1, 60000);
	memcpy(l->hub.refuse_id, bad->id, SYNC_XFER_ID_BYTES);
	l->hub.refuse_offer_code = -4102;
	start_hub(l, 0);
	start_clinic(l);
	assert_true(run_until(l, all_delivered_both_ways, 10000));
	assert_int_equal(l->clinic.out[0].status, SYNC_DELIVERED_REJECTED);
	assert_int_equal(l->clinic.out[0].code, -4102);
	assert_int_equal(l->clinic.out[0].outcomes, 1);
	assert_int_equal(l->clinic.out[1].status, SYNC_DELIVERED_OK);
	assert_null(in_find(&l->hub, bad->id));
	sync_xfer_stats_get(l->xh, &hs);
	sync_xfer_stats_get(l->xc, &cs);
	assert_int_equal(hs.records_rejected, 1);
	assert_int_equal(hs.connects, 1);
	assert_int_equal(cs.records_refused, 1);
	assert_int_equal(cs.records_sent, 1);
}

static bool clinic_connected(struct lab *l)
{
	struct sync_xfer_stats st;
	sync_xfer_stats_get(l->xc, &st);
	return st.connects >= 1;
}

static void test_clinic_reconnects_when_the_hub_appears(void **state)
{
	struct lab *l = *state;
	uint16_t port;

	/* Find a free port, then start the clinic first: it backs off and retries. */
	start_hub(l, 0);
	port = l->port;
	sync_xfer_free(l->xh);
	l->xh = NULL;
	add_out(&l->clinic, 0, 1000);
	start_clinic(l);
	assert_false(run_until(l, clinic_connected, 300));
	start_hub(l, port);
	assert_true(run_until(l, first_delivered, 5000));
}

/* ---- with the real LMDB store behind both ends ------------------------------------------ */

struct slab {
	struct event_base *base;
	struct keys *ck, *hk;
	struct sync_store *cs, *hs;
	struct sync_xfer_store *cxs, *hxs;
	struct sync_xfer *xc, *xh;
	char cdir[96], hdir[96], tmp[64];
	char addr[64];
	uint8_t ids[8][SYNC_ENV_ID_BYTES];
	size_t nids;
};

static struct slab *g_slab;

static int slab_setup(void **state)
{
	struct slab *l = calloc(1, sizeof *l);
	uint8_t secret[64];

	log_init("test_xfer", LOG_LVL_WARN);
	l->base = event_base_new();
	strcpy(l->tmp, "/tmp/test_xfer.XXXXXX");
	assert_non_null(mkdtemp(l->tmp));
	snprintf(l->cdir, sizeof l->cdir, "%s/clinic", l->tmp);
	snprintf(l->hdir, sizeof l->hdir, "%s/hub", l->tmp);
	randombytes_buf(secret, sizeof secret);
	assert_int_equal(keys_from_secret(secret, &l->ck), 0);
	randombytes_buf(secret, sizeof secret);
	assert_int_equal(keys_from_secret(secret, &l->hk), 0);
	assert_int_equal(sync_store_open(&l->cs, l->cdir, 0, 0), 0);
	assert_int_equal(sync_store_open(&l->hs, l->hdir, 0, 0), 0);
	assert_int_equal(sync_store_peer_enroll(l->hs, "clinic1", &l->ck->pub), 0);
	assert_int_equal(sync_xfer_store_new(&l->cxs, l->cs, l->ck, SYNC_XFER_CLINIC, &l->hk->pub),
	                 0);
	assert_int_equal(sync_xfer_store_new(&l->hxs, l->hs, l->hk, SYNC_XFER_HUB, NULL), 0);
	g_slab = l;
	*state = l;
	return 0;
}

static int slab_teardown(void **state)
{
	struct slab *l = *state;
	char cmd[128];

	sync_xfer_free(l->xc);
	sync_xfer_free(l->xh);
	sync_xfer_store_free(l->cxs);
	sync_xfer_store_free(l->hxs);
	sync_store_close(l->cs);
	sync_store_close(l->hs);
	keys_free(l->ck);
	keys_free(l->hk);
	event_base_free(l->base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", l->tmp);
	assert_int_equal(system(cmd), 0);
	free(l);
	return 0;
}

static void slab_hub(struct slab *l, uint16_t port)
{
	struct sync_xfer_config cfg = {0};
	char a[64];

	cfg.role = SYNC_XFER_HUB;
	cfg.self = l->hk;
	snprintf(a, sizeof a, "127.0.0.1:%u", port);
	cfg.listen_addr = a;
	cfg.chunk = 0; /* default */
	assert_int_equal(sync_xfer_new(&l->xh, l->base, &cfg, &sync_xfer_store_ops, l->hxs), 0);
	snprintf(l->addr, sizeof l->addr, "127.0.0.1:%u", sync_xfer_listen_port(l->xh));
}

static void slab_clinic(struct slab *l)
{
	struct sync_xfer_config cfg = {0};

	cfg.role = SYNC_XFER_CLINIC;
	cfg.self = l->ck;
	cfg.hub = l->hk->pub;
	cfg.connect_addr = l->addr;
	cfg.chunk = 0; /* default */
	cfg.backoff_min_ms = 20;
	cfg.backoff_max_ms = 200;
	assert_int_equal(sync_xfer_new(&l->xc, l->base, &cfg, &sync_xfer_store_ops, l->cxs), 0);
}

static void enqueue(struct sync_store *s, const struct keys *self, const struct keys_pub *to,
                    enum sync_env_kind kind, const uint8_t *ref, enum sync_env_priority prio,
                    const void *data, size_t size, uint8_t id[SYNC_ENV_ID_BYTES])
{
	struct sync_part_src part = {
	        .name = "scan.bin", .type = "application/octet-stream", .data = data, .size = size};
	struct sync_enqueue req = {.kind = kind,
	                           .priority = prio,
	                           .ref = ref,
	                           .title = "t",
	                           .note = "n",
	                           .parts = &part,
	                           .part_count = 1};
	assert_int_equal(sync_store_enqueue(s, self, to, &req, id), 0);
}

static bool state_is(struct sync_store *s, const uint8_t *id, enum sync_state want)
{
	struct sync_record_info info;
	return sync_store_get(s, id, &info) == 0 && info.state == want;
}

static bool all_cases_answered_or_received(struct lab *unused)
{
	struct slab *l = g_slab;
	(void)unused;
	for (size_t i = 0; i < l->nids; i++)
		if (!state_is(l->hs, l->ids[i], SYNC_ST_RECEIVED) &&
		    !state_is(l->hs, l->ids[i], SYNC_ST_ANSWERED))
			return false;
	return true;
}

static bool slab_run_until(struct slab *l, pred_fn pred, int timeout_ms)
{
	struct lab fake = {.base = l->base};
	return run_until(&fake, pred, timeout_ms);
}

static void check_export(struct slab *l, const uint8_t *id, const uint8_t *data, size_t size)
{
	char dir[128], path[160];
	FILE *f;
	uint8_t *got = malloc(size + 1);
	size_t n;

	snprintf(dir, sizeof dir, "%s/export-%02x%02x", l->tmp, id[0], id[1]);
	assert_int_equal(sync_store_export(l->hs, id, l->hk, dir), 0);
	snprintf(path, sizeof path, "%s/scan.bin", dir);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(got, 1, size + 1, f);
	fclose(f);
	assert_int_equal(n, size);
	assert_memory_equal(got, data, size);
	free(got);
}

static uint8_t g_reply_id[SYNC_ENV_ID_BYTES];

static bool case_answered(struct lab *unused)
{
	(void)unused;
	return state_is(g_slab->cs, g_slab->ids[0], SYNC_ST_ANSWERED) &&
	       state_is(g_slab->cs, g_reply_id, SYNC_ST_RECEIVED);
}

static void test_store_cases_arrive_exported_intact_and_reply_returns(void **state)
{
	struct slab *l = *state;
	size_t sizes[3] = {1024, 200000, 1500000};
	uint8_t *data[3];
	struct sync_xfer_stats st;

	for (int i = 0; i < 3; i++) {
		data[i] = malloc(sizes[i]);
		randombytes_buf(data[i], sizes[i]);
		enqueue(l->cs, l->ck, &l->hk->pub, SYNC_ENV_CASE, NULL,
		        i == 0 ? SYNC_PRIO_URGENT : SYNC_PRIO_NORMAL, data[i], sizes[i],
		        l->ids[l->nids++]);
	}
	slab_hub(l, 0);
	slab_clinic(l);
	assert_true(slab_run_until(l, all_cases_answered_or_received, 20000));
	for (int i = 0; i < 3; i++) {
		check_export(l, l->ids[i], data[i], sizes[i]);
		assert_true(state_is(l->cs, l->ids[i], SYNC_ST_DELIVERED));
		free(data[i]);
	}
	/* The specialist answers: the reply travels back over the same session. */
	enqueue(l->hs, l->hk, NULL, SYNC_ENV_REPLY, l->ids[0], SYNC_PRIO_NORMAL, "ok", 2,
	        g_reply_id);
	sync_xfer_kick(l->xh);
	assert_true(slab_run_until(l, case_answered, 10000));
	sync_xfer_stats_get(l->xh, &st);
	assert_int_equal(st.records_received, 3);
	assert_int_equal(st.records_sent, 1);
	assert_int_equal(st.dup_bytes_received, 0);
}

static bool hub_has_some(struct lab *unused)
{
	struct sync_recv_status rs;
	(void)unused;
	return sync_store_recv_status(g_slab->hs, g_slab->ids[0], &rs) == 0 && rs.next >= 10;
}

static void test_store_reconnect_resends_at_most_one_chunk(void **state)
{
	struct slab *l = *state;
	size_t size = 6 * 1024 * 1024;
	uint8_t *data = malloc(size);
	struct sync_xfer_stats st;

	randombytes_buf(data, size);
	enqueue(l->cs, l->ck, &l->hk->pub, SYNC_ENV_CASE, NULL, SYNC_PRIO_BULK, data, size,
	        l->ids[l->nids++]);
	slab_hub(l, 0);
	slab_clinic(l);
	assert_int_equal(sync_xfer_set_rate(l->xc, 3 * 1024 * 1024), 0);
	/* Three interruptions: the clinic side dies (no goodbye) and comes back each time. */
	for (int k = 0; k < 3; k++) {
		assert_true(slab_run_until(l, hub_has_some, 20000));
		sync_xfer_free(l->xc);
		l->xc = NULL;
		slab_clinic(l);
		assert_int_equal(sync_xfer_set_rate(l->xc, 3 * 1024 * 1024), 0);
		/* Let a few more chunks through before the next cut. */
		{
			struct sync_recv_status rs;
			uint32_t before;
			assert_int_equal(sync_store_recv_status(l->hs, l->ids[0], &rs), 0);
			before = rs.next;
			while (rs.next < before + 5 && !rs.done) {
				event_base_loop(l->base, EVLOOP_ONCE);
				assert_int_equal(sync_store_recv_status(l->hs, l->ids[0], &rs), 0);
			}
		}
	}
	assert_true(slab_run_until(l, all_cases_answered_or_received, 30000));
	check_export(l, l->ids[0], data, size);
	sync_xfer_stats_get(l->xh, &st);
	/* The hub got again only what it held in memory but had not persisted: at most one
	 * envelope chunk (64 KiB + 17) per interruption. */
	assert_true(st.dup_bytes_received <=
	            3 * (SYNC_ENV_CHUNK_DEFAULT + SYNC_ENV_CHUNK_OVERHEAD));
	print_message("hub re-received %llu bytes in %llu chunks over 3 interruptions\n",
	              (unsigned long long)st.dup_bytes_received,
	              (unsigned long long)st.dup_chunks_received);
	free(data);
}

static void test_fresh_records_sent_before_resume_are_reconciled(void **state)
{
	struct lab *l = *state;
	struct sync_xfer_stats st;
	struct mem_out *o;
	struct mem_in *in;

	add_out(&l->clinic, 1, 10);        /* index 0: not fresh (waits for RESUME) */
	o = add_out(&l->clinic, 1, 90000); /* index 1: fresh, but the hub has 30000 durable */
	in = &l->hub.in[l->hub.nin++];
	memset(in, 0, sizeof *in);
	memcpy(in->id, o->id, SYNC_XFER_ID_BYTES);
	in->total = o->total;
	in->data = calloc(1, o->total);
	memcpy(in->data, o->data, 3 * STORE_CHUNK);
	in->durable = 3 * STORE_CHUNK;
	add_out(&l->clinic, 1, 10);        /* index 2: not fresh */
	o = add_out(&l->clinic, 1, 70000); /* index 3: fresh, already imported at the hub */
	in = &l->hub.in[l->hub.nin++];
	memset(in, 0, sizeof *in);
	memcpy(in->id, o->id, SYNC_XFER_ID_BYTES);
	in->total = o->total;
	in->data = malloc(o->total);
	memcpy(in->data, o->data, o->total);
	in->durable = o->total;
	in->imports = 1;
	start_hub(l, 0);
	start_clinic(l);
	assert_true(run_until(l, all_delivered_both_ways, 10000));
	assert_arrived(&l->clinic, &l->hub);
	sync_xfer_stats_get(l->xh, &st);
	assert_int_equal(st.connects, 1); /* no protocol error, no reconnect */
	assert_true(st.dup_bytes_received > 0);
	assert_true(st.dup_bytes_received <= 3 * STORE_CHUNK + 70000);
	assert_int_equal(l->hub.in[1].imports, 1); /* not imported twice */
}

/* The clinic process restarts: engine, adapter and store are closed and opened again. */
static void slab_clinic_restart(struct slab *l)
{
	sync_xfer_free(l->xc);
	l->xc = NULL;
	sync_xfer_store_free(l->cxs);
	sync_store_close(l->cs);
	assert_int_equal(sync_store_open(&l->cs, l->cdir, 0, 0), 0);
	assert_int_equal(sync_xfer_store_new(&l->cxs, l->cs, l->ck, SYNC_XFER_CLINIC, &l->hk->pub),
	                 0);
	slab_clinic(l);
}

/* The hub process restarts on the same port, with the given ops over its reopened store. */
static void slab_hub_restart(struct slab *l, uint16_t port, const struct sync_xfer_ops *ops)
{
	struct sync_xfer_config cfg = {0};
	char a[64];

	sync_xfer_free(l->xh);
	l->xh = NULL;
	sync_xfer_store_free(l->hxs);
	sync_store_close(l->hs);
	assert_int_equal(sync_store_open(&l->hs, l->hdir, 0, 0), 0);
	assert_int_equal(sync_xfer_store_new(&l->hxs, l->hs, l->hk, SYNC_XFER_HUB, NULL), 0);
	cfg.role = SYNC_XFER_HUB;
	cfg.self = l->hk;
	snprintf(a, sizeof a, "127.0.0.1:%u", port);
	cfg.listen_addr = a;
	assert_int_equal(sync_xfer_new(&l->xh, l->base, &cfg, ops, l->hxs), 0);
}

static struct sync_xfer_stats hub_stats(void)
{
	struct sync_xfer_stats st;
	sync_xfer_stats_get(g_slab->xh, &st);
	return st;
}

static bool refused_ones_refused_good_ones_delivered(struct lab *unused)
{
	struct slab *l = g_slab;
	(void)unused;
	return state_is(l->cs, l->ids[0], SYNC_ST_REFUSED) &&
	       state_is(l->cs, l->ids[1], SYNC_ST_REFUSED) &&
	       state_is(l->cs, l->ids[2], SYNC_ST_DELIVERED);
}

static bool first_refused_again(struct lab *unused)
{
	(void)unused;
	return state_is(g_slab->cs, g_slab->ids[0], SYNC_ST_REFUSED) &&
	       hub_stats().offers_received >= 4;
}

static bool hub_two_sessions(struct lab *unused)
{
	(void)unused;
	return hub_stats().connects >= 2 && hub_stats().peers == 1;
}

static bool never(struct lab *unused)
{
	(void)unused;
	return false;
}

static bool fourth_delivered(struct lab *unused)
{
	(void)unused;
	return state_is(g_slab->cs, g_slab->ids[3], SYNC_ST_DELIVERED);
}

static void assert_refused(struct sync_store *s, const uint8_t *id, int32_t code)
{
	struct sync_record_info info;

	assert_int_equal(sync_store_get(s, id, &info), 0);
	assert_int_equal(info.state, SYNC_ST_REFUSED);
	assert_int_equal(info.refused_code, code);
}

static void test_store_refused_records_are_offered_once_and_stay_refused(void **state)
{
	struct slab *l = *state;
	size_t big = 1500000;
	uint8_t *data = malloc(big), secret[64], flip;
	struct keys *other = NULL;
	struct sync_record_info info;
	struct sync_recv_status rs;
	char path[256], hex[SYNC_ENV_ID_HEX_LEN];
	FILE *fp;

	randombytes_buf(data, big);
	randombytes_buf(secret, sizeof secret);
	assert_int_equal(keys_from_secret(secret, &other), 0);
	/* 0: signed by a key that is not the connected clinic's (refused at its header) */
	enqueue(l->cs, other, &l->hk->pub, SYNC_ENV_CASE, NULL, SYNC_PRIO_URGENT, data, 5000,
	        l->ids[l->nids++]);
	/* 1: spooled, and one byte of its chunk 1 damaged on the clinic's disk (refused there) */
	enqueue(l->cs, l->ck, &l->hk->pub, SYNC_ENV_CASE, NULL, SYNC_PRIO_NORMAL, data, big,
	        l->ids[l->nids++]);
	sync_env_id_hex(l->ids[1], hex);
	snprintf(path, sizeof path, "%s/spool/%s.rec", l->cdir, hex);
	assert_non_null(fp = fopen(path, "r+b"));
	assert_int_equal(
	        fseek(fp, SYNC_ENV_CHUNK_DEFAULT + SYNC_ENV_CHUNK_OVERHEAD + 100, SEEK_SET), 0);
	flip = (uint8_t)fgetc(fp);
	assert_int_equal(fseek(fp, -1, SEEK_CUR), 0);
	fputc(flip ^ 0x01, fp);
	fclose(fp);
	/* 2: a good one */
	enqueue(l->cs, l->ck, &l->hk->pub, SYNC_ENV_CASE, NULL, SYNC_PRIO_BULK, data, 20000,
	        l->ids[l->nids++]);
	slab_hub(l, 0);
	slab_clinic(l);
	assert_true(slab_run_until(l, refused_ones_refused_good_ones_delivered, 20000));
	assert_refused(l->cs, l->ids[0], SYNC_ENV_ESENDER);
	assert_refused(l->cs, l->ids[1], SYNC_ENV_ECHUNKHASH);
	/* nothing of them stays at the hub; the session was never dropped */
	assert_int_equal(sync_store_get(l->hs, l->ids[0], &info), SYNC_ENOTFOUND);
	assert_int_equal(sync_store_recv_status(l->hs, l->ids[1], &rs), SYNC_ENOTFOUND);
	assert_int_equal(hub_stats().records_rejected, 2);
	assert_int_equal(hub_stats().offers_received, 3);
	assert_int_equal(hub_stats().connects, 1);
	/* The operator retries one in the same session: offered once more, refused again. */
	assert_int_equal(sync_store_out_retry(l->cs, l->ids[0]), 0);
	sync_xfer_kick(l->xc);
	assert_true(slab_run_until(l, first_refused_again, 10000));
	assert_refused(l->cs, l->ids[0], SYNC_ENV_ESENDER);
	assert_int_equal(hub_stats().offers_received, 4);
	assert_int_equal(hub_stats().records_rejected, 3);
	/* The clinic restarts: they are still refused and not offered again. */
	slab_clinic_restart(l);
	assert_true(slab_run_until(l, hub_two_sessions, 10000));
	slab_run_until(l, never, 500);
	assert_int_equal(hub_stats().offers_received, 4);
	assert_int_equal(hub_stats().records_rejected, 3);
	assert_refused(l->cs, l->ids[0], SYNC_ENV_ESENDER);
	assert_refused(l->cs, l->ids[1], SYNC_ENV_ECHUNKHASH);
	/* A later good record still flows. */
	enqueue(l->cs, l->ck, &l->hk->pub, SYNC_ENV_CASE, NULL, SYNC_PRIO_NORMAL, data, 30000,
	        l->ids[l->nids++]);
	sync_xfer_kick(l->xc);
	assert_true(slab_run_until(l, fourth_delivered, 10000));
	check_export(l, l->ids[3], data, 30000);
	assert_int_equal(hub_stats().offers_received, 5);
	keys_free(other);
	free(data);
}

/* IK message 1 as the clinic sends it (prologue and payload as in sync/xfer.c). */
static size_t make_msg1(struct slab *l, uint64_t stamp, uint8_t *out, size_t cap)
{
	struct noise_handshake *hs = NULL;
	uint8_t p[8];
	size_t len = 0;

	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(stamp >> (56 - 8 * i));
	assert_int_equal(noise_handshake_new(&hs, NOISE_IK, NOISE_INITIATOR,
	                                     (const uint8_t *)"pirogue-sync/1", 14,
	                                     l->ck->x25519_sk, l->hk->pub.x25519),
	                 0);
	assert_int_equal(noise_handshake_write_message(hs, p, sizeof p, out, cap, &len), 0);
	noise_handshake_free(hs);
	return len;
}

/* Opens a TCP connection to the hub and writes one length-prefixed handshake record. */
static int send_msg1(uint16_t port, const uint8_t *msg, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(send(fd, hdr, 2, 0), 2);
	assert_int_equal(send(fd, msg, len, 0), (ssize_t)len);
	return fd;
}

static bool hub_one_session(struct lab *unused)
{
	(void)unused;
	return hub_stats().connects >= 1;
}

static bool hub_one_replay(struct lab *unused)
{
	(void)unused;
	return hub_stats().replays >= 1;
}

static void test_replayed_initiation_after_hub_restart_is_refused(void **state)
{
	struct slab *l = *state;
	struct sync_xfer_ops mem_only = sync_xfer_store_ops;
	uint8_t msg[256];
	size_t len = make_msg1(l, mtime_wall_ms() * 1000, msg, sizeof msg);
	uint16_t port;
	int fd;

	slab_hub(l, 0);
	port = sync_xfer_listen_port(l->xh);
	/* The recorded message is accepted once... */
	fd = send_msg1(port, msg, len);
	assert_true(slab_run_until(l, hub_one_session, 5000));
	close(fd);
	/* ...and refused when replayed to the same process (the store's check)... */
	fd = send_msg1(port, msg, len);
	assert_true(slab_run_until(l, hub_one_replay, 5000));
	close(fd);
	assert_int_equal(hub_stats().connects, 1);
	/* ...and after a hub restart (the store's check). */
	slab_hub_restart(l, port, &sync_xfer_store_ops);
	fd = send_msg1(port, msg, len);
	assert_true(slab_run_until(l, hub_one_replay, 5000));
	close(fd);
	assert_int_equal(hub_stats().connects, 0);
	/* The real clinic still connects after the restart (its timestamps are newer). */
	slab_clinic(l);
	assert_true(slab_run_until(l, hub_one_session, 5000));
	sync_xfer_free(l->xc);
	l->xc = NULL;
	/* Re-enrolment resets the record, on the running hub too: the old message (as from a
	 * clinic whose clock went back) is accepted again. */
	assert_int_equal(sync_store_peer_enroll(l->hs, "clinic1", &l->ck->pub), 0);
	fd = send_msg1(port, msg, len);
	assert_true(slab_run_until(l, hub_two_sessions, 5000));
	close(fd);
	assert_int_equal(hub_stats().replays, 1);
	/* Control: a hub that keeps the timestamps in memory only accepts the replay after a
	 * restart — what the store prevents. */
	mem_only.hs_stamp = NULL;
	slab_hub_restart(l, port, &mem_only);
	fd = send_msg1(port, msg, len);
	assert_true(slab_run_until(l, hub_one_session, 5000));
	close(fd);
	assert_int_equal(hub_stats().replays, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_records_travel_both_ways_intact, lab_setup,
	                                        lab_teardown),
	        cmocka_unit_test_setup_teardown(test_unknown_clinic_is_refused_before_any_state,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(test_hub_restart_resumes_from_durable_offset,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(test_urgent_record_overtakes_a_bulk_transfer,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(test_revoked_clinic_is_disconnected_on_recheck,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_fresh_records_sent_before_resume_are_reconciled, lab_setup,
	                lab_teardown),
	        cmocka_unit_test_setup_teardown(test_rejected_record_is_reported_to_the_sender,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(test_clinic_reconnects_when_the_hub_appears,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_store_cases_arrive_exported_intact_and_reply_returns, slab_setup,
	                slab_teardown),
	        cmocka_unit_test_setup_teardown(test_store_reconnect_resends_at_most_one_chunk,
	                                        slab_setup, slab_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_record_refused_mid_transfer_stops_there_and_others_flow, lab_setup,
	                lab_teardown),
	        cmocka_unit_test_setup_teardown(test_record_refused_at_its_offer_carries_the_reason,
	                                        lab_setup, lab_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_store_refused_records_are_offered_once_and_stay_refused, slab_setup,
	                slab_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_replayed_initiation_after_hub_restart_is_refused, slab_setup,
	                slab_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
