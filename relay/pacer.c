/* relay/pacer.c — priority pacer with a leaky-bucket budget (see pacer.h). */
#include "relay/pacer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const char *pacer_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case PACER_EFULL:
		return "pacer queue is full";
	case PACER_ENOSPACE:
		return "pacer output buffer is too small";
	case PACER_EINVAL:
		return "pacer argument out of range";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown pacer error";
	}
}

struct node {
	struct node *next;
	uint64_t tag;
	int64_t queued_at;
	uint64_t frame;
	int64_t deadline;
	unsigned flags;
	bool first; /* the frame's first packet: its deadline is judged here */
	size_t len;
	uint8_t data[];
};

struct fifo {
	struct node *head, *tail;
	size_t bytes, packets;
};

struct pacer {
	struct pacer_config cfg;
	bool burst_fixed;
	uint32_t rate;
	uint32_t padding_bps;
	double credit; /* bytes; may go negative by one packet */
	int64_t last_us;
	bool started;
	struct fifo q[PACER_NCLASS];
	/* probe */
	int cluster;
	uint32_t probe_rate;
	unsigned probe_min, probe_sent;
	int64_t probe_end;
	/* padding has its own bucket so it never exceeds padding_bps */
	double pad_credit;
	/* stale media */
	uint64_t last_frame[PACER_NCLASS];     /* frame of the last packet queued (or dropped) */
	uint64_t dropping_frame[PACER_NCLASS]; /* frame being dropped as it is queued, or 0 */
	uint64_t video_dropped_upto;           /* highest video frame dropped */
	struct pacer_stats st;
};

static size_t burst_for(const struct pacer *p, uint32_t rate)
{
	size_t b = (size_t)((double)rate / 8.0 * 0.010);

	if (p->burst_fixed)
		return p->cfg.burst_bytes;
	return b > 2 * 1264 ? b : 2 * 1264;
}

int pacer_new(struct pacer **out, const struct pacer_config *cfg)
{
	struct pacer *p = calloc(1, sizeof *p);

	if (!p)
		return -ENOMEM;
	if (cfg)
		p->cfg = *cfg;
	if (!p->cfg.rate_bps)
		p->cfg.rate_bps = 100000;
	if (!p->cfg.overhead_bytes)
		p->cfg.overhead_bytes = 64;
	if (!p->cfg.padding_size)
		p->cfg.padding_size = 200;
	for (int i = 0; i < PACER_NCLASS; i++)
		if (!p->cfg.queue_limit[i])
			p->cfg.queue_limit[i] = 512 * 1024;
	p->burst_fixed = p->cfg.burst_bytes != 0;
	p->rate = p->cfg.rate_bps;
	p->cfg.burst_bytes = burst_for(p, p->rate);
	p->st.oldest_us = -1;
	*out = p;
	return 0;
}

void pacer_free(struct pacer *p)
{
	if (!p)
		return;
	for (int i = 0; i < PACER_NCLASS; i++) {
		struct node *n = p->q[i].head;

		while (n) {
			struct node *next = n->next;

			free(n);
			n = next;
		}
	}
	free(p);
}

void pacer_set_rate(struct pacer *p, uint32_t rate_bps)
{
	if (rate_bps == 0)
		return;
	p->rate = rate_bps;
	p->cfg.burst_bytes = burst_for(p, rate_bps);
}

void pacer_set_padding(struct pacer *p, uint32_t padding_bps)
{
	p->padding_bps = padding_bps;
}

void pacer_probe(struct pacer *p, int cluster, uint32_t rate_bps, unsigned min_packets,
                 int64_t duration_us, int64_t now_us)
{
	if (cluster <= 0 || rate_bps == 0)
		return;
	p->cluster = cluster;
	p->probe_rate = rate_bps;
	p->probe_min = min_packets;
	p->probe_sent = 0;
	p->probe_end = now_us + duration_us;
	/* A probe starts with one packet's credit so its first packet leaves at once. */
	if (p->credit < 0)
		p->credit = 0;
}

/* Removes n (after prev, or the head when prev is NULL) from f and frees it. */
static void unlink_node(struct fifo *f, struct node *prev, struct node *n)
{
	if (prev)
		prev->next = n->next;
	else
		f->head = n->next;
	if (f->tail == n)
		f->tail = prev;
	f->bytes -= n->len;
	f->packets--;
	free(n);
}

static void count_stale(struct pacer *p, int cls, size_t len)
{
	p->st.stale_packets[cls]++;
	p->st.stale_bytes[cls] += len;
}

/* A video frame up to `frame` was dropped: retransmissions and FEC of it are useless. */
static void video_frame_dropped(struct pacer *p, uint64_t frame)
{
	struct fifo *f = &p->q[PACER_RTX];
	struct node *prev = NULL, *n = f->head;

	if (frame > p->video_dropped_upto)
		p->video_dropped_upto = frame;
	while (n) {
		struct node *next = n->next;

		if (n->frame && n->frame <= p->video_dropped_upto) {
			count_stale(p, PACER_RTX, n->len);
			unlink_node(f, prev, n);
		} else {
			prev = n;
		}
		n = next;
	}
}

/* Drops the frame starting at the head of class c (all of it is queued: its first packet is
 * the head); when later frames depend on it, drops them too up to the next independent one,
 * or marks the chain broken when there is none. */
static void drop_head_frame(struct pacer *p, int c)
{
	struct fifo *f = &p->q[c];
	bool chain = false;

	do {
		struct node *n = f->head;
		uint64_t frame = n->frame;
		unsigned flags = n->flags;

		if (chain && (flags & PACER_INDEPENDENT)) {
			p->st.chain_broken[c] = false;
			return;
		}
		do {
			count_stale(p, c, n->len);
			unlink_node(f, NULL, n);
			n = f->head;
		} while (frame && n && !n->first && n->frame == frame);
		if (c != PACER_RTX)
			p->st.stale_frames[c]++;
		if (c == PACER_VIDEO && frame)
			video_frame_dropped(p, frame);
		if (!(flags & PACER_DROPPABLE) && c != PACER_RTX)
			chain = true;
	} while (chain && f->head);
	if (chain)
		p->st.chain_broken[c] = true;
}

static void expire(struct pacer *p, int64_t now)
{
	for (int c = 0; c < PACER_PADDING; c++) {
		struct fifo *f = &p->q[c];

		while (f->head && f->head->first && f->head->deadline < now)
			drop_head_frame(p, c);
	}
}

void pacer_expire(struct pacer *p, int64_t now_us)
{
	expire(p, now_us);
}

int pacer_enqueue_media(struct pacer *p, enum pacer_class cls, const uint8_t *pkt, size_t len,
                        uint64_t tag, const struct pacer_media *pm, int64_t now_us)
{
	static const struct pacer_media plain = {0, INT64_MAX, PACER_INDEPENDENT | PACER_DROPPABLE};
	struct fifo *f;
	struct node *n;
	bool first;

	if ((unsigned)cls >= PACER_NCLASS || !pkt || len == 0)
		return PACER_EINVAL;
	if (!pm)
		pm = &plain;
	expire(p, now_us);
	f = &p->q[cls];
	first = cls == PACER_RTX || !pm->frame || pm->frame != p->last_frame[cls];
	p->last_frame[cls] = pm->frame;
	if (cls == PACER_RTX && pm->frame && pm->frame <= p->video_dropped_upto) {
		count_stale(p, cls, len);
		return 0;
	}
	if (!first && p->dropping_frame[cls] == pm->frame) {
		count_stale(p, cls, len);
		return 0;
	}
	if (first) {
		bool stale = pm->deadline_us < now_us;

		p->dropping_frame[cls] = 0;
		if (cls != PACER_RTX && p->st.chain_broken[cls]) {
			if (pm->flags & PACER_INDEPENDENT)
				p->st.chain_broken[cls] = false;
			else
				stale = true;
		}
		if (stale) {
			count_stale(p, cls, len);
			if (cls != PACER_RTX) {
				p->st.stale_frames[cls]++;
				if (!(pm->flags & PACER_DROPPABLE))
					p->st.chain_broken[cls] = true;
			}
			if (cls == PACER_VIDEO && pm->frame)
				video_frame_dropped(p, pm->frame);
			if (pm->frame && cls != PACER_RTX)
				p->dropping_frame[cls] = pm->frame;
			return 0;
		}
	}
	if (f->bytes + len > p->cfg.queue_limit[cls]) {
		p->st.dropped_full++;
		return PACER_EFULL;
	}
	n = malloc(sizeof *n + len);
	if (!n)
		return -ENOMEM;
	n->next = NULL;
	n->tag = tag;
	n->queued_at = now_us;
	n->frame = pm->frame;
	n->deadline = pm->deadline_us;
	n->flags = pm->flags;
	n->first = first;
	n->len = len;
	memcpy(n->data, pkt, len);
	if (f->tail)
		f->tail->next = n;
	else
		f->head = n;
	f->tail = n;
	f->bytes += len;
	f->packets++;
	return 0;
}

int pacer_enqueue(struct pacer *p, enum pacer_class cls, const uint8_t *pkt, size_t len,
                  uint64_t tag, int64_t now_us)
{
	return pacer_enqueue_media(p, cls, pkt, len, tag, NULL, now_us);
}

static bool probing(const struct pacer *p, int64_t now)
{
	return p->cluster && (p->probe_sent < p->probe_min || now < p->probe_end);
}

static uint32_t cur_rate(const struct pacer *p, int64_t now)
{
	return probing(p, now) ? p->probe_rate : p->rate;
}

/* Accrues credit up to now. */
static void refill(struct pacer *p, int64_t now)
{
	double dt;

	if (!p->started) {
		p->started = true;
		p->last_us = now;
		p->credit = (double)p->cfg.burst_bytes;
		p->pad_credit = 0;
		return;
	}
	if (now <= p->last_us)
		return;
	dt = (double)(now - p->last_us) / 1e6;
	p->credit += cur_rate(p, now) / 8.0 * dt;
	if (p->credit > (double)p->cfg.burst_bytes)
		p->credit = (double)p->cfg.burst_bytes;
	p->pad_credit += p->padding_bps / 8.0 * dt;
	if (p->pad_credit > (double)p->cfg.padding_size * 2)
		p->pad_credit = (double)p->cfg.padding_size * 2;
	p->last_us = now;
	if (p->cluster && !probing(p, now))
		p->cluster = 0;
}

static int first_class(const struct pacer *p)
{
	for (int i = 0; i < PACER_NCLASS; i++)
		if (p->q[i].head)
			return i;
	return -1;
}

int64_t pacer_next_time(struct pacer *p, int64_t now_us)
{
	bool want_padding;
	double need;
	uint32_t rate;

	refill(p, now_us);
	expire(p, now_us);
	want_padding =
	        first_class(p) < 0 && (probing(p, now_us) || (p->padding_bps && p->pad_credit > 0));
	if (first_class(p) < 0 && !want_padding) {
		if (p->padding_bps && !probing(p, now_us)) {
			double pn = -p->pad_credit + 1;

			return now_us + (int64_t)(pn * 8e6 / p->padding_bps) + 1;
		}
		return INT64_MAX;
	}
	if (p->credit > 0)
		return now_us;
	rate = cur_rate(p, now_us);
	need = -p->credit + 1; /* bytes to reach positive credit */
	return now_us + (int64_t)(need * 8e6 / rate) + 1;
}

int pacer_next(struct pacer *p, int64_t now_us, uint8_t *buf, size_t cap, struct pacer_pkt *out)
{
	int c;
	bool probe;

	refill(p, now_us);
	expire(p, now_us);
	if (p->credit <= 0)
		return 0;
	probe = probing(p, now_us);
	c = first_class(p);
	if (c < 0) {
		size_t n = p->cfg.padding_size;

		if (!probe && !(p->padding_bps && p->pad_credit > 0))
			return 0;
		if (!probe)
			p->pad_credit -= (double)(n + p->cfg.overhead_bytes);
		p->credit -= (double)(n + p->cfg.overhead_bytes);
		memset(out, 0, sizeof *out);
		out->cls = PACER_PADDING;
		out->len = n;
		out->cluster = probe ? p->cluster : 0;
		p->st.sent_packets[PACER_PADDING]++;
		p->st.sent_wire_bytes += n + p->cfg.overhead_bytes;
		if (probe)
			p->probe_sent++;
		return 1;
	}
	{
		struct fifo *f = &p->q[c];
		struct node *n = f->head;

		if (n->len > cap)
			return PACER_ENOSPACE;
		memcpy(buf, n->data, n->len);
		out->cls = (enum pacer_class)c;
		out->len = n->len;
		out->cluster = probe ? p->cluster : 0;
		out->tag = n->tag;
		out->queued_us = now_us - n->queued_at;
		p->credit -= (double)(n->len + p->cfg.overhead_bytes);
		p->st.sent_packets[c]++;
		p->st.sent_wire_bytes += n->len + p->cfg.overhead_bytes;
		if (probe)
			p->probe_sent++;
		f->head = n->next;
		if (!f->head)
			f->tail = NULL;
		f->bytes -= n->len;
		f->packets--;
		free(n);
	}
	return 1;
}

void pacer_get_stats(const struct pacer *p, struct pacer_stats *st)
{
	*st = p->st;
	st->oldest_us = -1;
	for (int i = 0; i < PACER_NCLASS; i++) {
		st->queued_bytes[i] = p->q[i].bytes;
		st->queued_packets[i] = p->q[i].packets;
		if (p->q[i].head && (st->oldest_us < 0 || p->q[i].head->queued_at < st->oldest_us))
			st->oldest_us = p->q[i].head->queued_at;
	}
}
