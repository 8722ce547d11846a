/* tests/unit/util/stream_sim.h — a simulated link in virtual time for relay/stream, shared by
 * tests/unit/test_stream.c and bench/bench_stream.c (header-only: bench/ links only the library).
 *
 * The simulated link (one per direction) is the geo-sat modem of bench/sync.sh: a serialiser at
 * the link rate behind a drop-tail queue counted in bytes, then loss (Gilbert-Elliott or random;
 * applied after the serialiser, so a lost packet has used link time), then the one-way delay
 * with jitter (FIFO unless reordering is asked for) and optional duplication. Every datagram
 * costs its length + 57 bytes (IPv4 + UDP + tunnel) on the link, like the real tunnel.
 * Seeds are fixed, so every run is the same. An internal inconsistency aborts.
 */
#ifndef PIROGUE_TESTS_STREAM_SIM_H
#define PIROGUE_TESTS_STREAM_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/stream.h"

#define SIM_OVERHEAD  57
#define SIM_MTU       1443
#define SIM_DGRAM_MAX 5883 /* largest stream datagram the sim carries (tunnel's 5912 - 29) */
#define SIM_POOL      16384
#define SIM_STREAM_ID 0x1234abcdu

#define SIM_CHECK(c)                                                                               \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "stream_sim: %s:%d: %s\n", __FILE__, __LINE__, #c);        \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct sim_pkt {
	int64_t at_us;
	uint32_t seq;
	uint16_t len;
	uint8_t to;
	uint8_t data[SIM_DGRAM_MAX];
};

struct sim_dir {
	double rate_bps;
	int64_t delay_us, jitter_us;
	uint64_t qlimit;   /* bytes */
	double p_gb, p_bg; /* Gilbert–Elliott: good->bad, bad->good per packet */
	double loss_random;
	bool bad;
	double reorder, dup;
	bool blackhole;
	uint64_t drop_from,
	        drop_to; /* packets [from, to) of this direction, counted from 1, lost */
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
	struct sim_dir d[2]; /* d[i]: from stream i to stream 1-i */
	struct relay_stream *s[2];
	struct sim_pkt *heap[SIM_POOL];
	size_t nheap;
	uint32_t seq;
	uint64_t rng;
	int64_t now_us;
	/* application */
	uint64_t to_write[2];   /* bytes stream i still has to write */
	uint64_t written[2];    /* bytes written by stream i */
	uint64_t read_bytes[2]; /* bytes stream i has read (from the peer) */
	bool reader_paused[2];
	size_t write_chunk[2]; /* at most this many bytes per application step (0: no limit) */
	/* a process that is not scheduled: stream i neither reads nor sends for stall_len_us out of
	 * every stall_period_us (0: never stalls); what arrives meanwhile waits */
	int64_t stall_period_us[2], stall_len_us[2];
	bool bad_byte;
	int input_errors;
	int poll_errors[2];
	uint64_t win_read[2];
	/* 0: every datagram is one link packet of len + SIM_OVERHEAD bytes, at most SIM_MTU. Else
	 * the link's IP packet size: a longer datagram (up to SIM_DGRAM_MAX) travels as IPv4
	 * fragments, each a packet of the loss model (one lost loses the datagram) and each after
	 * the first 20 header bytes more on the link. */
	uint32_t frag_mtu;
};

static inline uint64_t rnd(struct sim *m)
{
	m->rng ^= m->rng >> 12;
	m->rng ^= m->rng << 25;
	m->rng ^= m->rng >> 27;
	return m->rng * 2685821657736338717ull;
}

static inline double rndf(struct sim *m)
{
	return (double)(rnd(m) >> 11) / 9007199254740992.0;
}

static inline uint8_t pattern(int dir, uint64_t off)
{
	uint64_t x = off * 0x9e3779b97f4a7c15ull + (uint64_t)dir * 0x5851f42d4c957f2dull;

	return (uint8_t)(x >> 56 ^ x >> 29);
}

static inline bool heap_less(const struct sim_pkt *a, const struct sim_pkt *b)
{
	return a->at_us < b->at_us || (a->at_us == b->at_us && a->seq < b->seq);
}

static inline void heap_push(struct sim *m, struct sim_pkt *p)
{
	size_t i;

	SIM_CHECK(m->nheap < SIM_POOL);
	i = m->nheap++;
	m->heap[i] = p;
	while (i && heap_less(m->heap[i], m->heap[(i - 1) / 2])) {
		struct sim_pkt *t = m->heap[i];

		m->heap[i] = m->heap[(i - 1) / 2];
		m->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static inline struct sim_pkt *heap_pop(struct sim *m)
{
	struct sim_pkt *top = m->heap[0];
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
		struct sim_pkt *t = m->heap[i];

		m->heap[i] = m->heap[b];
		m->heap[b] = t;
		i = b;
	}
	return top;
}

/* Gilbert–Elliott with the given mean loss and mean burst length (loss 1 in bad, 0 in good). */
static inline void set_ge(struct sim_dir *d, double loss, double burst)
{
	d->p_bg = 1.0 / burst;
	d->p_gb = loss * d->p_bg / (1.0 - loss);
}

static inline void set_link(struct sim_dir *d, double rate_bps, int64_t delay_us, int64_t jitter_us,
                            double queue_s)
{
	memset(d, 0, sizeof *d);
	d->rate_bps = rate_bps;
	d->delay_us = delay_us;
	d->jitter_us = jitter_us;
	d->qlimit = (uint64_t)(rate_bps * queue_s / 8);
	d->win_to_us = -1;
}

static inline void sim_init(struct sim *m, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	m->rng = seed * 0x9e3779b97f4a7c15ull + 1;
}

static inline void link_send(struct sim *m, int from, const uint8_t *d, size_t len)
{
	struct sim_dir *l = &m->d[from];
	int64_t now_ns = m->now_us * 1000;
	uint64_t size = len + SIM_OVERHEAD, backlog, nfrag = 1;
	int64_t start, done_us, at;
	struct sim_pkt *p;
	bool lost = false;

	if (m->frag_mtu && size > m->frag_mtu) {
		uint64_t per = (m->frag_mtu - 20) & ~7u;

		nfrag = (size - 20 + per - 1) / per;
		size += 20 * (nfrag - 1);
	}
	l->offered++;
	l->offered_bytes += size;
	if (l->blackhole || (l->offered >= l->drop_from && l->offered < l->drop_to))
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
	if (done_us >= l->win_from_us && done_us < l->win_to_us)
		l->win_pkts += nfrag;
	if (done_us >= l->win_from_us && done_us < l->win_to_us)
		l->win_tx_bytes += size;
	/* loss after the serialiser, packet by packet (win_lost counts packets) */
	for (uint64_t f = 0; f < nfrag; f++) {
		bool bad = false;

		if (l->p_bg > 0) {
			l->bad = l->bad ? rndf(m) >= l->p_bg : rndf(m) < l->p_gb;
			bad = l->bad;
		}
		if (!bad && l->loss_random > 0 && rndf(m) < l->loss_random)
			bad = true;
		if (bad && done_us >= l->win_from_us && done_us < l->win_to_us)
			l->win_lost++;
		lost |= bad;
	}
	if (lost) {
		l->lost++;
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
		SIM_CHECK(p != NULL);
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

static inline void app_step(struct sim *m)
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
			if (m->write_chunk[i] && n > m->write_chunk[i])
				n = m->write_chunk[i];
			for (size_t j = 0; j < n; j++)
				buf[j] = pattern(i, m->written[i] + j);
			k = relay_stream_write(s, buf, n);
			SIM_CHECK(k == n);
			m->written[i] += k;
			m->to_write[i] -= k;
			if (m->write_chunk[i])
				break;
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
/* When stream i's current stall ends, or 0 if it is not stalled now. */
static inline int64_t stall_end(const struct sim *m, int i)
{
	int64_t ph;

	if (!m->stall_period_us[i])
		return 0;
	ph = m->now_us % m->stall_period_us[i];
	return ph < m->stall_len_us[i] ? m->now_us - ph + m->stall_len_us[i] : 0;
}

static inline void sim_run(struct sim *m, int64_t until_us, bool (*done)(struct sim *))
{
	uint8_t out[SIM_DGRAM_MAX];

	while (m->now_us < until_us) {
		int64_t next = until_us;

		while (m->nheap && m->heap[0]->at_us <= m->now_us) {
			struct sim_pkt *p = heap_pop(m);
			int64_t resume = stall_end(m, p->to);

			if (resume) {
				p->at_us = resume;
				heap_push(m, p);
				continue;
			}
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
			if (stall_end(m, i)) {
				if (stall_end(m, i) < next)
					next = stall_end(m, i);
				continue;
			}
			for (int guard = 0; guard < 100000; guard++) {
				size_t len = 0;
				int r = relay_stream_poll(m->s[i], m->now_us, out, sizeof out, &len,
				                          &nx);

				if (r == 1) {
					SIM_CHECK(len > 0 &&
					          len <= (m->frag_mtu ? SIM_DGRAM_MAX : SIM_MTU));
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

static inline void sim_free(struct sim *m)
{
	while (m->nheap)
		free(heap_pop(m));
	relay_stream_free(m->s[0]);
	relay_stream_free(m->s[1]);
	m->s[0] = m->s[1] = NULL;
}

static inline void sim_open(struct sim *m, const struct relay_stream_config *cfg)
{
	uint8_t out[SIM_DGRAM_MAX];
	size_t len = 0;
	int64_t nx;

	SIM_CHECK(relay_stream_new(&m->s[0], cfg, SIM_STREAM_ID, true, m->now_us) == 0);
	/* the acceptor is created when the first OPEN arrives, like sync/ will do */
	SIM_CHECK(relay_stream_poll(m->s[0], m->now_us, out, sizeof out, &len, &nx) == 1);
	SIM_CHECK(relay_stream_is_open(out, len));
	link_send(m, 0, out, len);
	while (m->nheap) {
		struct sim_pkt *p = heap_pop(m);

		m->now_us = p->at_us;
		if (relay_stream_is_open(p->data, p->len) && !m->s[1]) {
			uint8_t t;
			uint32_t id;

			SIM_CHECK(relay_stream_peek(p->data, p->len, &t, &id));
			SIM_CHECK(id == SIM_STREAM_ID);
			SIM_CHECK(relay_stream_new(&m->s[1], cfg, id, false, m->now_us) == 0);
			SIM_CHECK(relay_stream_input(m->s[1], p->data, p->len, m->now_us) == 0);
		}
		free(p);
	}
	SIM_CHECK(m->s[1] != NULL);
}

/* A session idling on keepalives until until_us: both sides write 120 bytes every 500 ms from
 * 500 ms on (the first RTT samples, no bulk). */
static inline void sim_idle(struct sim *m, int64_t until_us)
{
	for (int64_t t = 500000; t <= until_us; t += 500000) {
		m->to_write[0] += 120;
		m->to_write[1] += 120;
		sim_run(m, t, NULL);
	}
}

static inline bool both_done(struct sim *m)
{
	return m->read_bytes[1] == m->written[0] && !m->to_write[0] &&
	       m->read_bytes[0] == m->written[1] && !m->to_write[1];
}

static inline struct relay_stream_config default_cfg(void)
{
	struct relay_stream_config c = {0};

	return c;
}

/* geo-sat link of bench/sync.sh: 2 Mbit/s, 300 ms each way +-20 ms, 1.5 s queue */
static inline void geosat(struct sim *m, double loss)
{
	for (int i = 0; i < 2; i++) {
		set_link(&m->d[i], 2e6, 300000, 20000, 1.5);
		if (loss > 0)
			set_ge(&m->d[i], loss, 3);
	}
}

/* One direction on the geo-sat link; returns goodput / link rate over [20 s, 620 s). */
static inline double geosat_goodput(double loss, uint64_t seed, double *busy, double *qd_avg_ms,
                                    double *qd_max_ms, double *loss_seen, bool *bad_byte)
{
	struct sim *m = malloc(sizeof *m);
	struct relay_stream_config c = default_cfg();
	double g;

	SIM_CHECK(m != NULL);
	sim_init(m, seed);
	geosat(m, loss);
	m->d[0].win_from_us = 20000000;
	m->d[0].win_to_us = 620000000;
	sim_open(m, &c);
	m->to_write[0] = UINT64_MAX / 2;
	sim_run(m, 620000000, NULL);
	*bad_byte = m->bad_byte;
	g = (double)m->win_read[1] * 8 / 600.0 / 2e6;
	*busy = (double)m->d[0].win_tx_bytes * 8 / 600.0 / 2e6;
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
static inline double ceiling(double loss)
{
	return (double)(SIM_MTU - 15) / (SIM_MTU + SIM_OVERHEAD) * (1 - loss);
}

#endif
