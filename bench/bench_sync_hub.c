/* bench/bench_sync_hub.c — hub capacity: NCLINIC clinics sync concurrently to one hub on
 * loopback.
 *
 * One process, one event_base, one core: the hub is the real thing (sync/xfer over the LMDB
 * store: allow-list lookup per handshake, header verification, per-chunk hash check and
 * durable write, whole-envelope verification at finish); the NCLINIC clinics are sync/xfer
 * endpoints serving pre-sealed envelopes from memory (so their cost is only the transport).
 * Every clinic starts with NCASE cases of CASE_SIZE bytes queued; all connect at t0. Printed:
 * cases/s until the last is delivered, and the p50/p99 delivery latency (t0 -> DELIVERED at
 * the clinic). Anchor, measured in the same run: the same number of cases imported straight
 * into a second hub store (recv_begin/chunk/finish, no network) — what the store alone allows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <sodium.h>

#include "common/buf.h"
#include "common/keys.h"
#include "common/log.h"
#include "common/mtime.h"
#include "sync/envelope.h"
#include "sync/store.h"
#include "sync/xfer.h"
#include "sync/xfer_store.h"

#ifndef NCLINIC
#define NCLINIC 200
#endif
#ifndef NCASE
#define NCASE 5
#endif
#define CASE_SIZE 20000

struct brec {
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint8_t *bytes; /* header || chunks */
	size_t len;
	uint32_t hlen, stride, count;
	bool delivered;
	uint64_t t_done;
};

struct bclinic {
	struct keys *k;
	struct sync_xfer *x;
	struct brec recs[NCASE];
};

static struct bclinic clinics[NCLINIC];
static size_t delivered_total;
static uint64_t t0;

struct sink {
	uint8_t *buf;
	size_t len, cap;
	uint32_t chunk_len[64];
	uint32_t n;
};

static int collect(uint32_t index, const uint8_t *ct, size_t len, void *arg)
{
	struct sink *s = arg;

	if (s->len + len > s->cap || index >= 64)
		return -ENOSPC;
	memcpy(s->buf + s->len, ct, len);
	s->len += len;
	s->chunk_len[s->n++] = (uint32_t)len;
	return 0;
}

/* Seals one case for the hub and lays it out as the wire stream (header, then chunks). */
static int seal(struct keys *k, const struct keys_pub *hub, struct brec *r, const uint8_t *data)
{
	struct sync_env_part part = {
	        .name = "scan.bin", .type = "application/octet-stream", .size = CASE_SIZE};
	struct sync_env_content content = {
	        .title = "bench", .note = "n", .note_len = 1, .part_count = 1, .parts = &part};
	struct sync_env_seal *w = NULL;
	struct sink s = {.cap = CASE_SIZE + 65536};
	uint8_t *header = NULL;
	size_t hlen;
	int ret;

	if (!(s.buf = malloc(s.cap)))
		return -ENOMEM;
	if ((ret = sync_env_seal_new(&w, k, hub, SYNC_ENV_CASE, SYNC_PRIO_NORMAL, NULL, NULL,
	                             mtime_wall_ms(), 0, &content)) != 0 ||
	    (ret = sync_env_seal_push(w, data, CASE_SIZE, collect, &s)) != 0 ||
	    (ret = sync_env_seal_finish(w, collect, &s, &header, &hlen)) != 0)
		goto out;
	memcpy(r->id, sync_env_seal_id(w), SYNC_ENV_ID_BYTES);
	r->count = sync_env_seal_chunk_count(w);
	r->stride = SYNC_ENV_CHUNK_DEFAULT + SYNC_ENV_CHUNK_OVERHEAD;
	r->hlen = (uint32_t)hlen;
	r->len = hlen + s.len;
	if (!(r->bytes = malloc(r->len))) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(r->bytes, header, hlen);
	memcpy(r->bytes + hlen, s.buf, s.len);
	ret = 0;
out:
	free(header);
	free(s.buf);
	sync_env_seal_free(w);
	return ret;
}

static int c_out_pending(void *arg, const uint8_t peer[32], struct sync_xfer_rec *recs, size_t max)
{
	struct bclinic *c = arg;
	size_t n = 0;

	(void)peer;
	for (int i = 0; i < NCASE && n < max; i++) {
		struct brec *r = &c->recs[i];
		struct buf_writer w;
		if (r->delivered)
			continue;
		memset(&recs[n], 0, sizeof recs[n]);
		memcpy(recs[n].id, r->id, SYNC_ENV_ID_BYTES);
		recs[n].prio = SYNC_PRIO_NORMAL;
		recs[n].kind = SYNC_ENV_CASE;
		recs[n].fresh = 1;
		recs[n].total = r->len;
		buf_writer_init(&w, recs[n].meta, 12);
		buf_write_u32(&w, r->hlen);
		buf_write_u32(&w, r->stride);
		buf_write_u32(&w, r->count);
		recs[n].meta_len = 12;
		n++;
	}
	return (int)n;
}

static struct brec *c_find(struct bclinic *c, const uint8_t *id)
{
	for (int i = 0; i < NCASE; i++)
		if (!memcmp(c->recs[i].id, id, SYNC_ENV_ID_BYTES))
			return &c->recs[i];
	return NULL;
}

static int c_out_read(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t off,
                      uint8_t *buf, size_t len)
{
	struct brec *r = c_find(arg, id);

	(void)peer;
	if (!r || off + len > r->len)
		return -EINVAL;
	memcpy(buf, r->bytes + off, len);
	return 0;
}

static int c_out_delivered(void *arg, const uint8_t peer[32], const uint8_t id[16], int status,
                           int32_t code)
{
	struct brec *r = c_find(arg, id);

	(void)peer;
	(void)code;
	if (!r || status != SYNC_DELIVERED_OK)
		return -EINVAL;
	if (!r->delivered) {
		r->delivered = true;
		r->t_done = mtime_now_us();
		delivered_total++;
	}
	return 0;
}

static int c_in_begin(void *arg, const uint8_t peer[32], const struct sync_xfer_rec *rec,
                      uint64_t *offset)
{
	(void)arg;
	(void)peer;
	(void)rec;
	(void)offset;
	return SYNC_RESUME_REFUSE;
}

static int c_in_write(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t off,
                      const uint8_t *data, size_t len, uint64_t *durable)
{
	(void)arg, (void)peer, (void)id, (void)off, (void)data, (void)len, (void)durable;
	return -EINVAL;
}

static int c_in_finish(void *arg, const uint8_t peer[32], const uint8_t id[16], uint64_t total,
                       int32_t *code)
{
	(void)arg, (void)peer, (void)id, (void)total, (void)code;
	return -EINVAL;
}

static const struct sync_xfer_ops clinic_ops = {
        .out_pending = c_out_pending,
        .out_read = c_out_read,
        .out_delivered = c_out_delivered,
        .in_begin = c_in_begin,
        .in_write = c_in_write,
        .in_finish = c_in_finish,
};

static void check_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	if (delivered_total == (size_t)NCLINIC * NCASE || mtime_now_us() - t0 > 300 * 1000000ull)
		event_base_loopbreak(arg);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The same cases imported straight into a store: the anchor. Returns cases/s. */
static double raw_import(const char *dir, const struct keys *hub)
{
	struct sync_store *s;
	uint64_t t;
	size_t n = 0;

	if (sync_store_open(&s, dir, 0, 0) != 0)
		return 0;
	t = mtime_now_us();
	for (int c = 0; c < NCLINIC; c++)
		for (int i = 0; i < NCASE; i++) {
			struct brec *r = &clinics[c].recs[i];
			struct sync_recv_status st;
			const uint8_t *p = r->bytes + r->hlen;
			size_t left = r->len - r->hlen;
			bool fresh;
			int reason;

			if (sync_store_recv_begin(s, r->bytes, r->hlen, &clinics[c].k->pub,
			                          &hub->pub, &st) != 0)
				goto out;
			for (uint32_t k = 0; k < r->count; k++) {
				size_t l = left < r->stride ? left : r->stride;
				if (sync_store_recv_chunk(s, r->id, k, p, l, NULL) != 0)
					goto out;
				p += l;
				left -= l;
			}
			if (sync_store_recv_finish(s, r->id, hub, &fresh, &reason) != 0)
				goto out;
			n++;
		}
out:
	t = mtime_now_us() - t;
	sync_store_close(s);
	return n == (size_t)NCLINIC * NCASE ? n / (t / 1e6) : 0;
}

int main(void)
{
	char tmp[] = "/tmp/bench_sync_hub.XXXXXX", dir[128], raw[128], cmd[160], addr[64];
	struct event_base *base;
	struct keys *hk = NULL;
	struct sync_store *hs = NULL;
	struct sync_xfer_store *hxs = NULL;
	struct sync_xfer *xh = NULL;
	struct sync_xfer_config hcfg = {0};
	struct event *tick;
	struct timeval tv = {0, 5000};
	struct rlimit rl;
	uint8_t secret[64], *data;
	uint64_t *lat, t_last = 0;
	double raw_rate;
	size_t n = (size_t)NCLINIC * NCASE;
	int ret = 1;

	log_init("bench_sync_hub", LOG_LVL_ERROR);
	if (sodium_init() < 0 || !mkdtemp(tmp))
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4 * NCLINIC + 64) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	snprintf(dir, sizeof dir, "%s/hub", tmp);
	snprintf(raw, sizeof raw, "%s/raw", tmp);
	base = event_base_new();
	randombytes_buf(secret, sizeof secret);
	data = malloc(CASE_SIZE);
	lat = calloc(n, sizeof *lat);
	if (!base || !data || !lat || keys_from_secret(secret, &hk) != 0 ||
	    sync_store_open(&hs, dir, 0, 0) != 0)
		goto out;
	randombytes_buf(data, CASE_SIZE);
	for (int c = 0; c < NCLINIC; c++) {
		char name[32];
		randombytes_buf(secret, sizeof secret);
		if (keys_from_secret(secret, &clinics[c].k) != 0)
			goto out;
		snprintf(name, sizeof name, "clinic%03d", c);
		if (sync_store_peer_enroll(hs, name, &clinics[c].k->pub) != 0)
			goto out;
		for (int i = 0; i < NCASE; i++)
			if (seal(clinics[c].k, &hk->pub, &clinics[c].recs[i], data) != 0)
				goto out;
	}
	if (sync_xfer_store_new(&hxs, hs, hk, SYNC_XFER_HUB, NULL) != 0)
		goto out;
	hcfg.role = SYNC_XFER_HUB;
	hcfg.self = hk;
	hcfg.listen_addr = "127.0.0.1:0";
	if (sync_xfer_new(&xh, base, &hcfg, &sync_xfer_store_ops, hxs) != 0)
		goto out;
	snprintf(addr, sizeof addr, "127.0.0.1:%u", sync_xfer_listen_port(xh));
	t0 = mtime_now_us();
	for (int c = 0; c < NCLINIC; c++) {
		struct sync_xfer_config cc = {0};
		cc.role = SYNC_XFER_CLINIC;
		cc.self = clinics[c].k;
		cc.hub = hk->pub;
		cc.connect_addr = addr;
		cc.backoff_min_ms = 50;
		cc.backoff_max_ms = 1000;
		if (sync_xfer_new(&clinics[c].x, base, &cc, &clinic_ops, &clinics[c]) != 0)
			goto out;
	}
	tick = event_new(base, -1, EV_PERSIST, check_done, base);
	event_add(tick, &tv);
	event_base_dispatch(base);
	event_free(tick);
	if (delivered_total != n) {
		fprintf(stderr, "only %zu of %zu cases delivered\n", delivered_total, n);
		goto out;
	}
	for (int c = 0, k = 0; c < NCLINIC; c++)
		for (int i = 0; i < NCASE; i++, k++) {
			lat[k] = clinics[c].recs[i].t_done - t0;
			if (clinics[c].recs[i].t_done > t_last)
				t_last = clinics[c].recs[i].t_done;
		}
	qsort(lat, n, sizeof *lat, cmp_u64);
	for (int c = 0; c < NCLINIC; c++) {
		sync_xfer_free(clinics[c].x);
		clinics[c].x = NULL;
	}
	raw_rate = raw_import(raw, hk);
	{
		double rate = n / ((t_last - t0) / 1e6);
		printf("ROW\thub: %d clinics x %d cases of %d B, loopback, 1 core: cases/s\t%.0f "
		       "cases/s\thub store import alone (no network)\t%.0f cases/s\t%.2f\n",
		       NCLINIC, NCASE, CASE_SIZE, rate, raw_rate,
		       raw_rate > 0 ? rate / raw_rate : 0);
		printf("ROW\thub: %d clinics, p99 delivery latency (all queued at t0)\t%.0f "
		       "ms\tp50 "
		       "latency\t%.0f ms\t%.2f\n",
		       NCLINIC, lat[n * 99 / 100] / 1000.0, lat[n / 2] / 1000.0,
		       (double)lat[n * 99 / 100] / (double)(lat[n / 2] ? lat[n / 2] : 1));
	}
	ret = 0;
out:
	for (int c = 0; c < NCLINIC; c++) {
		sync_xfer_free(clinics[c].x);
		keys_free(clinics[c].k);
		for (int i = 0; i < NCASE; i++)
			free(clinics[c].recs[i].bytes);
	}
	sync_xfer_free(xh);
	sync_xfer_store_free(hxs);
	sync_store_close(hs);
	keys_free(hk);
	if (base)
		event_base_free(base);
	free(data);
	free(lat);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	if (system(cmd) != 0)
		ret = 1;
	return ret;
}
