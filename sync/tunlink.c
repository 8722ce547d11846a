/* sync/tunlink.c — sync/xfer connections as relay_streams inside relay_tunnel (see tunlink.h). */
#include "sync/tunlink.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sodium.h>

#include "common/log.h"
#include "common/mtime.h"
#include "common/netaddr.h"
#include "relay/stream.h"
#include "relay/tunnel.h"

#define CLINIC_PEER_ID 1 /* relay_tunnel: a clinic's single peer */
/* Datagrams one service round sends before it yields to the event loop. */
#define POLL_BATCH 64
/* Bytes moved between the pair and the stream per step. */
#define COPY_MAX 16384
/* Like TCP_NOTSENT_LOWAT on the TCP path: xfer's bytes enter the stream only while fewer than
 * this many written bytes wait for their first transmission, and the pair holds at most this
 * much more; the rest waits in xfer's own queue, where its priorities still apply (an urgent
 * record queued now waits behind ~3 x this, not behind xfer's whole window). */
#define UNSENT_LOWAT  16384
#define STREAM_BUFFER (2u << 20)

struct tl_stream {
	struct sync_tunlink *t;
	struct tl_stream *next;
	uint32_t peer_id, id;
	uint8_t key[NOISE_KEY_LEN];
	struct relay_stream *s;
	struct bufferevent *bev; /* our end of the pair; NULL once xfer has closed its end */
	struct event *timer;
	uint64_t opened_us;
	uint64_t written; /* bytes given to relay_stream_write */
	bool servicing;
};

struct sync_tunlink {
	struct event_base *base;
	struct sync_tunlink_config cfg;
	struct relay_tunnel_config tc;
	struct sockaddr_storage peer_addr, any; /* tc points here */
	uint8_t *sk;                            /* sodium_malloc: our private key (tc too) */
	uint8_t hub_pub[NOISE_KEY_LEN];
	struct relay_tunnel *tun;
	struct tl_stream *streams;
	uint64_t cap_bps;
	struct sync_tunlink_stats st; /* counters of ended streams are folded in here */
	uint8_t dgram[RELAY_TUNNEL_DGRAM_LIMIT - RELAY_TUNNEL_OVERHEAD];
	uint8_t copy[COPY_MAX];
};

static void service(struct tl_stream *ls);

static int64_t now_us(void)
{
	return (int64_t)mtime_now_us();
}

/* Adds one stream's counters to *dst. */
static void add_stream_stats(struct sync_tunlink_stats *dst, const struct relay_stream *s)
{
	struct relay_stream_stats ss;

	relay_stream_stats(s, &ss);
	dst->bytes_sent += ss.bytes_sent;
	dst->bytes_resent += ss.bytes_resent;
	dst->bytes_received += ss.bytes_received;
	dst->datagrams_sent += ss.datagrams_sent;
	dst->datagrams_received += ss.datagrams_received;
	dst->datagrams_lost += ss.datagrams_lost;
	dst->probes += ss.probes;
	dst->streams_resumed += ss.resume == 1;
	dst->streams_resume_refused += ss.resume == 2;
}

/* Ends a stream: xfer's end sees EOF, everything of the stream is freed. */
static void stream_end(struct tl_stream *ls, int why)
{
	struct sync_tunlink *t = ls->t;
	struct tl_stream **pp;

	for (pp = &t->streams; *pp && *pp != ls; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ls->next;
	log_debug("tunlink: stream %08x of peer %u ended: %s", ls->id, ls->peer_id,
	          why ? sync_tunlink_strerror(why) : "closed");
	if (ls->bev) {
		bufferevent_setcb(ls->bev, NULL, NULL, NULL, NULL);
		bufferevent_flush(ls->bev, EV_WRITE, BEV_FINISHED);
		bufferevent_free(ls->bev);
	}
	add_stream_stats(&t->st, ls->s);
	if (t->cfg.path_save) {
		struct relay_stream_path path;

		if (relay_stream_path(ls->s, &path))
			t->cfg.path_save(t->cfg.arg, ls->key, &path);
	}
	relay_stream_free(ls->s);
	event_free(ls->timer);
	t->st.streams--;
	t->st.streams_ended++;
	free(ls);
}

/* Ends a stream for a reason of ours: a CLOSE goes to the peer first (best effort), so its
 * side ends at once rather than at its idle timeout. */
static void stream_close_now(struct tl_stream *ls, int why)
{
	struct sync_tunlink *t = ls->t;
	size_t len = 0;
	int64_t next;

	relay_stream_close(ls->s, 0);
	for (int i = 0; i < 4 && relay_stream_poll(ls->s, now_us(), t->dgram, sizeof t->dgram, &len,
	                                           &next) == 1;
	     i++)
		if (relay_tunnel_send(t->tun, ls->peer_id, t->dgram, len) != 0)
			break;
	stream_end(ls, why);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	service(arg);
}

/* xfer wrote: move it into the stream. */
static void pair_readcb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	service(arg);
}

/* xfer closed its end (EOF) or the pair broke: close the stream (a CLOSE goes out). */
static void pair_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct tl_stream *ls = arg;

	(void)what;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_free(bev);
	ls->bev = NULL;
	relay_stream_close(ls->s, 0);
	service(ls);
}

/* xfer -> stream while the stream's not-yet-sent backlog is below UNSENT_LOWAT. */
static void refill(struct tl_stream *ls)
{
	struct sync_tunlink *t = ls->t;
	struct evbuffer *in;
	struct relay_stream_stats ss;
	size_t n, w;

	if (!ls->bev)
		return;
	in = bufferevent_get_input(ls->bev);
	while ((n = evbuffer_get_length(in)) > 0 && (w = relay_stream_writable(ls->s)) > 0) {
		uint64_t first_sent, unsent;
		size_t k, acc;

		relay_stream_stats(ls->s, &ss);
		first_sent = ss.bytes_sent - ss.bytes_resent;
		unsent = ls->written > first_sent ? ls->written - first_sent : 0;
		if (unsent >= UNSENT_LOWAT)
			break;
		k = n < w ? n : w;
		if (k > UNSENT_LOWAT - unsent)
			k = (size_t)(UNSENT_LOWAT - unsent);
		evbuffer_copyout(in, t->copy, k);
		acc = relay_stream_write(ls->s, t->copy, k);
		evbuffer_drain(in, acc);
		ls->written += acc;
		if (acc < k)
			break;
	}
}

/* Moves bytes both ways, sends what the stream has due, re-arms the timer. Ends the stream
 * when it is over. */
static void service(struct tl_stream *ls)
{
	struct sync_tunlink *t = ls->t;
	int64_t now = now_us(), next = INT64_MAX;
	int ret = 0;

	if (ls->servicing)
		return;
	ls->servicing = true;
	if (ls->bev) {
		size_t n;

		/* stream -> xfer */
		while ((n = relay_stream_read(ls->s, t->copy, sizeof t->copy)) > 0)
			if (bufferevent_write(ls->bev, t->copy, n) != 0)
				break;
	}
	for (int i = 0; i < POLL_BATCH; i++) {
		size_t len = 0;

		refill(ls);
		ret = relay_stream_poll(ls->s, now, t->dgram, sizeof t->dgram, &len, &next);
		if (ret <= 0)
			break;
		if (relay_tunnel_send(t->tun, ls->peer_id, t->dgram, len) != 0)
			t->st.send_errors++; /* lost like on the wire: the stream resends */
		if (i == POLL_BATCH - 1)
			next = now; /* more due: come back after the other events */
	}
	ls->servicing = false;
	if (ret < 0) {
		stream_end(ls, ret);
		return;
	}
	if (next != INT64_MAX) {
		int64_t d = next > now ? next - now : 0;
		struct timeval tv = {(time_t)(d / 1000000), (suseconds_t)(d % 1000000)};
		evtimer_add(ls->timer, &tv);
	} else {
		evtimer_del(ls->timer);
	}
}

static struct tl_stream *stream_find(struct sync_tunlink *t, uint32_t peer_id, uint32_t id)
{
	for (struct tl_stream *ls = t->streams; ls; ls = ls->next)
		if (ls->peer_id == peer_id && ls->id == id)
			return ls;
	return NULL;
}

/* PIROGUE_STREAM_TRACE=1 (with --log-level debug): the stream's per-ack trace in the log. */
static void stream_trace(void *arg, const char *line)
{
	const struct tl_stream *ls = arg;

	log_debug("stream %08x: %s", ls->id, line);
}

/* A new stream with a fresh bufferevent_pair; *xfer_end is the end for xfer. */
static int stream_new(struct sync_tunlink *t, uint32_t peer_id, const uint8_t *key, uint32_t id,
                      bool opener, struct bufferevent **xfer_end, struct tl_stream **out)
{
	/* 2 MiB each way (the default 4 MiB costs ~9 MiB per stream): room for ~2 x the BDP of
	 * a 10 Mbit/s link at 600 ms RTT, more than the satellite links have. */
	struct relay_stream_config sc = {.mtu = t->cfg.udp_datagram - RELAY_TUNNEL_OVERHEAD,
	                                 .idle_timeout_ms = t->cfg.idle_timeout_ms,
	                                 .max_bps = t->cap_bps,
	                                 .send_buffer = STREAM_BUFFER,
	                                 .recv_window = STREAM_BUFFER};
	struct bufferevent *pair[2] = {NULL, NULL};
	struct tl_stream *ls = calloc(1, sizeof *ls);
	int ret = -ENOMEM;

	if (!ls)
		return -ENOMEM;
	ls->t = t;
	ls->peer_id = peer_id;
	ls->id = id;
	memcpy(ls->key, key, NOISE_KEY_LEN);
	ls->opened_us = (uint64_t)now_us();
	if (t->cfg.path_load && !t->cfg.path_load(t->cfg.arg, key, &sc.resume))
		sc.resume = (struct relay_stream_path){0};
	if (getenv("PIROGUE_STREAM_TRACE")) {
		sc.trace = stream_trace;
		sc.trace_arg = ls;
	}
	if ((ret = relay_stream_new(&ls->s, &sc, id, opener, now_us())) != 0)
		goto fail;
	ret = -ENOMEM;
	/* Deferred callbacks: neither side ever runs inside the other's code (xfer may free its
	 * end from a read callback while we are writing into it). */
	if (bufferevent_pair_new(t->base, BEV_OPT_DEFER_CALLBACKS, pair) != 0)
		goto fail;
	if (!(ls->timer = evtimer_new(t->base, timer_cb, ls)))
		goto fail;
	ls->bev = pair[1];
	bufferevent_setcb(ls->bev, pair_readcb, NULL, pair_eventcb, ls);
	/* The pair stops moving xfer's bytes over once this end holds UNSENT_LOWAT: xfer then
	 * sees its output queue non-empty and produces no more chunks (see UNSENT_LOWAT). */
	bufferevent_setwatermark(ls->bev, EV_READ, 0, UNSENT_LOWAT);
	bufferevent_enable(ls->bev, EV_READ | EV_WRITE);
	*xfer_end = pair[0];
	ls->next = t->streams;
	t->streams = ls;
	t->st.streams++;
	t->st.streams_opened++;
	*out = ls;
	return 0;
fail:
	if (pair[0]) {
		bufferevent_free(pair[0]);
		bufferevent_free(pair[1]);
	}
	relay_stream_free(ls->s);
	free(ls);
	return ret;
}

/* Every stream of this peer ends (peer down, revoked). */
static void end_peer(struct sync_tunlink *t, uint32_t peer_id, int why)
{
	for (struct tl_stream *ls = t->streams, *nx; ls; ls = nx) {
		nx = ls->next;
		if (ls->peer_id == peer_id)
			stream_close_now(ls, why);
	}
}

static void on_recv(uint32_t peer_id, const uint8_t key[NOISE_KEY_LEN], const uint8_t *data,
                    size_t len, void *arg)
{
	struct sync_tunlink *t = arg;
	struct tl_stream *ls;
	struct bufferevent *end;
	uint8_t type;
	uint32_t id, n = 0;
	int ret;

	if (!relay_stream_peek(data, len, &type, &id)) {
		t->st.drop_not_stream++;
		return;
	}
	if (!(ls = stream_find(t, peer_id, id))) {
		if (!t->cfg.hub || !relay_stream_is_open(data, len)) {
			t->st.drop_unknown_stream++;
			return;
		}
		/* A new connection from this peer: bound what one peer can hold. */
		for (struct tl_stream *o = t->streams; o; o = o->next)
			n += o->peer_id == peer_id;
		while (n-- >= t->cfg.streams_per_peer) {
			struct tl_stream *oldest = NULL;
			for (struct tl_stream *o = t->streams; o; o = o->next)
				if (o->peer_id == peer_id &&
				    (!oldest || o->opened_us < oldest->opened_us))
					oldest = o;
			stream_close_now(oldest, RELAY_STREAM_ECLOSED);
		}
		if ((ret = stream_new(t, peer_id, key, id, false, &end, &ls)) != 0) {
			log_warn("tunlink: cannot accept a stream: %s", sync_tunlink_strerror(ret));
			return;
		}
		t->cfg.accept(t->cfg.arg, end);
	}
	ret = relay_stream_input(ls->s, data, len, now_us());
	if (ret != 0 && ret != RELAY_STREAM_EMALFORMED)
		log_debug("tunlink: stream %08x input: %s", id, sync_tunlink_strerror(ret));
	service(ls);
}

static void on_state(uint32_t peer_id, const uint8_t key[NOISE_KEY_LEN], bool up, void *arg)
{
	struct sync_tunlink *t = arg;

	(void)key;
	if (up) {
		if (!t->cfg.hub && t->cfg.on_up)
			t->cfg.on_up(t->cfg.arg);
		return;
	}
	log_info("tunlink: tunnel session with peer %u lost", peer_id);
	end_peer(t, peer_id, RELAY_TUNNEL_ENOTUP);
}

static bool on_allow(const uint8_t key[NOISE_KEY_LEN], void *arg)
{
	struct sync_tunlink *t = arg;

	return t->cfg.allow(t->cfg.arg, key);
}

static int on_stamp(const uint8_t key[NOISE_KEY_LEN], uint64_t ts, void *arg)
{
	struct sync_tunlink *t = arg;

	return t->cfg.stamp(t->cfg.arg, key, ts);
}

int sync_tunlink_new(struct sync_tunlink **out, struct event_base *base,
                     const struct sync_tunlink_config *cfg)
{
	struct relay_tunnel_config *tc;
	struct sync_tunlink *t;
	int ret;

	if (!out || !base || !cfg || !cfg->self_private || !cfg->addr || !cfg->addrlen ||
	    cfg->addrlen > sizeof(struct sockaddr_storage) ||
	    (cfg->hub ? !cfg->allow || !cfg->accept : !cfg->hub_public) ||
	    (cfg->udp_datagram && (cfg->udp_datagram < RELAY_TUNNEL_DGRAM_MIN ||
	                           cfg->udp_datagram > RELAY_TUNNEL_DGRAM_LIMIT)))
		return -EINVAL;
	if (!(t = calloc(1, sizeof *t)))
		return -ENOMEM;
	t->base = base;
	t->cfg = *cfg;
	if (!t->cfg.streams_per_peer)
		t->cfg.streams_per_peer = 4;
	if (!t->cfg.udp_datagram)
		t->cfg.udp_datagram = RELAY_TUNNEL_DGRAM_MAX;
	if (!(t->sk = sodium_malloc(NOISE_KEY_LEN))) {
		free(t);
		return -ENOMEM;
	}
	memcpy(t->sk, cfg->self_private, NOISE_KEY_LEN);
	t->cfg.self_private = NULL;
	tc = &t->tc;
	tc->role = cfg->hub ? RELAY_TUNNEL_HUB : RELAY_TUNNEL_CLINIC;
	tc->dgram_max = t->cfg.udp_datagram;
	tc->local_private = t->sk;
	tc->recv = on_recv;
	tc->state = on_state;
	tc->arg = t;
	memcpy(&t->peer_addr, cfg->addr, cfg->addrlen);
	if (cfg->hub) {
		tc->bind_addr = (struct sockaddr *)&t->peer_addr;
		tc->bind_addrlen = cfg->addrlen;
		tc->allow = on_allow;
		tc->stamp = cfg->stamp ? on_stamp : NULL;
	} else {
		t->any.ss_family = cfg->addr->sa_family;
		tc->bind_addr = (struct sockaddr *)&t->any;
		tc->bind_addrlen = cfg->addrlen;
		memcpy(t->hub_pub, cfg->hub_public, NOISE_KEY_LEN);
		t->cfg.hub_public = t->hub_pub;
		tc->peer_public = t->hub_pub;
		tc->peer_addr = (struct sockaddr *)&t->peer_addr;
		tc->peer_addrlen = cfg->addrlen;
	}
	t->cfg.addr = NULL; /* copied */
	if ((ret = relay_tunnel_new(&t->tun, base, tc)) != 0) {
		sodium_free(t->sk);
		free(t);
		return ret;
	}
	*out = t;
	return 0;
}

void sync_tunlink_free(struct sync_tunlink *t)
{
	if (!t)
		return;
	while (t->streams)
		stream_close_now(t->streams, 0);
	relay_tunnel_free(t->tun);
	sodium_free(t->sk);
	free(t);
}

int sync_tunlink_connect(struct sync_tunlink *t, struct bufferevent **out)
{
	struct tl_stream *ls;
	uint8_t key[NOISE_KEY_LEN];
	uint32_t id;
	int ret;

	if (t->cfg.hub)
		return -EINVAL;
	if (!relay_tunnel_peer_is_up(t->tun, CLINIC_PEER_ID))
		return -ENOTCONN;
	do
		id = randombytes_random();
	while (id == 0 || stream_find(t, CLINIC_PEER_ID, id));
	memcpy(key, t->cfg.hub_public, sizeof key);
	if ((ret = stream_new(t, CLINIC_PEER_ID, key, id, true, out, &ls)) != 0)
		return ret;
	service(ls); /* the OPEN goes out now */
	return 0;
}

static int tp_connect(void *arg, struct bufferevent **out)
{
	return sync_tunlink_connect(arg, out);
}

static void tp_set_rate(void *arg, uint64_t bytes_per_s)
{
	sync_tunlink_set_rate(arg, bytes_per_s);
}

void sync_tunlink_transport(struct sync_tunlink *t, struct sync_xfer_transport *out)
{
	out->connect = tp_connect;
	out->set_rate = tp_set_rate;
	out->arg = t;
}

void sync_tunlink_set_rate(struct sync_tunlink *t, uint64_t bytes_per_s)
{
	t->cap_bps = bytes_per_s > UINT64_MAX / 8 ? UINT64_MAX : bytes_per_s * 8;
	for (struct tl_stream *ls = t->streams; ls; ls = ls->next) {
		relay_stream_set_cap(ls->s, t->cap_bps);
		service(ls);
	}
}

void sync_tunlink_recheck_peers(struct sync_tunlink *t)
{
	struct tl_stream *ls;

	if (!t->cfg.hub)
		return;
	for (bool again = true; again;) {
		again = false;
		for (ls = t->streams; ls; ls = ls->next) {
			uint32_t peer = ls->peer_id;
			if (t->cfg.allow(t->cfg.arg, ls->key))
				continue;
			end_peer(t, peer, RELAY_TUNNEL_EUNKNOWN);
			if (relay_tunnel_peer_remove(t->tun, peer) != 0)
				log_debug("tunlink: peer %u already gone", peer);
			log_info("tunlink: peer %u no longer allowed: streams and tunnel state "
			         "dropped",
			         peer);
			again = true; /* the list changed under us */
			break;
		}
	}
}

uint16_t sync_tunlink_port(const struct sync_tunlink *t)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (relay_tunnel_local_addr(t->tun, &ss, &len) != 0)
		return 0;
	return netaddr_port(&ss);
}

void sync_tunlink_stats_get(const struct sync_tunlink *t, struct sync_tunlink_stats *out)
{
	const struct tl_stream *newest = NULL;

	*out = t->st;
	for (const struct tl_stream *ls = t->streams; ls; ls = ls->next) {
		add_stream_stats(out, ls->s);
		if (!newest || ls->opened_us > newest->opened_us)
			newest = ls;
	}
	if (newest) {
		struct relay_stream_stats ss;

		relay_stream_stats(newest->s, &ss);
		out->rate_bps = ss.rate_bps;
		out->btlbw_bps = ss.btlbw_bps;
		out->srtt_ms = ss.srtt_ms;
		out->min_rtt_ms = ss.min_rtt_ms;
	}
	{
		struct relay_tunnel_stats ts;

		relay_tunnel_stats(t->tun, &ts);
		out->refused = ts.drop_unknown_peer;
		out->replays = ts.drop_stale_initiation;
		out->tunnel_handshakes = ts.handshakes_completed;
		out->drop_oversize = ts.drop_oversize;
		out->udp_datagram = t->cfg.udp_datagram;
	}
	out->tunnel_up = !t->cfg.hub && relay_tunnel_peer_is_up(t->tun, CLINIC_PEER_ID);
}

const char *sync_tunlink_strerror(int err)
{
	if (err <= RELAY_STREAM_ERR_BASE && err > RELAY_STREAM_ERR_BASE - 50)
		return relay_stream_strerror(err);
	return relay_tunnel_strerror(err);
}
