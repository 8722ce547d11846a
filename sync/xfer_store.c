/* sync/xfer_store.c — sync/xfer's storage operations on sync/store (see xfer_store.h). */
#include "sync/xfer_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mtime.h"

#define OUT_CACHE 16
/* Incoming records in progress, all peers together (each holds at most one chunk buffer,
 * allocated only while a chunk is being assembled). */
#define IN_MAX       16384
#define META_LEN     12
#define ACK_EVERY_MS 1000

struct out_ent {
	bool used;
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint64_t lru;
	uint8_t *header;
	uint32_t hlen, stride, count;
	uint64_t total;
	uint8_t *chunk; /* stride bytes: the chunk being sliced */
	int64_t chunk_idx;
	size_t chunk_len;
	uint32_t acked_chunks;
	uint64_t ack_ms;
};

struct in_ent {
	uint8_t id[SYNC_ENV_ID_BYTES];
	struct keys_pub peer;
	uint32_t hlen, stride, count;
	uint64_t total;
	uint64_t pos;     /* next byte expected */
	uint64_t durable; /* what the store holds */
	bool have;        /* the store already had it finished: discard */
	uint8_t *header;  /* hlen bytes while pos < hlen */
	uint8_t *chunk;   /* stride bytes */
	size_t fill;
};

struct sync_xfer_store {
	struct sync_store *st;
	const struct keys *self;
	enum sync_xfer_role role;
	struct keys_pub hub;
	struct out_ent out[OUT_CACHE];
	uint64_t tick;
	struct in_ent **in;
	size_t nin;
	struct sync_out_item *items;
	void (*ev_cb)(void *arg, enum sync_xfer_event ev, const uint8_t *peer, const uint8_t *id,
	              int64_t a, int64_t b);
	void *ev_arg;
};

static void id_hex(const uint8_t *id, char out[SYNC_ENV_ID_HEX_LEN])
{
	sync_env_id_hex(id, out);
}

/* A verdict on the record itself (it fails the same way each time it is sent: envelope
 * verification, an id already used by another record), as opposed to a local, transient
 * failure (disk, memory, LMDB). */
static bool verdict(int err)
{
	return (err <= ERR_BASE_SYNC - 100 && err > ERR_BASE_SYNC - 200) || err == SYNC_EEXIST;
}

/* The full public key of a Noise peer: the pinned hub, or an enrolled, unrevoked clinic. */
static int peer_pub(struct sync_xfer_store *a, const uint8_t *x25519, struct keys_pub *out)
{
	struct sync_peer p;
	int ret;

	if (a->role == SYNC_XFER_CLINIC) {
		if (memcmp(a->hub.x25519, x25519, KEYS_X25519_BYTES))
			return SYNC_XFER_EDENIED;
		*out = a->hub;
		return 0;
	}
	if ((ret = sync_store_peer_check(a->st, x25519, &p)) != 0)
		return ret == SYNC_ENOTFOUND || ret == SYNC_EREVOKED ? SYNC_XFER_EDENIED : ret;
	*out = p.pub;
	return 0;
}

static int xs_peer_allowed(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES])
{
	struct keys_pub pub;
	return peer_pub(arg, peer, &pub);
}

/* ---- sender ----------------------------------------------------------------------------- */

static void out_ent_clear(struct out_ent *e)
{
	free(e->header);
	free(e->chunk);
	memset(e, 0, sizeof *e);
}

/* Reads the geometry a receiver needs from a stored header: chunk_size (offset 176),
 * chunk_count (180) and plain_size (184) — the header is our own, signed at enqueue. */
static int geometry(const uint8_t *h, size_t hlen, uint32_t *stride, uint32_t *count,
                    uint64_t *wire)
{
	struct buf_reader r;
	uint32_t cs, n;
	uint64_t plain;

	buf_reader_init(&r, h, hlen);
	buf_skip(&r, 176);
	cs = buf_read_u32(&r);
	n = buf_read_u32(&r);
	plain = buf_read_u64(&r);
	if (!buf_reader_ok(&r) || cs < SYNC_ENV_CHUNK_MIN || cs > SYNC_ENV_CHUNK_MAX || n == 0 ||
	    hlen != sync_env_header_size(n))
		return SYNC_ECORRUPT;
	*stride = cs + SYNC_ENV_CHUNK_OVERHEAD;
	*count = n;
	*wire = plain + (uint64_t)n * SYNC_ENV_CHUNK_OVERHEAD;
	return 0;
}

static int out_get(struct sync_xfer_store *a, const uint8_t *id, struct out_ent **out)
{
	struct out_ent *e = NULL, *lru = NULL;
	uint64_t wire;
	size_t hlen;
	int ret;

	for (int i = 0; i < OUT_CACHE; i++) {
		struct out_ent *c = &a->out[i];

		if (c->used && !memcmp(c->id, id, SYNC_ENV_ID_BYTES)) {
			c->lru = ++a->tick;
			*out = c;
			return 0;
		}
		/* Victim: a free slot, else the least recently used. */
		if (!lru || (lru->used && (!c->used || c->lru < lru->lru)))
			lru = c;
	}
	e = lru;
	out_ent_clear(e);
	if ((ret = sync_store_out_header(a->st, id, &e->header, &hlen)) != 0)
		return ret;
	if ((ret = geometry(e->header, hlen, &e->stride, &e->count, &wire)) != 0) {
		out_ent_clear(e);
		return ret;
	}
	if (!(e->chunk = malloc(e->stride))) {
		out_ent_clear(e);
		return -ENOMEM;
	}
	memcpy(e->id, id, SYNC_ENV_ID_BYTES);
	e->hlen = (uint32_t)hlen;
	e->total = hlen + wire;
	e->chunk_idx = -1;
	e->used = true;
	e->lru = ++a->tick;
	*out = e;
	return 0;
}

static int xs_out_pending(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                          struct sync_xfer_rec *recs, size_t max)
{
	struct sync_xfer_store *a = arg;
	struct keys_pub to;
	size_t n = 0, k = 0;
	int ret;

	if ((ret = peer_pub(a, peer, &to)) != 0)
		return ret;
	if (max > SYNC_XFER_PENDING_MAX)
		max = SYNC_XFER_PENDING_MAX;
	if ((ret = sync_store_out_pending(a->st, &to, a->items, max, &n)) != 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		struct out_ent *e;
		struct buf_writer w;
		char hex[SYNC_ENV_ID_HEX_LEN];

		if ((ret = out_get(a, a->items[i].id, &e)) != 0) {
			id_hex(a->items[i].id, hex);
			log_error("sync: outbox record %s unreadable: %s", hex, sync_strerror(ret));
			continue;
		}
		memset(&recs[k], 0, sizeof recs[k]);
		memcpy(recs[k].id, e->id, SYNC_ENV_ID_BYTES);
		recs[k].prio = (uint8_t)a->items[i].priority;
		recs[k].kind = a->role == SYNC_XFER_CLINIC ? SYNC_ENV_CASE : SYNC_ENV_REPLY;
		recs[k].total = e->total;
		recs[k].fresh = a->items[i].acked == 0;
		buf_writer_init(&w, recs[k].meta, META_LEN);
		buf_write_u32(&w, e->hlen);
		buf_write_u32(&w, e->stride);
		buf_write_u32(&w, e->count);
		recs[k].meta_len = META_LEN;
		k++;
	}
	return (int)k;
}

static int xs_out_read(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                       const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t off, uint8_t *buf, size_t len)
{
	struct sync_xfer_store *a = arg;
	struct out_ent *e;
	int ret;

	(void)peer;
	if ((ret = out_get(a, id, &e)) != 0)
		return ret;
	if (off > e->total || len > e->total - off)
		return -EINVAL;
	while (len) {
		size_t n;

		if (off < e->hlen) {
			n = e->hlen - off < len ? (size_t)(e->hlen - off) : len;
			memcpy(buf, e->header + off, n);
		} else {
			uint64_t rel = off - e->hlen;
			uint32_t idx = (uint32_t)(rel / e->stride);
			size_t in = (size_t)(rel % e->stride);

			if (e->chunk_idx != (int64_t)idx) {
				e->chunk_idx = -1;
				ret = sync_store_out_chunk(a->st, id, idx, e->chunk, e->stride,
				                           &e->chunk_len);
				if (ret != 0)
					return ret;
				e->chunk_idx = idx;
			}
			if (in >= e->chunk_len)
				return SYNC_ECORRUPT;
			n = e->chunk_len - in < len ? e->chunk_len - in : len;
			memcpy(buf, e->chunk + in, n);
		}
		off += n;
		buf += n;
		len -= n;
	}
	return 0;
}

static void xs_out_progress(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                            const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t acked, uint64_t total)
{
	struct sync_xfer_store *a = arg;
	struct out_ent *e;
	uint32_t chunks;
	uint64_t now = mtime_now_ms();
	int ret;

	(void)peer;
	if (out_get(a, id, &e) != 0)
		return;
	if (acked >= total)
		chunks = e->count;
	else if (acked <= e->hlen)
		chunks = 0;
	else
		chunks = (uint32_t)((acked - e->hlen) / e->stride);
	if (chunks <= e->acked_chunks || (chunks < e->count && now - e->ack_ms < ACK_EVERY_MS))
		return;
	if ((ret = sync_store_out_ack(a->st, id, chunks)) != 0) {
		log_warn("sync: recording progress failed: %s", sync_strerror(ret));
		return;
	}
	e->acked_chunks = chunks;
	e->ack_ms = now;
}

static int xs_out_delivered(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                            const uint8_t id[SYNC_XFER_ID_BYTES], int status, int32_t code)
{
	struct sync_xfer_store *a = arg;
	char hex[SYNC_ENV_ID_HEX_LEN];
	int ret;

	(void)peer;
	id_hex(id, hex);
	for (int i = 0; i < OUT_CACHE; i++)
		if (a->out[i].used && !memcmp(a->out[i].id, id, SYNC_ENV_ID_BYTES))
			out_ent_clear(&a->out[i]);
	if (status != SYNC_DELIVERED_OK) {
		/* Refused for good: kept in the outbox as REFUSED (never offered again, never
		 * purged), visible in `pirogue case list`; `pirogue case retry` re-queues it. */
		log_error("sync: peer refused record %s for good: %s (%s); kept as refused", hex,
		          sync_refusal_reason(code), sync_strerror(code));
		return sync_store_out_refused(a->st, id, code);
	}
	if ((ret = sync_store_out_delivered(a->st, id)) != 0)
		return ret;
	log_info("sync: record %s delivered", hex);
	return 0;
}

/* ---- receiver --------------------------------------------------------------------------- */

static void in_ent_free(struct in_ent *e)
{
	if (!e)
		return;
	free(e->header);
	free(e->chunk);
	free(e);
}

static struct in_ent *in_find(struct sync_xfer_store *a, const uint8_t *id, size_t *idx)
{
	for (size_t i = 0; i < a->nin; i++)
		if (!memcmp(a->in[i]->id, id, SYNC_ENV_ID_BYTES)) {
			if (idx)
				*idx = i;
			return a->in[i];
		}
	return NULL;
}

static void in_drop(struct sync_xfer_store *a, const uint8_t *id)
{
	size_t i;
	struct in_ent *e = in_find(a, id, &i);

	if (!e)
		return;
	in_ent_free(e);
	a->in[i] = a->in[--a->nin];
}

static int xs_in_begin(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                       const struct sync_xfer_rec *rec, uint64_t *offset)
{
	struct sync_xfer_store *a = arg;
	struct sync_recv_status rs;
	struct buf_reader r;
	struct in_ent *e;
	uint32_t hlen, stride, count;
	int ret;

	buf_reader_init(&r, rec->meta, rec->meta_len);
	hlen = buf_read_u32(&r);
	stride = buf_read_u32(&r);
	count = buf_read_u32(&r);
	if (!buf_reader_ok(&r) || buf_reader_left(&r) != 0 || count == 0 ||
	    count > SYNC_ENV_CHUNKS_MAX || hlen != sync_env_header_size(count) ||
	    stride < SYNC_ENV_CHUNK_MIN + SYNC_ENV_CHUNK_OVERHEAD ||
	    stride > SYNC_ENV_CHUNK_WIRE_MAX ||
	    rec->total <= hlen + (uint64_t)(count - 1) * stride ||
	    rec->total > hlen + (uint64_t)count * stride) {
		*offset = (uint64_t) - (int64_t)SYNC_ENV_EHEADER; /* for good: it cannot be read */
		return SYNC_RESUME_REFUSE;
	}
	in_drop(a, rec->id);
	if (a->nin >= IN_MAX)
		return SYNC_RESUME_REFUSE; /* for now: offered again later */
	if (!(e = calloc(1, sizeof *e)))
		return -ENOMEM;
	if ((ret = peer_pub(a, peer, &e->peer)) != 0)
		goto fail;
	memcpy(e->id, rec->id, SYNC_ENV_ID_BYTES);
	e->hlen = hlen;
	e->stride = stride;
	e->count = count;
	e->total = rec->total;
	ret = sync_store_recv_status(a->st, rec->id, &rs);
	if (ret == 0 && rs.done) {
		in_ent_free(e);
		return SYNC_RESUME_HAVE;
	}
	if (ret == 0) {
		if (rs.chunk_count != count) { /* another record has this id: for good */
			*offset = (uint64_t) - (int64_t)SYNC_EEXIST;
			ret = SYNC_RESUME_REFUSE;
			goto fail;
		}
		e->pos = e->durable =
		        rs.next >= count ? e->total : hlen + (uint64_t)rs.next * stride;
	} else if (ret == SYNC_ENOTFOUND) {
		e->pos = e->durable = 0;
		if (!(e->header = malloc(hlen))) {
			ret = -ENOMEM;
			goto fail;
		}
	} else {
		goto fail;
	}
	{
		struct in_ent **v = realloc(a->in, (a->nin + 1) * sizeof *v);
		if (!v) {
			ret = -ENOMEM;
			goto fail;
		}
		a->in = v;
		a->in[a->nin++] = e;
	}
	*offset = e->pos;
	return SYNC_RESUME_FROM;
fail:
	in_ent_free(e);
	return ret;
}

static int xs_in_write(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                       const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t off, const uint8_t *data,
                       size_t len, uint64_t *durable)
{
	struct sync_xfer_store *a = arg;
	struct in_ent *e = in_find(a, id, NULL);
	int ret;

	(void)peer;
	if (!e || off != e->pos || len > e->total - off)
		return -EINVAL;
	while (len) {
		size_t n;

		if (e->have) {
			e->pos += len;
			e->durable = e->pos;
			break;
		}
		if (e->pos < e->hlen) {
			struct sync_recv_status rs;

			n = e->hlen - e->pos < len ? (size_t)(e->hlen - e->pos) : len;
			memcpy(e->header + e->pos, data, n);
			e->pos += n;
			if (e->pos == e->hlen) {
				ret = sync_store_recv_begin(a->st, e->header, e->hlen, &e->peer,
				                            &a->self->pub, &rs);
				if (ret != 0) {
					char hex[SYNC_ENV_ID_HEX_LEN];
					id_hex(id, hex);
					log_error("sync: record %s refused at its header: %s", hex,
					          sync_strerror(ret));
					e->pos = 0;
					if (!verdict(ret))
						return ret;
					in_drop(a, id); /* nothing of it was stored */
					return -ret;
				}
				free(e->header);
				e->header = NULL;
				e->durable = e->hlen;
				if (rs.done)
					e->have = true;
				else if (rs.next > 0) /* another session stored more meanwhile */
					return -EAGAIN;
			}
		} else {
			uint64_t rel = e->pos - e->hlen;
			uint32_t idx = (uint32_t)(rel / e->stride);
			size_t clen =
			        idx + 1 == e->count
			                ? (size_t)(e->total - e->hlen - (uint64_t)idx * e->stride)
			                : e->stride;
			uint32_t next;

			if (!e->chunk && !(e->chunk = malloc(e->stride)))
				return -ENOMEM;
			n = clen - e->fill < len ? clen - e->fill : len;
			memcpy(e->chunk + e->fill, data, n);
			e->fill += n;
			e->pos += n;
			if (e->fill == clen) {
				e->fill = 0;
				ret = sync_store_recv_chunk(a->st, id, idx, e->chunk, clen, &next);
				if (ret == SYNC_ESTATE) {
					e->have = true; /* finished meanwhile */
				} else if (ret != 0) {
					char hex[SYNC_ENV_ID_HEX_LEN];
					int r2;
					id_hex(id, hex);
					log_error("sync: record %s chunk %u refused: %s", hex, idx,
					          sync_strerror(ret));
					e->pos -= clen;
					if (!verdict(ret))
						return ret;
					/* Refused for good: what was stored of it goes. */
					in_drop(a, id);
					if ((r2 = sync_store_recv_abort(a->st, id)) != 0)
						log_warn("sync: dropping refused record %s: %s",
						         hex, sync_strerror(r2));
					return -ret;
				} else if (next != idx + 1) {
					return -EAGAIN;
				}
				e->durable = e->pos;
				if (e->pos == e->total) {
					free(e->chunk);
					e->chunk = NULL;
				}
			}
		}
		data += n;
		len -= n;
	}
	*durable = e->durable;
	return 0;
}

static int xs_in_finish(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                        const uint8_t id[SYNC_XFER_ID_BYTES], uint64_t total, int32_t *code)
{
	struct sync_xfer_store *a = arg;
	char hex[SYNC_ENV_ID_HEX_LEN];
	bool fresh = false;
	int reason = 0, ret;

	(void)peer;
	(void)total;
	in_drop(a, id);
	id_hex(id, hex);
	ret = sync_store_recv_finish(a->st, id, a->self, &fresh, &reason);
	if (ret == SYNC_EREFUSED) {
		log_error("sync: record %s failed verification and was refused: %s", hex,
		          sync_strerror(reason));
		*code = reason;
		return 1;
	}
	if (ret != 0)
		return ret;
	if (fresh)
		log_info("sync: record %s received", hex);
	return 0;
}

/* A handshake refused for its timestamp: the operator's way out, naming the clinic. */
static void stamp_refused(struct sync_xfer_store *a, const uint8_t peer[SYNC_XFER_KEY_BYTES],
                          const char *what)
{
	struct sync_peer p;
	char key[KEYS_PUB_B64_LEN] = "?";

	if (sync_store_peer_check(a->st, peer, &p) != SYNC_ENOTFOUND)
		keys_pub_encode(&p.pub, key);
	else
		snprintf(p.name, sizeof p.name, "(not enrolled)");
	log_warn("sync: clinic %s: %s handshake timestamp older than the last accepted one: "
	         "replay, or the clinic's clock went back; re-enrol it to reset (pirogue enroll "
	         "%s --name %s)",
	         p.name, what, key, p.name);
}

static int xs_hs_stamp(void *arg, const uint8_t peer[SYNC_XFER_KEY_BYTES], uint64_t stamp)
{
	struct sync_xfer_store *a = arg;
	int ret = sync_store_hs_stamp(a->st, peer, stamp);

	if (ret == SYNC_EREPLAY) {
		stamp_refused(a, peer, "sync");
		return 1;
	}
	if (ret != 0)
		log_error("sync: recording the handshake timestamp: %s", sync_strerror(ret));
	return ret;
}

int sync_xfer_store_tunnel_stamp(struct sync_xfer_store *a, const uint8_t peer[32], uint64_t stamp)
{
	int ret = sync_store_tunnel_stamp(a->st, peer, stamp);

	if (ret == SYNC_EREPLAY)
		stamp_refused(a, peer, "tunnel");
	else if (ret != 0)
		log_error("sync: recording the tunnel handshake timestamp (handshake refused): %s",
		          sync_strerror(ret));
	return ret;
}

static void xs_on_event(void *arg, enum sync_xfer_event ev, const uint8_t *peer, const uint8_t *id,
                        int64_t x, int64_t y)
{
	struct sync_xfer_store *a = arg;

	if (a->ev_cb)
		a->ev_cb(a->ev_arg, ev, peer, id, x, y);
}

void sync_xfer_store_on_event(struct sync_xfer_store *a,
                              void (*cb)(void *arg, enum sync_xfer_event ev, const uint8_t *peer,
                                         const uint8_t *id, int64_t a, int64_t b),
                              void *arg)
{
	a->ev_cb = cb;
	a->ev_arg = arg;
}

const struct sync_xfer_ops sync_xfer_store_ops = {
        .peer_allowed = xs_peer_allowed,
        .out_pending = xs_out_pending,
        .out_read = xs_out_read,
        .out_progress = xs_out_progress,
        .out_delivered = xs_out_delivered,
        .in_begin = xs_in_begin,
        .in_write = xs_in_write,
        .in_finish = xs_in_finish,
        .on_event = xs_on_event,
        .hs_stamp = xs_hs_stamp,
};

int sync_xfer_store_new(struct sync_xfer_store **out, struct sync_store *store,
                        const struct keys *self, enum sync_xfer_role role,
                        const struct keys_pub *hub)
{
	struct sync_xfer_store *a;

	if (!store || !self || (role == SYNC_XFER_CLINIC && !hub))
		return -EINVAL;
	if (!(a = calloc(1, sizeof *a)))
		return -ENOMEM;
	if (!(a->items = calloc(SYNC_XFER_PENDING_MAX, sizeof *a->items))) {
		free(a);
		return -ENOMEM;
	}
	a->st = store;
	a->self = self;
	a->role = role;
	if (hub)
		a->hub = *hub;
	*out = a;
	return 0;
}

void sync_xfer_store_free(struct sync_xfer_store *a)
{
	if (!a)
		return;
	for (int i = 0; i < OUT_CACHE; i++)
		out_ent_clear(&a->out[i]);
	for (size_t i = 0; i < a->nin; i++)
		in_ent_free(a->in[i]);
	free(a->in);
	free(a->items);
	free(a);
}
