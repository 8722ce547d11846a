/* tests/unit/test_stream.c — relay/stream over a simulated link, all in virtual time.
 *
 * The simulated link (one per direction) is the geo-sat modem of bench/sync.sh: a serialiser at
 * the link rate behind a drop-tail queue counted in bytes, then loss (Gilbert–Elliott or random;
 * applied after the serialiser, so a lost packet has used link time), then the one-way delay
 * with jitter (FIFO unless reordering is asked for) and optional duplication. Every datagram
 * costs its length + 57 bytes (IPv4 + UDP + tunnel) on the link, like the real tunnel.
 * Seeds are fixed, so every run is the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/stream.h"

#define OVERHEAD 57
#define MTU      1443
#define POOL     16384

struct pkt {
	int64_t at_us;
	uint32_t seq;
	uint16_t len;
	uint8_t to;
	uint8_t data[MTU];
};

struct dir {
	double rate_bps;
	int64_t delay_us, jitter_us;
	uint64_t qlimit;   /* bytes */
	double p_gb, p_bg; /* Gilbert–Elliott: good->bad, bad->good per packet */
	double loss_random;
	bool bad;
	double reorder, dup;
	bool blackhole;
	int64_t busy_until_ns;
	int64_t last_arrival_us;
	uint64_t offered, offered_bytes, queue_drops, lost, delivered_pkts;
	uint64_t tx_bytes; /* link bytes serialised (lost ones included) */
	/* measurement window */
	int64_t win_from_us, win_to_us;
	uint64_t win_tx_bytes, win_pkts, win_lost;
	double qdelay_sum_ms;
	uint64_t qdelay_n;
	double qdelay_max_ms;
};

struct sim {
	struct dir d[2]; /* d[i]: from stream i to stream 1-i */
	struct relay_stream *s[2];
	struct pkt *heap[POOL];
	size_t nheap;
	uint32_t seq;
	uint64_t rng;
	int64_t now_us;
	/* application */
	uint64_t to_write[2];   /* bytes stream i still has to write */
	uint64_t written[2];    /* bytes written by stream i */
	uint64_t read_bytes[2]; /* bytes stream i has read (from the peer) */
	bool reader_paused[2];
	bool bad_byte;
	int input_errors;
	int poll_errors[2];
	uint64_t win_read[2];
};

static uint64_t rnd(struct sim *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ull;
}

static double rndf(struct sim *m)
{
	return (double)(rnd(m) >> 11) / 9007199254740992.0;
}

static uint8_t pattern(int dir, uint64_t off)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ull + (uint64_t)dir * 0x5851f42d4c957f2dull;

	return (uint8_t)(x >> 56 ^ x >> 29);
}

static bool heap_less(const struct pkt *a, const struct pkt *b)
{
	return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

static void heap_push(struct sim *m, struct pkt *p)
{
	size_t i = m->nheap++;

	assert_true(m->nheap <= POOL);
	m->heap[i] = p;
	while (i && heap_less(m->heap[i], m->heap[(i - 1) / 2])) {
		struct pkt *t = m->heap[i];

		m->heap[i] = m->heap[(i - 1) / 2];
		m->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static struct pkt *heap_pop(struct sim *m)
{
	struct pkt *top = m->heap[0];
	size_t i = 0;

	m->heap[0] = m->heap[--m->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, b = i;

		if (l < m->nheap && heap_less(m->heap[l], m->heap[b]))
			b = l;
		if (r < m->nheap && heap_less(m->heap[r], m->heap[b]))
			b = r;
		if (b == i)
			break;
		struct pkt *t = m->heap[i];

		m->heap[i] = m->heap[b];
		m->heap[b] = t;
		i = b;
	}
	return top;
}

/* Gilbert–Elliott with the given mean loss and mean burst length (loss 1 in bad, 0 in good). */
static void set_ge(struct dir *d, double loss, double burst)
{
	d->p_bg = 1.0 / burst;
	d->p_gb = loss * d->p_bg / (1.0 - loss);
}

static void set_link(struct dir *d, double rate_bps, int64_t delay_us, int64_t jitter_us,
                     double queue_s)
{
	memset(d, 0, sizeof *d);
	d->rate_bps = rate_bps;
	d->delay_us = delay_us;
	d->jitter_us = jitter_us;
	d->qlimit = (uint64_t)(rate_bps * queue_s / 8);
	d->win_to_us = -1;
}

static void sim_init(struct sim *m, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	m->rng = seed * 0x9e3779b97f4a7c15ull + 1;
}

static void link_send(struct sim *m, int from, const uint8_t *d, size_t len)
{
	struct dir *l = &m->d[from];
	int64_t now_ns = m->now_us * 1000;
	uint64_t size = len + OVERHEAD, backlog;
	int64_t start, done_us, at;
	struct pkt *p;

	l->offered++;
	l->offered_bytes += size;
	if (l->blackhole)
		return;
	backlog = l->busy_until_ns > now_ns
	                  ? (uint64_t)((double)(l->busy_until_ns - now_ns) * l->rate_bps / 8e9)
	                  : 0;
	if (backlog + size > l->qlimit) {
		l->queue_drops++;
		return;
	}
	start = l->busy_until_ns > now_ns ? l->busy_until_ns : now_ns;
	if (m->now_us >= l->win_from_us && m->now_us < l->win_to_us) {
		double qd = (double)(start - now_ns) / 1e6;

		l->qdelay_sum_ms += qd;
		l->qdelay_n++;
		if (qd > l->qdelay_max_ms)
			l->qdelay_max_ms = qd;
	}
	l->busy_until_ns = start + (int64_t)((double)size * 8e9 / l->rate_bps);
	l->tx_bytes += size;
	done_us = l->busy_until_ns / 1000;
	if (done_us >= l->win_from_us && done_us < l->win_to_us) {
		l->win_tx_bytes += size;
		l->win_pkts++;
	}
	/* loss after the serialiser */
	if (l->p_bg > 0) {
		l->bad = l->bad ? rndf(m) >= l->p_bg : rndf(m) < l->p_gb;
		if (l->bad) {
			l->lost++;
			if (done_us >= l->win_from_us && done_us < l->win_to_us)
				l->win_lost++;
			return;
		}
	}
	if (l->loss_random > 0 && rndf(m) < l->loss_random) {
		l->lost++;
		if (done_us >= l->win_from_us && done_us < l->win_to_us)
			l->win_lost++;
		return;
	}
	at = done_us + l->delay_us;
	if (l->jitter_us)
		at += (int64_t)(rnd(m) % (uint64_t)(2 * l->jitter_us + 1)) - l->jitter_us;
	if (l->reorder > 0 && rndf(m) < l->reorder) {
		at += 5000 + (int64_t)(rnd(m) % 40000); /* overtaken by later packets */
	} else if (at < l->last_arrival_us) {
		at = l->last_arrival_us; /* jitter alone does not reorder (like a modem) */
	}
	if (at > l->last_arrival_us)
		l->last_arrival_us = at;
	for (int copies = 0; copies < 2; copies++) {
		p = malloc(sizeof *p);
		assert_non_null(p);
		p->at_us = at + copies * 3000;
		p->seq = m->seq++;
		p->len = (uint16_t)len;
		p->to = (uint8_t)(1 - from);
		memcpy(p->data, d, len);
		heap_push(m, p);
		l->delivered_pkts++;
		if (!(l->dup > 0 && rndf(m) < l->dup))
			break;
	}
}

static void app_step(struct sim *m)
{
	uint8_t buf[65536];

	for (int i = 0; i < 2; i++) {
		struct relay_stream *s = m->s[i];

		while (m->to_write[i]) {
			size_t n = relay_stream_writable(s), k;

			if (!n)
				break;
			if (n > sizeof buf)
				n = sizeof buf;
			if (n > m->to_write[i])
				n = (size_t)m->to_write[i];
			for (size_t j = 0; j < n; j++)
				buf[j] = pattern(i, m->written[i] + j);
			k = relay_stream_write(s, buf, n);
			assert_int_equal(k, n);
			m->written[i] += k;
			m->to_write[i] -= k;
		}
		if (m->reader_paused[i])
			continue;
		for (;;) {
			size_t n = relay_stream_read(s, buf, sizeof buf);

			if (!n)
				break;
			for (size_t j = 0; j < n; j++)
				if (buf[j] != pattern(1 - i, m->read_bytes[i] + j))
					m->bad_byte = true;
			if (m->now_us >= m->d[1 - i].win_from_us &&
			    m->now_us < m->d[1 - i].win_to_us)
				m->win_read[i] += n;
			m->read_bytes[i] += n;
		}
	}
}

/* Runs until `until_us` or until done() says so (checked every event). */
static void sim_run(struct sim *m, int64_t until_us, bool (*done)(struct sim *))
{
	uint8_t out[2048];

	while (m->now_us < until_us) {
		int64_t next = until_us;

		while (m->nheap && m->heap[0]->at_us <= m->now_us) {
			struct pkt *p = heap_pop(m);

			if (m->s[p->to] &&
			    relay_stream_input(m->s[p->to], p->data, p->len, m->now_us) != 0)
				m->input_errors++;
			free(p);
		}
		app_step(m);
		for (int i = 0; i < 2; i++) {
			int64_t nx = INT64_MAX;

			if (!m->s[i])
				continue;
			for (int guard = 0; guard < 100000; guard++) {
				size_t len = 0;
				int r = relay_stream_poll(m->s[i], m->now_us, out, sizeof out, &len,
				                          &nx);

				if (r == 1) {
					assert_true(len > 0 && len <= MTU);
					link_send(m, i, out, len);
					continue;
				}
				if (r < 0) {
					m->poll_errors[i] = r;
					nx = INT64_MAX;
				}
				break;
			}
			if (nx < next)
				next = nx;
		}
		if (m->nheap && m->heap[0]->at_us < next)
			next = m->heap[0]->at_us;
		if (m->now_us + 5000 < next)
			next = m->now_us + 5000; /* the application looks every 5 ms */
		if (next <= m->now_us)
			next = m->now_us + 1;
		m->now_us = next;
		if (done && done(m))
			break;
	}
}

static void sim_free(struct sim *m)
{
	while (m->nheap)
		free(heap_pop(m));
	relay_stream_free(m->s[0]);
	relay_stream_free(m->s[1]);
	m->s[0] = m->s[1] = NULL;
}

static void sim_open(struct sim *m, const struct relay_stream_config *cfg)
{
	uint8_t out[2048];
	size_t len = 0;
	int64_t nx;

	assert_int_equal(relay_stream_new(&m->s[0], cfg, 0x1234abcd, true, m->now_us), 0);
	/* the acceptor is created when the first OPEN arrives, like sync/ will do */
	assert_int_equal(relay_stream_poll(m->s[0], m->now_us, out, sizeof out, &len, &nx), 1);
	assert_true(relay_stream_is_open(out, len));
	link_send(m, 0, out, len);
	while (m->nheap) {
		struct pkt *p = heap_pop(m);

		m->now_us = p->at_us;
		if (relay_stream_is_open(p->data, p->len) && !m->s[1]) {
			uint8_t t;
			uint32_t id;

			assert_true(relay_stream_peek(p->data, p->len, &t, &id));
			assert_int_equal(id, 0x1234abcd);
			assert_int_equal(relay_stream_new(&m->s[1], cfg, id, false, m->now_us), 0);
			assert_int_equal(relay_stream_input(m->s[1], p->data, p->len, m->now_us),
			                 0);
		}
		free(p);
	}
	assert_non_null(m->s[1]);
}

static bool both_done(struct sim *m)
{
	return m->read_bytes[1] == m->written[0] && !m->to_write[0] &&
	       m->read_bytes[0] == m->written[1] && !m->to_write[1];
}

static struct relay_stream_config default_cfg(void)
{
	struct relay_stream_config c = {0};

	return c;
}

/* geo-sat link of bench/sync.sh: 2 Mbit/s, 300 ms each way +-20 ms, 1.5 s queue */
static void geosat(struct sim *m, double loss)
{
	for (int i = 0; i < 2; i++) {
		set_link(&m->d[i], 2e6, 300000, 20000, 1.5);
		if (loss > 0)
			set_ge(&m->d[i], loss, 3);
	}
}

static void transfer_both_ways(double loss, double reorder, double dup, uint64_t seed)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	struct relay_stream_stats st0, st1;
	const uint64_t n = 20u << 20;

	assert_non_null(m);
	sim_init(m, seed);
	geosat(m, loss);
	for (int i = 0; i < 2; i++) {
		m->d[i].reorder = reorder;
		m->d[i].dup = dup;
	}
	sim_open(m, &c);
	m->to_write[0] = m->to_write[1] = n;
	sim_run(m, 400000000, both_done);
	relay_stream_stats(m->s[0], &st0);
	relay_stream_stats(m->s[1], &st1);
	printf("  loss %.0f%% reorder %.0f%% dup %.0f%%: 20 MiB each way in %.1f s (virtual); "
	       "resent %llu/%llu B, lost %llu dgrams, rate %llu bit/s, srtt %u ms\n",
	       loss * 100, reorder * 100, dup * 100, (double)m->now_us / 1e6,
	       (unsigned long long)st0.bytes_resent, (unsigned long long)st0.bytes_sent,
	       (unsigned long long)st0.datagrams_lost, (unsigned long long)st0.rate_bps,
	       st0.srtt_ms);
	assert_false(m->bad_byte);
	assert_int_equal(m->read_bytes[1], n);
	assert_int_equal(m->read_bytes[0], n);
	assert_int_equal(m->input_errors, 0);
	assert_int_equal(st0.datagrams_malformed, 0);
	assert_int_equal(st1.datagrams_malformed, 0);
	assert_int_equal(relay_stream_error(m->s[0]), 0);
	assert_int_equal(relay_stream_error(m->s[1]), 0);
	/* each way carries the other way's ACKs too, and each sender sees the other's queue in its
	 * RTT: 97-109 s measured for 20 MiB each way, against ~91 s at the payload ceiling */
	assert_true(m->now_us < 125000000);
	sim_free(m);
	free(m);
}

static void test_transfer_clean(void **state)
{
	transfer_both_ways(0, 0, 0, 1);
}

static void test_transfer_1pct_bursty(void **state)
{
	transfer_both_ways(0.01, 0, 0, 2);
}

static void test_transfer_2pct_bursty(void **state)
{
	transfer_both_ways(0.02, 0, 0, 3);
}

static void test_transfer_reorder_dup(void **state)
{
	transfer_both_ways(0.01, 0.05, 0.03, 4);
}

/* One direction on the geo-sat link; returns goodput / link rate over [20 s, 320 s). */
static double geosat_goodput(double loss, uint64_t seed, double *busy, double *qd_avg_ms,
                             double *qd_max_ms, double *loss_seen)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	double g;

	assert_non_null(m);
	sim_init(m, seed);
	geosat(m, loss);
	m->d[0].win_from_us = 20000000;
	m->d[0].win_to_us = 320000000;
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	sim_run(m, 320000000, NULL);
	assert_false(m->bad_byte);
	g = (double)m->win_read[1] * 8 / 300.0 / 2e6;
	*busy = (double)m->d[0].win_tx_bytes * 8 / 300.0 / 2e6;
	*qd_avg_ms = m->d[0].qdelay_sum_ms / (double)(m->d[0].qdelay_n ? m->d[0].qdelay_n : 1);
	*qd_max_ms = m->d[0].qdelay_max_ms;
	*loss_seen = (double)m->d[0].win_lost / (double)m->d[0].win_pkts;
	sim_free(m);
	free(m);
	return g;
}

/* Physical ceiling of goodput over link rate: payload share of a full datagram, times the
 * packets that survive. 1443-byte datagrams with a 15-byte DATA header on a 1500-byte link
 * packet: 1428/1500 = 95.2 %; at 1 % loss 94.25 %, at 2 % 93.3 %. */
static double ceiling(double loss)
{
	return (double)(MTU - 15) / (MTU + OVERHEAD) * (1 - loss);
}

static void test_goodput_geosat_1pct(void **state)
{
	double busy, qa, qm, ls, g = geosat_goodput(0.01, 11, &busy, &qa, &qm, &ls);

	printf("  geo-sat 1%% bursty: goodput %.2f %% of link; ceiling %.2f %% at the nominal "
	       "loss, %.2f %% at the %.2f %% loss this run drew (%.1f %% of it); link busy "
	       "%.2f %%, queue delay avg %.0f ms max %.0f ms\n",
	       g * 100, ceiling(0.01) * 100, ceiling(ls) * 100, ls * 100, g / ceiling(ls) * 100,
	       busy * 100, qa, qm);
	assert_true(g >= 0.92);
	assert_true(g >= 0.97 * ceiling(ls));
	assert_true(busy >= 0.98);
	assert_true(qm < 600); /* the queue stays under one BDP */
}

static void test_goodput_geosat_2pct(void **state)
{
	double busy, qa, qm, ls, g = geosat_goodput(0.02, 12, &busy, &qa, &qm, &ls);

	printf("  geo-sat 2%% bursty: goodput %.2f %% of link; ceiling %.2f %% at the nominal "
	       "loss, %.2f %% at the %.2f %% loss this run drew (%.1f %% of it); link busy "
	       "%.2f %%, queue delay avg %.0f ms max %.0f ms\n",
	       g * 100, ceiling(0.02) * 100, ceiling(ls) * 100, ls * 100, g / ceiling(ls) * 100,
	       busy * 100, qa, qm);
	assert_true(g >= 0.91);
	assert_true(g >= 0.97 * ceiling(ls));
	assert_true(busy >= 0.98);
	assert_true(qm < 600); /* the queue stays under one BDP */
}

static void test_capacity_drop(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	struct relay_stream_stats st;
	int64_t below_at = -1;
	uint64_t last = 0;

	assert_non_null(m);
	sim_init(m, 21);
	geosat(m, 0.01);
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	sim_run(m, 40000000, NULL);
	relay_stream_stats(m->s[0], &st);
	assert_true(st.btlbw_bps > 1800000);
	/* the modem's rate drops 4x; its queue (in bytes) stays: now 6 s deep */
	m->d[0].rate_bps = 500000;
	last = m->d[0].offered_bytes;
	for (int64_t t = 40000000; t < 60000000; t += 500000) {
		/* what the sender puts on the link (queue drops included), per 0.5 s */
		sim_run(m, t + 500000, NULL);
		if (below_at < 0 && (double)(m->d[0].offered_bytes - last) * 8 / 0.5 < 500000)
			below_at = m->now_us;
		last = m->d[0].offered_bytes;
	}
	m->d[0].win_from_us = 60000000;
	m->d[0].win_to_us = 90000000;
	sim_run(m, 90000000, NULL);
	relay_stream_stats(m->s[0], &st);
	printf("  2 Mbit/s -> 500 kbit/s: sending below 500 kbit/s %.1f s after the drop; over "
	       "[+20 s, +50 s): queue delay avg %.0f ms max %.0f ms, link busy %.1f %%, "
	       "estimate %llu bit/s\n",
	       below_at < 0 ? -1.0 : (double)(below_at - 40000000) / 1e6,
	       m->d[0].qdelay_sum_ms / (double)m->d[0].qdelay_n, m->d[0].qdelay_max_ms,
	       (double)m->d[0].win_tx_bytes * 8 / 30.0 / 500000 * 100,
	       (unsigned long long)st.btlbw_bps);
	assert_false(m->bad_byte);
	assert_true(below_at > 0 && below_at - 40000000 <= 5000000);
	/* the queue does not stay full (a full queue would be 6000 ms) */
	assert_true(m->d[0].qdelay_sum_ms / (double)m->d[0].qdelay_n < 600);
	assert_true(m->d[0].qdelay_max_ms < 1000);
	assert_true(st.btlbw_bps < 600000);
	/* and the smaller link is still used */
	assert_true((double)m->d[0].win_tx_bytes * 8 / 30.0 > 0.9 * 500000);
	sim_free(m);
	free(m);
}

static void test_rate_cap(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	double r;

	assert_non_null(m);
	sim_init(m, 31);
	geosat(m, 0.01);
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	sim_run(m, 20000000, NULL);
	relay_stream_set_cap(m->s[0], 1000000);
	m->d[0].win_from_us = 21000000;
	m->d[0].win_to_us = 41000000;
	sim_run(m, 41000000, NULL);
	r = (double)m->d[0].win_tx_bytes * 8 / 20.0;
	printf("  cap 1 Mbit/s on a 2 Mbit/s link: %.0f bit/s on the link\n", r);
	assert_true(r <= 1000000 * 1.01);
	assert_true(r >= 1000000 * 0.9);
	/* lifting the cap returns to the link rate */
	relay_stream_set_cap(m->s[0], 0);
	m->d[0].win_from_us = 50000000;
	m->d[0].win_to_us = 70000000;
	m->d[0].win_tx_bytes = 0;
	sim_run(m, 70000000, NULL);
	r = (double)m->d[0].win_tx_bytes * 8 / 20.0;
	printf("  cap lifted: %.0f bit/s on the link\n", r);
	assert_true(r >= 2e6 * 0.97);
	assert_false(m->bad_byte);
	sim_free(m);
	free(m);
}

static void test_flow_control(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	struct relay_stream_stats st;
	const uint64_t n = 3u << 20;

	assert_non_null(m);
	c.recv_window = 256 * 1024;
	sim_init(m, 41);
	geosat(m, 0.01);
	sim_open(m, &c);
	m->reader_paused[1] = true;
	m->to_write[0] = n;
	sim_run(m, 30000000, NULL);
	relay_stream_stats(m->s[0], &st);
	/* the receiver holds exactly its window; the sender stopped there */
	assert_int_equal(relay_stream_readable(m->s[1]), 256 * 1024);
	assert_true(st.bytes_acked == 256 * 1024);
	assert_true(st.bytes_sent - st.bytes_resent <= 256 * 1024);
	assert_int_equal(relay_stream_error(m->s[0]), 0);
	/* the reader wakes up: everything arrives, byte-exact */
	m->reader_paused[1] = false;
	sim_run(m, 120000000, both_done);
	assert_false(m->bad_byte);
	assert_int_equal(m->read_bytes[1], n);
	sim_free(m);
	free(m);
}

static void test_close(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();

	assert_non_null(m);
	sim_init(m, 51);
	geosat(m, 0);
	sim_open(m, &c);
	m->to_write[0] = 100000;
	sim_run(m, 10000000, both_done);
	assert_int_equal(m->read_bytes[1], 100000);
	relay_stream_close(m->s[1], 7);
	assert_int_equal(relay_stream_writable(m->s[1]), 0);
	sim_run(m, m->now_us + 2000000, NULL);
	assert_int_equal(relay_stream_error(m->s[1]), RELAY_STREAM_ECLOSED);
	assert_int_equal(relay_stream_error(m->s[0]), RELAY_STREAM_ECLOSED);
	assert_int_equal(m->poll_errors[0], RELAY_STREAM_ECLOSED);
	assert_int_equal(m->poll_errors[1], RELAY_STREAM_ECLOSED);
	assert_int_equal(relay_stream_write(m->s[0], (const uint8_t *)"x", 1), 0);
	assert_string_equal(relay_stream_strerror(RELAY_STREAM_ECLOSED), "stream is closed");
	sim_free(m);
	free(m);
}

static void test_idle_timeout_and_keepalive(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	int64_t cut;

	assert_non_null(m);
	c.idle_timeout_ms = 5000;
	sim_init(m, 61);
	geosat(m, 0.01);
	sim_open(m, &c);
	m->to_write[0] = 10000;
	/* idle but healthy: keepalives hold it open for many timeouts */
	sim_run(m, 30000000, NULL);
	assert_int_equal(m->read_bytes[1], 10000);
	assert_int_equal(relay_stream_error(m->s[0]), 0);
	assert_int_equal(relay_stream_error(m->s[1]), 0);
	/* the link goes dark: both ends time out after 5 s, not before */
	m->d[0].blackhole = m->d[1].blackhole = true;
	cut = m->now_us;
	sim_run(m, cut + 4000000, NULL);
	assert_int_equal(relay_stream_error(m->s[0]), 0);
	sim_run(m, cut + 7000000, NULL);
	assert_int_equal(relay_stream_error(m->s[0]), RELAY_STREAM_ETIMEDOUT);
	assert_int_equal(relay_stream_error(m->s[1]), RELAY_STREAM_ETIMEDOUT);
	assert_int_equal(m->poll_errors[0], RELAY_STREAM_ETIMEDOUT);
	sim_free(m);
	free(m);
}

static void test_opener_without_peer_times_out(void **state)
{
	struct relay_stream *s;
	struct relay_stream_config c = default_cfg();
	uint8_t out[2048];
	size_t len;
	int64_t now = 0, nx;
	int opens = 0, r;

	c.idle_timeout_ms = 20000;
	assert_int_equal(relay_stream_new(&s, &c, 9, true, now), 0);
	for (;;) {
		r = relay_stream_poll(s, now, out, sizeof out, &len, &nx);
		if (r < 0)
			break;
		if (r == 1) {
			if (relay_stream_is_open(out, len))
				opens++;
			continue;
		}
		assert_true(nx > now);
		now = nx;
	}
	assert_int_equal(r, RELAY_STREAM_ETIMEDOUT);
	assert_true(now >= 20000000 && now < 21000000);
	assert_true(opens >= 4 && opens <= 8); /* retried with backoff, not flooded */
	relay_stream_free(s);
}

/* ---- malformed input ---------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put48(uint8_t *p, uint64_t v)
{
	p[0] = (uint8_t)(v >> 40);
	p[1] = (uint8_t)(v >> 32);
	put32(p + 2, (uint32_t)v);
}

static size_t mk_hdr(uint8_t *d, uint8_t type, uint32_t id, uint32_t pn)
{
	d[0] = type;
	put32(d + 1, id);
	put32(d + 5, pn);
	return 9;
}

/* ACK: largest, delay, rcv_next, max_data, nranges, first, then nranges (gap, len) pairs */
static size_t mk_ack(uint8_t *d, uint32_t id, uint32_t largest, uint64_t rcv_next,
                     uint64_t max_data, uint8_t n, uint32_t first, const uint32_t *pairs,
                     size_t npairs)
{
	size_t o = mk_hdr(d, 0x04, id, 77);

	put32(d + o, largest);
	o += 4;
	d[o++] = 0;
	d[o++] = 0;
	put48(d + o, rcv_next);
	o += 6;
	put48(d + o, max_data);
	o += 6;
	d[o++] = n;
	put32(d + o, first);
	o += 4;
	for (size_t i = 0; i < npairs; i++, o += 4)
		put32(d + o, pairs[i]);
	return o;
}

static void check_refused_at(struct relay_stream *s, const uint8_t *d, size_t len, int want,
                             int line)
{
	struct relay_stream_stats a, b;
	size_t ra = relay_stream_readable(s), wa = relay_stream_writable(s);
	int got;

	relay_stream_stats(s, &a);
	got = relay_stream_input(s, d, len, 1000);
	if (got != want)
		fail_msg("line %d: input returned %d, want %d", line, got, want);
	relay_stream_stats(s, &b);
	assert_int_equal(b.datagrams_malformed, a.datagrams_malformed + 1);
	b.datagrams_malformed = a.datagrams_malformed;
	assert_memory_equal(&a, &b, sizeof a);
	assert_int_equal(relay_stream_readable(s), ra);
	assert_int_equal(relay_stream_writable(s), wa);
	assert_int_equal(relay_stream_error(s), 0);
}

#define check_refused(s, d, len, want) check_refused_at(s, d, len, want, __LINE__)

static void test_malformed_refused(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	uint8_t d[4096];
	uint32_t pairs[600];
	const uint32_t id = 0x1234abcd;
	struct relay_stream *rx, *tx;
	size_t n;
	uint8_t t;
	uint32_t sid;

	assert_non_null(m);
	c.recv_window = 128 * 1024;
	sim_init(m, 71);
	geosat(m, 0);
	sim_open(m, &c);
	m->to_write[0] = 200000;
	sim_run(m, 3000000, NULL); /* mid-transfer: state worth protecting */
	tx = m->s[0];
	rx = m->s[1];

	/* truncated header, empty, unknown type */
	check_refused(rx, d, 0, RELAY_STREAM_EMALFORMED);
	n = mk_hdr(d, 0x03, id, 1000);
	check_refused(rx, d, 5, RELAY_STREAM_EMALFORMED);
	check_refused(rx, d, 8, RELAY_STREAM_EMALFORMED);
	mk_hdr(d, 0x0e, id, 1000);
	check_refused(rx, d, 20, RELAY_STREAM_EMALFORMED);
	mk_hdr(d, 0x80, id, 1000);
	check_refused(rx, d, 20, RELAY_STREAM_EMALFORMED);
	/* DATA: no payload, truncated offset, wrong id */
	n = mk_hdr(d, 0x03, id, 1000);
	put48(d + n, 0);
	check_refused(rx, d, n + 6, RELAY_STREAM_EMALFORMED);
	check_refused(rx, d, n + 3, RELAY_STREAM_EMALFORMED);
	mk_hdr(d, 0x03, id + 1, 1000);
	memset(d + 15, 0xaa, 100);
	check_refused(rx, d, 115, RELAY_STREAM_ESTREAM);
	/* DATA beyond the receive window, and at the far end of the offset space */
	mk_hdr(d, 0x03, id, 1000);
	put48(d + 9, relay_stream_readable(rx) + 1000000);
	check_refused(rx, d, 115, RELAY_STREAM_EPROTO);
	put48(d + 9, 0xffffffffffffull);
	check_refused(rx, d, 115, RELAY_STREAM_EPROTO);
	/* OPEN / CLOSE / PING with wrong lengths */
	n = mk_hdr(d, 0x01, id, 1000);
	check_refused(rx, d, n + 5, RELAY_STREAM_EMALFORMED);
	check_refused(rx, d, n + 7, RELAY_STREAM_EMALFORMED);
	n = mk_hdr(d, 0x05, id, 1000);
	check_refused(rx, d, n + 3, RELAY_STREAM_EMALFORMED);
	n = mk_hdr(d, 0x06, id, 1000);
	check_refused(rx, d, n + 1, RELAY_STREAM_EMALFORMED);

	/* ACKs at the sender: absurd ranges and claims */
	n = mk_ack(d, id, 5, 0, 1 << 20, 255, 0, NULL, 0); /* 255 ranges announced, none there */
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	for (size_t i = 0; i < 600; i++)
		pairs[i] = 0xffffffffu;
	n = mk_ack(d, id, 5, 0, 1 << 20, 255, 0, pairs, 510); /* ranges below packet number 0 */
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	n = mk_ack(d, id, 5, 0, 1 << 20, 0, 6, NULL, 0); /* first range below 0 */
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	n = mk_ack(d, id, 0xfffffff0u, 0, 1 << 20, 0, 0, NULL, 0); /* never sent */
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	n = mk_ack(d, id, 5, 1ull << 40, 1ull << 41, 0, 0, NULL, 0); /* bytes never sent */
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	n = mk_ack(d, id, 5, 100, 50, 0, 0, NULL, 0); /* window below what was received */
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	pairs[0] = 0; /* gap of zero packets: overlapping ranges */
	pairs[1] = 0;
	n = mk_ack(d, id, 5, 0, 1 << 20, 1, 1, pairs, 2);
	check_refused(tx, d, n, RELAY_STREAM_EMALFORMED);
	n = mk_ack(d, id, 5, 0, 1 << 20, 0, 0, NULL, 0);
	check_refused(tx, d, n - 1, RELAY_STREAM_EMALFORMED);
	check_refused(tx, d, n + 1, RELAY_STREAM_EMALFORMED);

	/* peek never reads past the end */
	assert_false(relay_stream_peek(d, 4, &t, &sid));
	assert_false(relay_stream_peek((const uint8_t *)"\x80\0\0\0\0\0\0\0\0", 9, &t, &sid));
	assert_false(relay_stream_is_open(d, 0));

	/* after all that, the transfer completes byte-exact */
	sim_run(m, 60000000, both_done);
	assert_false(m->bad_byte);
	assert_int_equal(m->read_bytes[1], 200000);
	sim_free(m);
	free(m);
}

/* From start_bps (256 kbit/s) to the link rate within a few round trips. */
static void test_startup_ramp(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	uint64_t last = 0;
	int64_t full_at = -1;

	assert_non_null(m);
	sim_init(m, 81);
	geosat(m, 0.01);
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	for (int64_t t = 250000; t <= 15000000; t += 250000) {
		sim_run(m, t, NULL);
		/* link bytes the sender put on the link in the last 250 ms */
		if (full_at < 0 && (double)(m->d[0].offered_bytes - last) * 8 / 0.25 >= 0.9 * 2e6)
			full_at = t;
		last = m->d[0].offered_bytes;
	}
	printf("  startup: 256 kbit/s -> 90 %% of 2 Mbit/s after %.2f s (%.1f round trips of "
	       "600 ms)\n",
	       (double)full_at / 1e6, (double)full_at / 600000.0);
	assert_true(full_at > 0 && full_at <= 4500000);
	/* and the startup overshoot is drained: no queue drop, no standing queue afterwards */
	assert_int_equal(m->d[0].queue_drops, 0);
	assert_true(m->d[0].busy_until_ns / 1000 - m->now_us < 600000);
	assert_false(m->bad_byte);
	sim_free(m);
	free(m);
}

/* Capacity grows 4x (500 kbit/s -> 2 Mbit/s): the stream finds it. */
static void test_capacity_rise(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	uint64_t last;
	int64_t full_at = -1;

	assert_non_null(m);
	sim_init(m, 82);
	geosat(m, 0.01);
	m->d[0].rate_bps = 500000;
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	sim_run(m, 30000000, NULL);
	m->d[0].rate_bps = 2e6;
	last = m->d[0].offered_bytes;
	for (int64_t t = 30500000; t <= 60000000; t += 500000) {
		sim_run(m, t, NULL);
		if (full_at < 0 && (double)(m->d[0].offered_bytes - last) * 8 / 0.5 >= 0.9 * 2e6)
			full_at = t;
		last = m->d[0].offered_bytes;
	}
	printf("  500 kbit/s -> 2 Mbit/s: sending at 90 %% of the new rate %.1f s after the rise\n",
	       full_at < 0 ? -1.0 : (double)(full_at - 30000000) / 1e6);
	assert_true(full_at > 0 && full_at - 30000000 <= 15000000);
	assert_false(m->bad_byte);
	sim_free(m);
	free(m);
}

/* Loss far above the baseline (1 % -> 25 % for 20 s) lowers the rate; once it is over, the rate
 * comes back. Random loss at the baseline does not (see the goodput tests). */
static void test_heavy_loss_backs_off(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	struct relay_stream_stats st;
	uint64_t before, during, after;

	assert_non_null(m);
	sim_init(m, 83);
	geosat(m, 0.01);
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	sim_run(m, 30000000, NULL);
	relay_stream_stats(m->s[0], &st);
	before = st.btlbw_bps;
	m->d[0].loss_random = 0.25;
	sim_run(m, 40000000, NULL);
	relay_stream_stats(m->s[0], &st);
	during = st.btlbw_bps;
	m->d[0].loss_random = 0;
	m->d[0].win_from_us = 60000000;
	m->d[0].win_to_us = 80000000;
	sim_run(m, 80000000, NULL);
	relay_stream_stats(m->s[0], &st);
	after = st.btlbw_bps;
	printf("  25 %% loss for 10 s: estimate %llu -> %llu bit/s; 20 s after it %llu bit/s, link "
	       "busy %.1f %% over the next 20 s\n",
	       (unsigned long long)before, (unsigned long long)during, (unsigned long long)after,
	       (double)m->d[0].win_tx_bytes * 8 / 20.0 / 2e6 * 100);
	assert_true(before > 1900000);
	assert_true(during < before / 2);
	assert_true((double)m->d[0].win_tx_bytes * 8 / 20.0 >= 0.95 * 2e6);
	assert_false(m->bad_byte);
	sim_free(m);
	free(m);
}

static bool all_read(struct sim *m)
{
	return m->read_bytes[1] == m->written[0] && !m->to_write[0];
}

/* The tail of a transfer is lost (nothing after it to reveal the loss): the probe timeout
 * resends it. */
static void test_tail_loss_recovered_by_pto(void **state)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	struct relay_stream_stats st;
	int64_t t0;

	assert_non_null(m);
	sim_init(m, 84);
	geosat(m, 0);
	sim_open(m, &c);
	m->to_write[0] = 30000;
	sim_run(m, 2000000, all_read);
	assert_int_equal(m->read_bytes[1], 30000);
	/* one more write whose datagrams all vanish */
	m->to_write[0] = 5000;
	m->d[0].blackhole = true;
	sim_run(m, m->now_us + 50000, NULL);
	m->d[0].blackhole = false;
	t0 = m->now_us;
	sim_run(m, t0 + 10000000, all_read);
	relay_stream_stats(m->s[0], &st);
	printf("  lost tail of 5000 B recovered %.2f s later (%llu B resent)\n",
	       (double)(m->now_us - t0) / 1e6, (unsigned long long)st.bytes_resent);
	assert_int_equal(m->read_bytes[1], 35000);
	assert_true(m->now_us - t0 < 3000000);
	assert_true(st.bytes_resent >= 1428);
	assert_false(m->bad_byte);
	sim_free(m);
	free(m);
}

static void test_config_checked(void **state)
{
	struct relay_stream *s = NULL;
	struct relay_stream_config c = default_cfg();

	c.recv_window = 1000; /* below the 64 KiB an opener may send before OPEN_OK */
	assert_int_equal(relay_stream_new(&s, &c, 1, true, 0), -22);
	assert_null(s);
	c = default_cfg();
	c.mtu = 20;
	assert_int_equal(relay_stream_new(&s, &c, 1, true, 0), -22);
	assert_null(s);
	assert_int_equal(relay_stream_new(&s, NULL, 1, true, 0), 0);
	relay_stream_free(s);
	relay_stream_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_config_checked),
	        cmocka_unit_test(test_malformed_refused),
	        cmocka_unit_test(test_close),
	        cmocka_unit_test(test_idle_timeout_and_keepalive),
	        cmocka_unit_test(test_opener_without_peer_times_out),
	        cmocka_unit_test(test_flow_control),
	        cmocka_unit_test(test_rate_cap),
	        cmocka_unit_test(test_capacity_drop),
	        cmocka_unit_test(test_startup_ramp),
	        cmocka_unit_test(test_capacity_rise),
	        cmocka_unit_test(test_heavy_loss_backs_off),
	        cmocka_unit_test(test_tail_loss_recovered_by_pto),
	        cmocka_unit_test(test_goodput_geosat_1pct),
	        cmocka_unit_test(test_goodput_geosat_2pct),
	        cmocka_unit_test(test_transfer_clean),
	        cmocka_unit_test(test_transfer_1pct_bursty),
	        cmocka_unit_test(test_transfer_2pct_bursty),
	        cmocka_unit_test(test_transfer_reorder_dup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
