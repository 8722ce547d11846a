/* tools/linksim/model.c — random numbers, Gilbert-Elliott loss and one direction of the
 * emulated link (queue, serialiser, delay line) over a virtual clock. See model.h. */
#include "tools/linksim/model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define DELAY_LINE_MAX (1u << 18) /* packets in flight; beyond this they are dropped (error) */
#define NBITS_PER_BYTE (8 * LINKSIM_NS_PER_S) /* policer tokens are counted in 1e-9 bit */

/* ---- xoshiro256** (Blackman & Vigna), seeded with splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void linksim_rng_seed(struct linksim_rng *r, uint64_t seed)
{
	int i;
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t linksim_rng_next(struct linksim_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double linksim_rng_uniform(struct linksim_rng *r)
{
	return (double)(linksim_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ---- Gilbert-Elliott ---- */

int linksim_ge_init(struct linksim_ge *ge, double loss, double burst)
{
	double r, q;

	if (!(loss >= 0 && loss < 1) || !(burst == 0 || burst >= 1))
		return LINKSIM_ERANGE;
	if (loss == 0) {
		ge->p_gb = 0;
		ge->p_bg = 1;
		ge->bad = false;
		return 0;
	}
	if (burst == 0)
		burst = 1.0 / (1.0 - loss); /* independent losses */
	r = 1.0 / burst;
	q = loss * r / (1.0 - loss);
	if (q > 1.0 + 1e-12)
		return LINKSIM_ERANGE;
	ge->p_gb = q > 1 ? 1 : q;
	ge->p_bg = r;
	return 0;
}

bool linksim_ge_lost(struct linksim_ge *ge, struct linksim_rng *rng)
{
	double u = linksim_rng_uniform(rng);
	/* Transition first, then the state decides this packet: P(lost) = q/(q+r) in steady
	 * state, and the run of Bad packets is geometric with mean 1/r. */
	if (ge->bad)
		ge->bad = u >= ge->p_bg;
	else
		ge->bad = u < ge->p_gb;
	return ge->bad;
}

/* ---- one direction ---- */

struct linksim_dir {
	struct linksim_params p;
	uint64_t t0;
	struct linksim_rng rng;
	struct linksim_ge ge, ge_fade;

	/* policer: tokens and depth in 1e-9 bit, so that a refill of dt ns at r bit/s adds exactly
	 * dt x r and never drifts; pol_t is the time of the last refill */
	uint64_t pol_tokens, pol_depth, pol_t;

	/* drop-tail queue */
	struct linksim_pkt *head, *tail;
	uint64_t q_bytes, q_pkts;

	/* serialiser (rate mode) */
	struct linksim_pkt *cur;
	uint64_t cur_finish, last_finish;

	/* serialiser (trace mode): cursor on the looping trace */
	uint64_t tr_cycle;
	size_t tr_idx;
	bool tr_seek; /* re-position the cursor at the next run */

	/* delay line: min-heap on (due, seq) */
	struct linksim_pkt **heap;
	size_t h_n, h_cap;
	uint64_t last_due, seq;

	/* jitter: piecewise-linear between random control points every jit_iv ns */
	uint64_t jit_iv, jit_seg;
	double jit_a, jit_b;
	bool jit_started;

	struct linksim_stats st;
};

struct linksim_pkt *linksim_pkt_new(size_t len)
{
	struct linksim_pkt *p = malloc(sizeof *p + len);
	if (p) {
		memset(p, 0, sizeof *p);
		p->len = len;
		p->remaining = len;
	}
	return p;
}

static bool heap_less(const struct linksim_pkt *a, const struct linksim_pkt *b)
{
	return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static int heap_push(struct linksim_dir *d, struct linksim_pkt *pkt)
{
	size_t i;

	if (d->h_n == d->h_cap) {
		size_t ncap = d->h_cap ? d->h_cap * 2 : 256;
		struct linksim_pkt **n;
		if (d->h_n >= DELAY_LINE_MAX)
			return -ENOBUFS;
		n = realloc(d->heap, ncap * sizeof *n);
		if (!n)
			return -ENOMEM;
		d->heap = n;
		d->h_cap = ncap;
	}
	i = d->h_n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!heap_less(pkt, d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = pkt;
	return 0;
}

static struct linksim_pkt *heap_pop(struct linksim_dir *d)
{
	struct linksim_pkt *top = d->heap[0], *last = d->heap[--d->h_n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= d->h_n)
			break;
		if (c + 1 < d->h_n && heap_less(d->heap[c + 1], d->heap[c]))
			c++;
		if (!heap_less(d->heap[c], last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->h_n)
		d->heap[i] = last;
	return top;
}

static int apply_params(struct linksim_dir *d, const struct linksim_params *p)
{
	struct linksim_ge ge, gf;
	struct linksim_params np;
	uint64_t pol_depth;
	int ret;

	if ((ret = linksim_ge_init(&ge, p->loss, p->burst)) != 0 ||
	    (ret = linksim_ge_init(&gf, p->fade_loss, p->fade_burst)) != 0)
		return ret;
	if (p->jitter_ns && p->jitter_interval_ns && p->jitter_interval_ns < 2 * p->jitter_ns)
		return LINKSIM_ERANGE;
	pol_depth = linksim_params_police_depth(p);
	if (pol_depth > LINKSIM_POLICE_DEPTH_MAX)
		return LINKSIM_ERANGE;
	pol_depth *= NBITS_PER_BYTE;
	if ((ret = linksim_params_copy(&np, p)) != 0)
		return ret;
	/* a policer switched on starts full (no policer is an endless bucket); one that stays
	 * keeps its tokens, capped at the new depth */
	if (!d->p.police_rate_bps || d->pol_tokens > pol_depth)
		d->pol_tokens = pol_depth;
	d->pol_depth = pol_depth;
	ge.bad = d->ge.bad;
	gf.bad = d->ge_fade.bad;
	d->ge = ge;
	d->ge_fade = gf;
	if (np.trace != d->p.trace)
		d->tr_seek = true;
	if (!np.trace && d->p.trace && d->head) {
		/* leaving trace mode: a half-sent head packet is sent whole at the new rate */
		d->head->remaining = d->head->len;
	}
	if (np.trace && d->cur) {
		/* entering trace mode: the packet on the wire goes back to the queue's head */
		d->cur->next = d->head;
		d->cur->remaining = d->cur->len;
		d->head = d->cur;
		if (!d->tail)
			d->tail = d->cur;
		d->q_pkts++;
		d->q_bytes += d->cur->len;
		d->cur = NULL;
	}
	linksim_params_release(&d->p);
	d->p = np;
	/* slope of the jitter curve at most 2*jitter/interval: keep it <= 0.5 (no reordering) */
	d->jit_iv = p->jitter_interval_ns ? p->jitter_interval_ns : 4 * p->jitter_ns;
	if (d->jit_iv < 100 * LINKSIM_NS_PER_MS)
		d->jit_iv = 100 * LINKSIM_NS_PER_MS;
	d->jit_started = false;
	return 0;
}

int linksim_dir_new(struct linksim_dir **out, const struct linksim_params *p, uint64_t t0)
{
	struct linksim_dir *d = calloc(1, sizeof *d);
	uint64_t seed = p->seed;
	int ret;

	if (!d)
		return -ENOMEM;
	d->t0 = t0;
	d->last_finish = t0;
	d->pol_t = t0;
	d->tr_seek = true;
	if (!seed && getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = t0 ^ (uint64_t)(uintptr_t)d;
	linksim_rng_seed(&d->rng, seed);
	if ((ret = apply_params(d, p)) != 0) {
		free(d);
		return ret;
	}
	*out = d;
	return 0;
}

void linksim_dir_free(struct linksim_dir *d)
{
	struct linksim_pkt *pkt, *next;

	if (!d)
		return;
	for (pkt = d->head; pkt; pkt = next) {
		next = pkt->next;
		free(pkt);
	}
	free(d->cur);
	while (d->h_n)
		free(heap_pop(d));
	free(d->heap);
	linksim_params_release(&d->p);
	free(d);
}

int linksim_dir_set_params(struct linksim_dir *d, const struct linksim_params *p)
{
	return apply_params(d, p);
}

const struct linksim_params *linksim_dir_params(const struct linksim_dir *d)
{
	return &d->p;
}

bool linksim_dir_in_outage(const struct linksim_dir *d, uint64_t now)
{
	return now >= d->t0 && linksim_sched_active(&d->p.outage, now - d->t0);
}

bool linksim_dir_in_fade(const struct linksim_dir *d, uint64_t now)
{
	return now >= d->t0 && linksim_sched_active(&d->p.fade, now - d->t0);
}

uint64_t linksim_dir_rate_at(const struct linksim_dir *d, uint64_t now)
{
	if (d->p.trace)
		return (uint64_t)linksim_trace_rate_bps(d->p.trace);
	return linksim_dir_in_fade(d, now) ? d->p.fade_rate_bps : d->p.rate_bps;
}

/* Queue limit in bytes: queue_ns of the current line rate, at least one full-size packet. */
static uint64_t queue_limit(const struct linksim_dir *d, uint64_t now)
{
	uint64_t rate = linksim_dir_rate_at(d, now), lim;

	if (rate == 0)
		return UINT64_MAX;
	lim = (uint64_t)((double)rate * (double)d->p.queue_ns / 8e9);
	return lim < LINKSIM_TRACE_BYTES ? LINKSIM_TRACE_BYTES : lim;
}

/* Token bucket: refills at police_rate up to the depth, then takes len bytes if it has them.
 * A packet that does not fit takes nothing (it is dropped, not queued). */
static bool police_admit(struct linksim_dir *d, size_t len, uint64_t now)
{
	uint64_t rate = d->p.police_rate_bps, room, dt;

	if (!rate)
		return true;
	if (now > d->pol_t) {
		dt = now - d->pol_t;
		room = d->pol_depth - d->pol_tokens;
		/* dt x rate can overflow; it fills the bucket as soon as dt >= ceil(room / rate) */
		if (dt >= room / rate + (room % rate != 0))
			d->pol_tokens = d->pol_depth;
		else
			d->pol_tokens += dt * rate;
		d->pol_t = now;
	}
	/* len x 8e9 <= tokens  <=>  len <= floor(tokens / 8e9), without overflowing len x 8e9 */
	if (len > d->pol_tokens / NBITS_PER_BYTE)
		return false;
	d->pol_tokens -= (uint64_t)len * NBITS_PER_BYTE;
	return true;
}

void linksim_dir_input(struct linksim_dir *d, struct linksim_pkt *pkt, uint64_t now)
{
	d->st.in_pkts++;
	d->st.in_bytes += pkt->len;
	if (linksim_dir_in_outage(d, now)) {
		d->st.drop_outage++;
		free(pkt);
		return;
	}
	if (!police_admit(d, pkt->len, now)) {
		d->st.drop_police++;
		free(pkt);
		return;
	}
	if (d->q_bytes + pkt->len > queue_limit(d, now)) {
		d->st.drop_queue++;
		free(pkt);
		return;
	}
	pkt->arrival_ns = now;
	pkt->remaining = pkt->len;
	pkt->next = NULL;
	if (d->tail)
		d->tail->next = pkt;
	else
		d->head = pkt;
	d->tail = pkt;
	d->q_bytes += pkt->len;
	d->q_pkts++;
}

static struct linksim_pkt *queue_pop(struct linksim_dir *d)
{
	struct linksim_pkt *pkt = d->head;

	d->head = pkt->next;
	if (!d->head)
		d->tail = NULL;
	d->q_bytes -= pkt->len;
	d->q_pkts--;
	pkt->next = NULL;
	return pkt;
}

/* The jitter offset (ns, may be negative) at time t: a piecewise-linear curve through random
 * points in [-jitter, +jitter] every jit_iv ns. Its slope stays below 1, so delivery times
 * t + delay + J(t) increase with t: jitter without reordering, and without the upward bias that
 * clamping independent random delays would add. */
static double jitter_at(struct linksim_dir *d, uint64_t t)
{
	uint64_t seg = (t - d->t0) / d->jit_iv;
	double j = (double)d->p.jitter_ns, frac;

	if (!d->jit_started || seg > d->jit_seg + 1 || seg < d->jit_seg) {
		d->jit_a = (2 * linksim_rng_uniform(&d->rng) - 1) * j;
		d->jit_b = (2 * linksim_rng_uniform(&d->rng) - 1) * j;
		d->jit_seg = seg;
		d->jit_started = true;
	} else if (seg == d->jit_seg + 1) {
		d->jit_a = d->jit_b;
		d->jit_b = (2 * linksim_rng_uniform(&d->rng) - 1) * j;
		d->jit_seg = seg;
	}
	frac = (double)((t - d->t0) - seg * d->jit_iv) / (double)d->jit_iv;
	return d->jit_a + (d->jit_b - d->jit_a) * frac;
}

/* A packet has left the serialiser at time t: outage, loss, then the delay line. */
static void complete(struct linksim_dir *d, struct linksim_pkt *pkt, uint64_t t)
{
	struct linksim_ge *ge;
	uint64_t due = t + d->p.delay_ns;
	bool held = false;

	if (linksim_dir_in_outage(d, t)) {
		d->st.drop_outage++;
		free(pkt);
		return;
	}
	ge = linksim_dir_in_fade(d, t) ? &d->ge_fade : &d->ge;
	if (linksim_ge_lost(ge, &d->rng)) {
		d->st.drop_loss++;
		free(pkt);
		return;
	}
	if (d->p.jitter_ns) {
		double j = jitter_at(d, t);
		if (j < 0 && (uint64_t)(-j) > due - t)
			due = t;
		else
			due = (uint64_t)((double)due + j);
	}
	if (d->p.reorder > 0 && linksim_rng_uniform(&d->rng) < d->p.reorder)
		held = true;
	if (held) {
		due += d->p.reorder_delay_ns;
	} else {
		if (due < d->last_due)
			due = d->last_due; /* a delay decreased at run time: still no reordering */
		d->last_due = due;
	}
	pkt->due_ns = due;
	pkt->seq = d->seq++;
	if (heap_push(d, pkt) != 0) {
		d->st.drop_error++;
		free(pkt);
	}
}

static uint64_t ser_ns(size_t len, uint64_t rate)
{
	return rate ? (uint64_t)len * 8 * LINKSIM_NS_PER_S / rate : 0;
}

static uint64_t trace_opp_time(const struct linksim_dir *d)
{
	const struct linksim_trace *t = d->p.trace;
	return d->t0 + (d->tr_cycle * t->period_ms + t->opp_ms[d->tr_idx]) * LINKSIM_NS_PER_MS;
}

/* Positions the trace cursor on the first opportunity at or after t. */
static void trace_seek(struct linksim_dir *d, uint64_t t)
{
	const struct linksim_trace *tr = d->p.trace;
	uint64_t rel = t >= d->t0 ? t - d->t0 : 0, period = tr->period_ms * LINKSIM_NS_PER_MS;
	uint64_t cycle = rel / period, off = rel % period;
	size_t lo = 0, hi = tr->n;

	if (off == 0 && cycle > 0) {
		/* the last opportunity of the previous cycle sits exactly at the boundary */
		cycle--;
		off = period;
	}
	while (lo < hi) { /* first opportunity >= off; exists since the last one is the period */
		size_t mid = lo + (hi - lo) / 2;
		if (tr->opp_ms[mid] * LINKSIM_NS_PER_MS < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	d->tr_cycle = cycle;
	d->tr_idx = lo;
	d->tr_seek = false;
}

static void trace_advance(struct linksim_dir *d)
{
	if (++d->tr_idx == d->p.trace->n) {
		d->tr_idx = 0;
		d->tr_cycle++;
	}
}

static void run_trace(struct linksim_dir *d, uint64_t now)
{
	if (d->tr_seek)
		trace_seek(d, d->head ? d->head->arrival_ns : now + 1);
	for (;;) {
		uint64_t opp;
		size_t credit = LINKSIM_TRACE_BYTES;

		if (!d->head) {
			trace_seek(d, now + 1); /* opportunities while idle are lost */
			return;
		}
		opp = trace_opp_time(d);
		if (opp > now)
			return;
		while (credit > 0 && d->head && d->head->arrival_ns <= opp) {
			size_t use = d->head->remaining < credit ? d->head->remaining : credit;
			d->head->remaining -= use;
			credit -= use;
			if (d->head->remaining == 0)
				complete(d, queue_pop(d), opp);
		}
		trace_advance(d);
	}
}

static void run_rate(struct linksim_dir *d, uint64_t now)
{
	for (;;) {
		struct linksim_pkt *pkt;
		uint64_t start;

		if (d->cur) {
			if (d->cur_finish > now)
				return;
			pkt = d->cur;
			d->cur = NULL;
			d->last_finish = d->cur_finish;
			complete(d, pkt, d->cur_finish);
		}
		if (!d->head)
			return;
		pkt = queue_pop(d);
		/* virtual time: back to back after the previous packet, never from "now" */
		start = pkt->arrival_ns > d->last_finish ? pkt->arrival_ns : d->last_finish;
		d->cur = pkt;
		d->cur_finish = start + ser_ns(pkt->len, linksim_dir_rate_at(d, start));
	}
}

void linksim_dir_run(struct linksim_dir *d, uint64_t now, linksim_out_h *out, void *arg)
{
	if (d->p.trace)
		run_trace(d, now);
	else
		run_rate(d, now);
	while (d->h_n && d->heap[0]->due_ns <= now) {
		struct linksim_pkt *pkt = heap_pop(d);
		d->st.out_pkts++;
		d->st.out_bytes += pkt->len;
		out(pkt, arg);
	}
}

uint64_t linksim_dir_next_due(const struct linksim_dir *d)
{
	uint64_t due = LINKSIM_INF;

	if (d->p.trace) {
		if (d->head && !d->tr_seek)
			due = trace_opp_time(d);
		else if (d->head)
			due = 0; /* run now to position the cursor */
	} else if (d->cur) {
		due = d->cur_finish;
	}
	if (d->h_n && d->heap[0]->due_ns < due)
		due = d->heap[0]->due_ns;
	return due;
}

void linksim_dir_stats(const struct linksim_dir *d, struct linksim_stats *s)
{
	*s = d->st;
	s->queue_pkts = d->q_pkts + (d->cur ? 1 : 0);
	s->queue_bytes = d->q_bytes + (d->cur ? d->cur->len : 0);
	s->delay_pkts = d->h_n;
}
