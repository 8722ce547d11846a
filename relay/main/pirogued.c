/* relay/main/pirogued.c — the Pirogue daemon: `pirogued --role clinic|hub --config FILE`.
 *
 * One event_base runs everything: the sync transfer engine (sync/xfer over sync/store), the
 * local control socket the CLI pokes when it queues work (sync/notify: the daemon reacts at
 * once, no polling), signals (SIGTERM/SIGINT: clean stop; SIGHUP: reload the config and
 * re-check connected peers against the allow-list), the retention purge, and a status file.
 *
 * Status file (default <store>/status.json, [sync] status_file): JSON rewritten atomically
 * (write + rename) at most once a second while something changes: role, sessions, the
 * transfer counters (bytes sent / re-sent, duplicate bytes received, reconnects, offers sent
 * and received, records refused by the peer, replayed handshakes...) and the progress of every
 * record in flight. `pirogue status` prints it.
 *
 * Config keys read here besides sync/site.h's ([sync] section):
 *   window (bytes, default 2M over udp, 512K over tcp)    keepalive (default 5s)
 *   dead_after (default 20s)  backoff_min (500ms)  backoff_max (30s)  congestion (bbr)  status_file
 *   xfer_chunk (bytes per CHUNK message, default 16K: the unit of priority interleave)
 *   transport (udp|tcp, default udp): udp carries the sync connection as a reliable stream
 *             inside the encrypted UDP tunnel (sync/tunlink, relay/stream: our own rate
 *             controller); tcp is the plain TCP connection (BBR). Both keep the Noise IK session
 *             of sync/xfer inside.
 *   udp_port (default 7443): the UDP port of the tunnel, hub side ([listen] address on the hub,
 *             [hub] address on the clinic)
 * With udp, status.json also has "transport" and a "stream" object (rate, rtt, bytes re-sent).
 *
 * Yielding to a consultation (sync/yield.h): `pirogue consult` renews a lease on the control
 * socket ("yield BITS_PER_S LEASE_MS") while its media flows; the transfer is capped at the
 * lower of that and [sync] rate_cap until "yield end" or until the lease runs out unrenewed
 * (the consult died), then the configured cap is back. status.json: "yield" {active, cap_bps
 * (applied), asked_bps (the lease's), lease_left_ms}.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>

#include "common/config.h"
#include "common/log.h"
#include "common/mtime.h"
#include "relay/tunnel.h"
#include "sync/notify.h"
#include "sync/site.h"
#include "sync/store.h"
#include "sync/tunlink.h"
#include "sync/xfer.h"
#include "sync/xfer_store.h"
#include "sync/yield.h"

#define UDP_WINDOW_DEFAULT (2u << 20) /* xfer window over udp (see xfer_config) */
#define MAX_TRACK          256

struct track {
	bool used;
	bool out; /* sending (else receiving) */
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint64_t done, total;
	int last_pct;
};

struct daemon {
	const char *config_path;
	enum sync_role role;
	struct event_base *base;
	struct sync_site *site;
	struct sync_store *store;
	struct sync_xfer_store *xs;
	struct sync_xfer *xfer;
	struct sync_tunlink *tl; /* transport = udp */
	uint64_t tl_sum;         /* its counters at the last status write */
	struct sync_xfer_ops ops;
	int notify_fd;
	struct event *notify_ev, *sigterm, *sigint, *sighup, *status_ev, *purge_ev;
	struct sync_yield *yield; /* a consultation's lease on the link (sync/yield.h) */
	struct event *yield_ev;   /* fires when the lease may have run out */
	char status_path[4096];
	bool status_dirty;
	bool stopping; /* the last status write: no session outlives it */
	struct track tracks[MAX_TRACK];
	char net_key[1024]; /* what the xfer was built from, to rebuild only if it changed */
	uint64_t started_ms;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pirogued --role clinic|hub --config FILE [--log-level "
	           "error|warn|info|debug]\n");
}

static struct track *track_get(struct daemon *d, const uint8_t *id, bool out)
{
	struct track *free_slot = NULL;

	for (int i = 0; i < MAX_TRACK; i++) {
		if (d->tracks[i].used && d->tracks[i].out == out &&
		    !memcmp(d->tracks[i].id, id, SYNC_ENV_ID_BYTES))
			return &d->tracks[i];
		if (!d->tracks[i].used && !free_slot)
			free_slot = &d->tracks[i];
	}
	if (free_slot) {
		memset(free_slot, 0, sizeof *free_slot);
		free_slot->used = true;
		free_slot->out = out;
		free_slot->last_pct = -1;
		memcpy(free_slot->id, id, SYNC_ENV_ID_BYTES);
	}
	return free_slot;
}

static void progress(struct daemon *d, const uint8_t *id, bool out, int64_t done, int64_t total)
{
	struct track *t = track_get(d, id, out);
	char hex[SYNC_ENV_ID_HEX_LEN];
	int pct;

	if (!t || total <= 0)
		return;
	t->done = (uint64_t)done;
	t->total = (uint64_t)total;
	pct = (int)(done * 100 / total);
	/* One log line per 10 % step keeps the journal readable on big records. */
	if (pct / 10 != t->last_pct / 10 || t->last_pct < 0) {
		sync_env_id_hex(id, hex);
		log_info("%s %s %d%% (%lld/%lld bytes)", out ? "sending" : "receiving", hex, pct,
		         (long long)done, (long long)total);
		t->last_pct = pct;
	}
}

static void on_event(void *arg, enum sync_xfer_event ev, const uint8_t *peer, const uint8_t *id,
                     int64_t a, int64_t b)
{
	struct daemon *d = arg;
	char hex[SYNC_ENV_ID_HEX_LEN];
	struct track *t;

	(void)peer;
	d->status_dirty = true;
	switch (ev) {
	case SYNC_XFER_EV_SEND_PROGRESS:
		progress(d, id, true, a, b);
		break;
	case SYNC_XFER_EV_RECV_PROGRESS:
		progress(d, id, false, a, b);
		break;
	case SYNC_XFER_EV_SENT:
	case SYNC_XFER_EV_RECEIVED:
		sync_env_id_hex(id, hex);
		if (ev == SYNC_XFER_EV_SENT)
			log_info(
			        "%s %s",
			        a == SYNC_DELIVERED_OK ? "delivered" : "REFUSED by the peer:", hex);
		else
			log_info("received %s%s", hex,
			         a == 0 ? "" : " (REFUSED: failed verification)");
		if ((t = track_get(d, id, ev == SYNC_XFER_EV_SENT)))
			t->used = false;
		break;
	case SYNC_XFER_EV_CONNECTED:
	case SYNC_XFER_EV_DISCONNECTED:
	case SYNC_XFER_EV_REFUSED:
		break;
	}
	(void)b;
}

/* ---- status file ------------------------------------------------------------------------ */

static int write_status(struct daemon *d)
{
	struct sync_xfer_stats st = {0};
	struct sync_tunlink_stats ts = {0};
	json_t *root, *recs;
	char tmp[4200];
	int ret = -ENOMEM;

	if (d->xfer)
		sync_xfer_stats_get(d->xfer, &st);
	if (d->tl) {
		sync_tunlink_stats_get(d->tl, &ts);
		/* Over udp an unknown or revoked key is refused by the tunnel already. */
		st.refused += ts.refused;
	}
	recs = json_array();
	for (int i = 0; recs && i < MAX_TRACK; i++) {
		char hex[SYNC_ENV_ID_HEX_LEN];
		struct track *t = &d->tracks[i];
		if (!t->used)
			continue;
		sync_env_id_hex(t->id, hex);
		json_array_append_new(recs,
		                      json_pack("{s:s, s:s, s:I, s:I}", "id", hex, "direction",
		                                t->out ? "out" : "in", "done", (json_int_t)t->done,
		                                "total", (json_int_t)t->total));
	}
	root = json_pack(
	        "{s:s, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	        "s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
	        "role", sync_role_name(d->role), "pid", (json_int_t)getpid(), "updated_ms",
	        (json_int_t)mtime_wall_ms(), "sessions", (json_int_t)(d->stopping ? 0 : st.peers),
	        "xfer", "bytes_sent", (json_int_t)st.bytes_sent, "bytes_resent",
	        (json_int_t)st.bytes_resent, "chunks_resent", (json_int_t)st.chunks_resent,
	        "bytes_received", (json_int_t)st.bytes_received, "dup_bytes_received",
	        (json_int_t)st.dup_bytes_received, "dup_chunks_received",
	        (json_int_t)st.dup_chunks_received, "records_sent", (json_int_t)st.records_sent,
	        "records_received", (json_int_t)st.records_received, "records_rejected",
	        (json_int_t)st.records_rejected, "connects", (json_int_t)st.connects, "disconnects",
	        (json_int_t)st.disconnects, "refused", (json_int_t)st.refused, "rate_bytes_per_s",
	        (json_int_t)st.rate_bytes_per_s, "records_refused", (json_int_t)st.records_refused,
	        "offers_sent", (json_int_t)st.offers_sent, "offers_received",
	        (json_int_t)st.offers_received, "replays", (json_int_t)st.replays, "records",
	        recs ? recs : json_array());
	if (!root)
		return -ENOMEM;
	json_object_set_new(root, "transport", json_string(d->tl ? "udp" : "tcp"));
	{
		uint64_t bps, left;
		bool on = sync_yield_active(d->yield, mtime_now_ms(), &bps, &left);
		/* cap_bps: what sync is held to (the lower of the lease and rate_cap), bits/s */
		json_object_set_new(
		        root, "yield",
		        json_pack("{s:b, s:I, s:I, s:I}", "active", on, "cap_bps",
		                  (json_int_t)(on ? sync_yield_cap(d->yield, d->site->rate_cap) * 8
		                                  : 0),
		                  "asked_bps", (json_int_t)bps, "lease_left_ms", (json_int_t)left));
	}
	if (d->tl) {
		/* Names distinct from the "xfer" counters (tests grep them by name). */
		json_object_set_new(
		        root, "stream",
		        json_pack(
		                "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		                "s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:I}",
		                "rate_bps", (json_int_t)ts.rate_bps, "btlbw_bps",
		                (json_int_t)ts.btlbw_bps, "rtt_ms", (json_int_t)ts.srtt_ms,
		                "min_rtt_ms", (json_int_t)ts.min_rtt_ms, "stream_bytes_sent",
		                (json_int_t)ts.bytes_sent, "stream_bytes_resent",
		                (json_int_t)ts.bytes_resent, "stream_bytes_received",
		                (json_int_t)ts.bytes_received, "datagrams_sent",
		                (json_int_t)ts.datagrams_sent, "datagrams_lost",
		                (json_int_t)ts.datagrams_lost, "streams", (json_int_t)ts.streams,
		                "streams_opened", (json_int_t)ts.streams_opened,
		                "tunnel_handshakes", (json_int_t)ts.tunnel_handshakes,
		                "drop_unknown_stream", (json_int_t)ts.drop_unknown_stream,
		                "tunnel_refused", (json_int_t)ts.refused, "tunnel_replays",
		                (json_int_t)ts.replays, "tunnel_up", ts.tunnel_up, "udp_datagram",
		                (json_int_t)ts.udp_datagram, "tunnel_drop_oversize",
		                (json_int_t)ts.drop_oversize, "datagrams_received",
		                (json_int_t)ts.datagrams_received, "streams_resumed",
		                (json_int_t)ts.streams_resumed, "streams_resume_refused",
		                (json_int_t)ts.streams_resume_refused));
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", d->status_path);
	if (json_dump_file(root, tmp, JSON_INDENT(1) | JSON_SORT_KEYS) != 0 ||
	    rename(tmp, d->status_path) != 0) {
		ret = -errno;
		unlink(tmp);
	} else {
		ret = 0;
	}
	json_decref(root);
	return ret;
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->tl) { /* the tunnel and its streams change without xfer events too */
		struct sync_tunlink_stats ts;
		uint64_t sum;

		sync_tunlink_stats_get(d->tl, &ts);
		sum = ts.refused + ts.replays + ts.tunnel_handshakes + ts.datagrams_sent +
		      ts.datagrams_received + ts.streams_opened + ts.streams_ended;
		if (sum != d->tl_sum) {
			d->tl_sum = sum;
			d->status_dirty = true;
		}
	}
	if (!d->status_dirty)
		return;
	d->status_dirty = false;
	if (write_status(d) != 0)
		log_warn("cannot write status file %s", d->status_path);
}

/* ---- sync engine from the config -------------------------------------------------------- */

static int xfer_config(struct daemon *d, struct sync_xfer_config *xc, char *addr, size_t addrlen,
                       const char **congestion, const char **status_file, const char **transport,
                       int64_t *udp_port, int64_t *udp_datagram, char *err)
{
	const struct config *c = d->site->cfg;
	uint64_t window, ka, dead, bmin, bmax, chunk;
	int ret;

	memset(xc, 0, sizeof *xc);
	if ((ret = config_get_str(c, "sync", "transport", "udp", transport, err)))
		return ret;
	/* Over udp the window is 2 MiB by default (the sync stream's own buffer, sync/tunlink):
	 * bytes count as unacknowledged until the receiver has made their whole chunk durable,
	 * and a lost datagram holds that back for a retransmission round trip or two. At 512K
	 * (2 s of a 2 Mbit/s link) the window filled during those repairs at 2 % loss and the
	 * link went idle (a stream trace showed xfer writing nothing for 0.65 s). It adds no
	 * queue in front of urgent records there: xfer's bytes enter the stream only while its
	 * unsent backlog is small (UNSENT_LOWAT); the rest of the window is on the wire. */
	if ((ret = config_get_size(c, "sync", "window",
	                           strcmp(*transport, "udp") ? SYNC_XFER_WINDOW_DEFAULT
	                                                     : UDP_WINDOW_DEFAULT,
	                           &window, err)) ||
	    (ret = config_get_size(c, "sync", "xfer_chunk", SYNC_XFER_CHUNK_DEFAULT, &chunk,
	                           err)) ||
	    (ret = config_get_duration_ms(c, "sync", "keepalive", 5000, &ka, err)) ||
	    (ret = config_get_duration_ms(c, "sync", "dead_after", 20000, &dead, err)) ||
	    (ret = config_get_duration_ms(c, "sync", "backoff_min", 500, &bmin, err)) ||
	    (ret = config_get_duration_ms(c, "sync", "backoff_max", 30000, &bmax, err)) ||
	    (ret = config_get_str(c, "sync", "congestion", "bbr", congestion, err)) ||
	    (ret = config_get_str(c, "sync", "status_file", NULL, status_file, err)) ||
	    (ret = config_get_int(c, "sync", "udp_port", 1, 65535, SYNC_SITE_PORT_DEFAULT, udp_port,
	                          err)) ||
	    (ret = config_get_int(c, "sync", "udp_datagram", RELAY_TUNNEL_DGRAM_MIN,
	                          RELAY_TUNNEL_DGRAM_LIMIT, RELAY_TUNNEL_DGRAM_MAX, udp_datagram,
	                          err)))
		return ret;
	if (strcmp(*transport, "udp") && strcmp(*transport, "tcp")) {
		snprintf(err, CONFIG_ERR_MAX, "%s: [sync] transport must be udp or tcp, not '%s'",
		         config_name(c), *transport);
		return CONFIG_EVALUE;
	}
	if (window < 65536 || window > (1u << 30) || chunk < 1024 || chunk > SYNC_FRAME_CHUNK_MAX ||
	    ka < 100 || dead < 2 * ka || bmin < 10 || bmax < bmin || bmax > 3600000) {
		snprintf(err, CONFIG_ERR_MAX,
		         "%s: [sync] window/xfer_chunk/keepalive/dead_after/backoff_* out of range",
		         config_name(c));
		return CONFIG_EVALUE;
	}
	xc->role = d->role == SYNC_ROLE_CLINIC ? SYNC_XFER_CLINIC : SYNC_XFER_HUB;
	xc->self = d->site->keys;
	xc->window = (uint32_t)window;
	xc->chunk = (uint32_t)chunk;
	xc->keepalive_ms = (uint32_t)ka;
	xc->dead_ms = (uint32_t)dead;
	xc->backoff_min_ms = (uint32_t)bmin;
	xc->backoff_max_ms = (uint32_t)bmax;
	xc->rate_bytes_per_s = sync_yield_cap(d->yield, d->site->rate_cap);
	xc->congestion = *congestion;
	if (d->role == SYNC_ROLE_CLINIC) {
		xc->hub = d->site->hub_pub;
		snprintf(addr, addrlen, strchr(d->site->hub_address, ':') ? "[%s]:%u" : "%s:%u",
		         d->site->hub_address, d->site->hub_port);
		xc->connect_addr = addr;
	} else {
		snprintf(addr, addrlen, strchr(d->site->listen_address, ':') ? "[%s]:%u" : "%s:%u",
		         d->site->listen_address, d->site->listen_port);
		xc->listen_addr = addr;
	}
	return 0;
}

/* (Re)builds the engine from d->site when its settings changed (or always if force).
 * *kept says whether the running engine was kept (then it still borrows the keys of the site
 * it was built from). */
/* ---- udp transport (sync/tunlink) ------------------------------------------------------- */

static bool tl_allow(void *arg, const uint8_t key[32])
{
	struct daemon *d = arg;

	/* The same enrolled list xfer checks inside (sync_xfer_store). */
	return d->xs && sync_xfer_store_ops.peer_allowed(d->xs, key) == 0;
}

/* The tunnel's handshake timestamps live in the store next to xfer's (own namespace), so a
 * recorded initiation is refused after a restart too, and re-enrolment resets them. */
static int tl_stamp(void *arg, const uint8_t key[32], uint64_t stamp)
{
	struct daemon *d = arg;

	return d->xs ? sync_xfer_store_tunnel_stamp(d->xs, key, stamp) : -EINVAL;
}

/* Careful resume (relay/stream.h): what the sync stream last measured towards a peer is kept in
 * the store, and the next stream to that peer (after a reconnect, an outage, a restart) starts
 * from it if it is less than PATH_MAX_AGE_MS old: a day covers the next day's sync on the same
 * plan, while the stream's own RTT check and safe retreat catch a link that changed. */
#define PATH_MAX_AGE_MS (24ull * 3600 * 1000)

static bool tl_path_load(void *arg, const uint8_t key[32], struct relay_stream_path *p)
{
	struct daemon *d = arg;
	struct sync_path sp;
	uint64_t now = mtime_wall_ms();
	int ret = sync_store_path_get(d->store, key, &sp);

	if (ret != 0) {
		if (ret != SYNC_ENOTFOUND)
			log_warn("sync: the saved path of a peer is unusable (cold start): %s",
			         sync_strerror(ret));
		return false;
	}
	if (sp.saved_ms > now + 60000 || now - sp.saved_ms > PATH_MAX_AGE_MS) {
		log_debug("sync: saved path too old (%llu s): cold start",
		          (unsigned long long)((now - sp.saved_ms) / 1000));
		return false;
	}
	p->bps = sp.bps;
	p->min_rtt_us = sp.min_rtt_us;
	log_debug("sync: stream may resume at %.0f kbit/s (saved %llu s ago, min RTT %lld ms)",
	          (double)sp.bps / 1000 / 2, (unsigned long long)((now - sp.saved_ms) / 1000),
	          (long long)(sp.min_rtt_us / 1000));
	return true;
}

static void tl_path_save(void *arg, const uint8_t key[32], const struct relay_stream_path *p)
{
	struct daemon *d = arg;
	struct sync_path sp = {
	        .bps = p->bps, .min_rtt_us = p->min_rtt_us, .saved_ms = mtime_wall_ms()};
	int ret = sync_store_path_put(d->store, key, &sp);

	if (ret != 0)
		log_warn("sync: cannot save the stream's path (the next one starts cold): %s",
		         sync_strerror(ret));
	else
		log_debug("sync: path saved: %.0f kbit/s, min RTT %lld ms", (double)p->bps / 1000,
		          (long long)(p->min_rtt_us / 1000));
}

static void tl_accept(void *arg, struct bufferevent *bev)
{
	struct daemon *d = arg;
	int ret;

	if (!d->xfer) {
		bufferevent_flush(bev, EV_WRITE, BEV_FINISHED); /* the stream ends at once */
		bufferevent_free(bev);
		return;
	}
	if ((ret = sync_xfer_accept(d->xfer, bev)) != 0)
		log_warn("sync: stream not accepted: %s", sync_xfer_strerror(ret));
}

static void tl_up(void *arg)
{
	struct daemon *d = arg;

	d->status_dirty = true;
	if (d->xfer)
		sync_xfer_kick(d->xfer); /* connect now, not after the backoff */
}

static int start_tunlink(struct daemon *d, uint16_t port, uint32_t udp_datagram, char *err)
{
	struct sync_tunlink_config tc = {0};
	struct addrinfo hints = {0}, *res = NULL;
	const char *host =
	        d->role == SYNC_ROLE_HUB ? d->site->listen_address : d->site->hub_address;
	char ps[8];
	int ret;

	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = d->role == SYNC_ROLE_HUB ? AI_PASSIVE : 0;
	snprintf(ps, sizeof ps, "%u", port);
	if ((ret = getaddrinfo(host, ps, &hints, &res)) != 0 || !res) {
		snprintf(err, CONFIG_ERR_MAX, "%s: sync udp address %s: %s",
		         config_name(d->site->cfg), host, gai_strerror(ret));
		return SYNC_XFER_EADDR;
	}
	tc.hub = d->role == SYNC_ROLE_HUB;
	tc.self_private = d->site->keys->x25519_sk;
	tc.hub_public = d->site->hub_pub.x25519;
	tc.addr = res->ai_addr;
	tc.addrlen = res->ai_addrlen;
	tc.allow = tl_allow;
	tc.stamp = tl_stamp;
	tc.accept = tl_accept;
	tc.on_up = tl_up;
	tc.path_load = tl_path_load;
	tc.path_save = tl_path_save;
	tc.arg = d;
	tc.udp_datagram = udp_datagram;
	ret = sync_tunlink_new(&d->tl, d->base, &tc);
	freeaddrinfo(res);
	if (ret != 0)
		snprintf(err, CONFIG_ERR_MAX, "%s: sync udp tunnel on %s:%u: %s",
		         config_name(d->site->cfg), host, port, sync_tunlink_strerror(ret));
	return ret;
}

static int start_xfer(struct daemon *d, bool force, bool *kept, char *err)
{
	struct sync_xfer_config xc;
	struct sync_xfer_transport tp;
	char addr[600], key[1024], hubkey[KEYS_PUB_B64_LEN] = "";
	const char *cong = NULL, *status_file = NULL, *transport = NULL;
	int64_t udp_port = 0, udp_datagram = 0;
	bool udp;
	int ret;

	if ((ret = xfer_config(d, &xc, addr, sizeof addr, &cong, &status_file, &transport,
	                       &udp_port, &udp_datagram, err)) != 0)
		return ret;
	udp = !strcmp(transport, "udp");
	if (status_file)
		snprintf(d->status_path, sizeof d->status_path, "%s", status_file);
	else
		snprintf(d->status_path, sizeof d->status_path, "%s/status.json",
		         d->site->store_dir);
	if (d->role == SYNC_ROLE_CLINIC)
		keys_pub_encode(&d->site->hub_pub, hubkey);
	snprintf(key, sizeof key, "%s|%s|%s|%u|%u|%u|%u|%u|%u|%s|%s|%lld|%lld", addr, hubkey, cong,
	         xc.window, xc.chunk, xc.keepalive_ms, xc.dead_ms, xc.backoff_min_ms,
	         xc.backoff_max_ms, d->site->key_path, transport, (long long)udp_port,
	         (long long)udp_datagram);
	*kept = false;
	if (d->xfer && !force && !strcmp(key, d->net_key)) {
		*kept = true;
		if ((ret = sync_xfer_set_rate(d->xfer,
		                              sync_yield_cap(d->yield, d->site->rate_cap))) != 0)
			return ret;
		if (d->tl)
			sync_tunlink_recheck_peers(d->tl);
		sync_xfer_recheck_peers(d->xfer);
		sync_xfer_kick(d->xfer);
		return 0;
	}
	sync_xfer_free(d->xfer);
	d->xfer = NULL;
	sync_tunlink_free(d->tl);
	d->tl = NULL;
	sync_xfer_store_free(d->xs);
	d->xs = NULL;
	ret = sync_xfer_store_new(&d->xs, d->store, d->site->keys, xc.role,
	                          d->role == SYNC_ROLE_CLINIC ? &d->site->hub_pub : NULL);
	if (ret != 0)
		return ret;
	sync_xfer_store_on_event(d->xs, on_event, d);
	if (udp) {
		if ((ret = start_tunlink(d, (uint16_t)udp_port, (uint32_t)udp_datagram, err)) != 0)
			return ret;
		sync_tunlink_transport(d->tl, &tp);
		xc.transport = &tp;
		/* The hub takes its connections from the tunnel only. */
		if (d->role == SYNC_ROLE_HUB)
			xc.listen_addr = NULL;
	}
	ret = sync_xfer_new(&d->xfer, d->base, &xc, &sync_xfer_store_ops, d->xs);
	if (ret != 0) {
		snprintf(err, CONFIG_ERR_MAX, "%s: sync engine: %s", config_name(d->site->cfg),
		         sync_xfer_strerror(ret));
		return ret;
	}
	snprintf(d->net_key, sizeof d->net_key, "%s", key);
	if (udp && d->role == SYNC_ROLE_HUB)
		log_info("hub listening on %s (udp port %u, sync inside the tunnel, window %u KiB)",
		         d->site->listen_address, sync_tunlink_port(d->tl), xc.window / 1024);
	else if (udp)
		log_info("clinic syncing with hub %s (udp port %u, %s, window %u KiB)",
		         d->site->hub_address, (unsigned)udp_port, "sync inside the tunnel",
		         xc.window / 1024);
	else if (d->role == SYNC_ROLE_HUB)
		log_info("hub listening on %s (port %u, window %u KiB)", addr,
		         sync_xfer_listen_port(d->xfer), xc.window / 1024);
	else
		log_info("clinic syncing with hub %s (window %u KiB)", addr, xc.window / 1024);
	return 0;
}

/* ---- yielding to a consultation (sync/yield.h) ------------------------------------------ */

static void yield_apply(struct daemon *d, enum sync_yield_change ch)
{
	uint64_t cap = sync_yield_cap(d->yield, d->site->rate_cap);
	int ret;

	if (ch == SYNC_YIELD_SAME)
		return;
	d->status_dirty = true;
	if (d->xfer && (ret = sync_xfer_set_rate(d->xfer, cap)) != 0)
		log_warn("sync: cannot set the rate cap: %s", sync_xfer_strerror(ret));
	if (ch == SYNC_YIELD_START)
		log_info("sync yielding to a consultation: capped at %.1f kbit/s",
		         (double)cap * 8 / 1000);
	else if (ch == SYNC_YIELD_UPDATE)
		log_debug("sync yielding to a consultation: capped at %.1f kbit/s",
		          (double)cap * 8 / 1000);
	else
		log_info("sync yield ended (%s): rate cap back to %llu B/s (0: none)",
		         ch == SYNC_YIELD_RELEASED ? "consultation over" : "lease expired",
		         (unsigned long long)cap);
}

static void yield_msg(struct daemon *d, const char *msg)
{
	uint64_t bps;
	uint32_t lease;
	struct timeval tv;

	if (sync_yield_parse(msg, &bps, &lease) != 0) {
		log_warn("control socket: bad message '%s' (want yield BITS_PER_S LEASE_MS | yield "
		         "end)",
		         msg);
		return;
	}
	yield_apply(d, sync_yield_apply(d->yield, mtime_now_ms(), bps, lease));
	if (bps) { /* (re)armed at every renewal: fires only once the lease ran out */
		tv.tv_sec = lease / 1000;
		tv.tv_usec = (suseconds_t)(lease % 1000) * 1000;
		evtimer_add(d->yield_ev, &tv);
	} else {
		evtimer_del(d->yield_ev);
	}
}

static void yield_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	uint64_t left = 0;

	(void)fd;
	(void)what;
	yield_apply(d, sync_yield_tick(d->yield, mtime_now_ms()));
	if (sync_yield_active(d->yield, mtime_now_ms(), NULL, &left)) { /* a timer ran early */
		struct timeval tv = {(time_t)(left / 1000),
		                     (suseconds_t)(left % 1000) * 1000 + 1000};
		evtimer_add(d->yield_ev, &tv);
	}
}

/* ---- control socket, signals, timers ---------------------------------------------------- */

static void notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char msg[SYNC_NOTIFY_MSG_MAX + 1];
	bool kick = false, peers = false;
	int n;

	(void)what;
	while ((n = sync_notify_recv(fd, msg, sizeof msg)) != -EAGAIN) {
		if (n < 0) {
			if (n == -EBADMSG)
				continue;
			log_warn("control socket: %s", strerror(-n));
			break;
		}
		if (!strncmp(msg, "case ", 5) || !strncmp(msg, "reply ", 6)) {
			log_debug("control: %s", msg);
			kick = true;
		} else if (!strcmp(msg, "peers"))
			peers = true;
		else if (!strncmp(msg, "rate ", 5)) {
			char *end;
			unsigned long long r = strtoull(msg + 5, &end, 10);
			if (*end == '\0' && d->xfer && sync_xfer_set_rate(d->xfer, r) == 0) {
				log_info("sync rate cap now %llu bytes/s", r);
				d->status_dirty = true;
			}
		} else if (!strncmp(msg, "yield ", 6)) {
			yield_msg(d, msg);
		}
	}
	if (peers && d->tl)
		sync_tunlink_recheck_peers(d->tl);
	if (peers && d->xfer)
		sync_xfer_recheck_peers(d->xfer);
	if (kick && d->xfer)
		sync_xfer_kick(d->xfer);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(d->base, NULL);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct sync_site *site = NULL, *old = d->site;
	char err[SYNC_SITE_ERR_MAX];
	bool kept = false;
	int ret;

	(void)sig;
	(void)what;
	ret = sync_site_load(&site, d->config_path, 0, err);
	if (ret != 0) {
		log_error("reload refused, keeping the running config: %s", err);
		return;
	}
	if (site->role != d->role || strcmp(site->store_dir, d->site->store_dir)) {
		log_error("reload refused: role and store cannot change while running");
		sync_site_free(site);
		return;
	}
	d->site = site;
	ret = start_xfer(d, false, &kept, err);
	if (kept) {
		/* The running engine borrows the old site's keys: hand them over. */
		struct keys *k = site->keys;
		site->keys = old->keys;
		old->keys = k;
	}
	if (ret != 0) {
		log_error("reload: %s", err);
		if (!kept) { /* back to the old settings */
			d->site = old;
			sync_site_free(site);
			if (start_xfer(d, true, &kept, err) != 0)
				log_error("restoring the previous sync settings failed: %s", err);
			return;
		}
	}
	sync_site_free(old);
	d->status_dirty = true;
	log_info("configuration reloaded (%s); allow-list re-checked",
	         kept ? "sync engine kept" : "sync engine rebuilt");
}

static void purge_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	size_t n = 0;
	int ret;

	(void)fd;
	(void)what;
	ret = sync_store_purge(d->store, mtime_wall_ms(), d->site->retention_ms, &n);
	if (ret != 0)
		log_warn("retention purge: %s", sync_strerror(ret));
	else if (n)
		log_info("retention purge: %zu delivered records removed", n);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"role", required_argument, NULL, 'r'},
	        {"config", required_argument, NULL, 'c'},
	        {"log-level", required_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct daemon d;
	const char *role = NULL;
	enum log_level lvl = LOG_LVL_INFO;
	char err[SYNC_SITE_ERR_MAX];
	struct timeval one_s = {1, 0}, hour = {3600, 0};
	int opt, ret, status = 1;
	bool kept;

	memset(&d, 0, sizeof d);
	d.notify_fd = -1;
	d.config_path =
	        getenv("PIROGUE_CONFIG") ? getenv("PIROGUE_CONFIG") : "/etc/pirogue/pirogue.conf";
	while ((opt = getopt_long(argc, argv, "r:c:l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			role = optarg;
			break;
		case 'c':
			d.config_path = optarg;
			break;
		case 'l':
			if (log_level_parse(optarg, &lvl) != 0) {
				fprintf(stderr, "pirogued: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !role || (strcmp(role, "clinic") && strcmp(role, "hub"))) {
		usage(stderr);
		return 2;
	}
	d.role = strcmp(role, "clinic") ? SYNC_ROLE_HUB : SYNC_ROLE_CLINIC;
	log_init("pirogued", lvl);
	if (sodium_init() < 0) {
		log_error("libsodium failed to initialise");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((ret = sync_site_load(&d.site, d.config_path, 0, err)) != 0) {
		log_error("%s", err);
		return 1;
	}
	if (d.site->role != d.role) {
		log_error("%s: [site] role is %s but --role %s was given", d.config_path,
		          sync_role_name(d.site->role), role);
		goto out;
	}
	if ((ret = sync_site_open_store(d.site, &d.store)) != 0) {
		log_error("cannot open store %s: %s", d.site->store_dir, sync_strerror(ret));
		goto out;
	}
	if (!(d.base = event_base_new())) {
		log_error("event_base_new failed");
		goto out;
	}
	if ((ret = sync_notify_listen(d.site->store_dir, &d.notify_fd)) != 0) {
		log_error("control socket in %s: %s", d.site->store_dir, strerror(-ret));
		goto out;
	}
	d.notify_ev = event_new(d.base, d.notify_fd, EV_READ | EV_PERSIST, notify_cb, &d);
	d.sigterm = evsignal_new(d.base, SIGTERM, stop_cb, &d);
	d.sigint = evsignal_new(d.base, SIGINT, stop_cb, &d);
	d.sighup = evsignal_new(d.base, SIGHUP, hup_cb, &d);
	d.status_ev = event_new(d.base, -1, EV_PERSIST, status_cb, &d);
	d.purge_ev = event_new(d.base, -1, EV_PERSIST, purge_cb, &d);
	d.yield_ev = evtimer_new(d.base, yield_cb, &d);
	if (sync_yield_new(&d.yield) != 0 || !d.yield_ev || !d.notify_ev || !d.sigterm ||
	    !d.sigint || !d.sighup || !d.status_ev || !d.purge_ev || event_add(d.notify_ev, NULL) ||
	    event_add(d.sigterm, NULL) || event_add(d.sigint, NULL) || event_add(d.sighup, NULL) ||
	    event_add(d.status_ev, &one_s) || event_add(d.purge_ev, &hour)) {
		log_error("cannot set up events");
		goto out;
	}
	if ((ret = start_xfer(&d, true, &kept, err)) != 0) {
		log_error("%s", err);
		goto out;
	}
	d.started_ms = mtime_now_ms();
	purge_cb(-1, 0, &d);
	/* Replace the last run's status file at once: until the first tick it would show that
	 * run's sessions (a script waiting for "sessions": 1 after a restart saw the old one). */
	d.status_dirty = true;
	status_cb(-1, 0, &d);
	log_info("pirogued %s started (store %s)", role, d.site->store_dir);
	event_base_dispatch(d.base);
	d.stopping = true;
	d.status_dirty = true;
	status_cb(-1, 0, &d);
	log_info("pirogued stopped");
	status = 0;
out:
	sync_xfer_free(d.xfer);
	sync_tunlink_free(d.tl);
	sync_xfer_store_free(d.xs);
	if (d.notify_ev)
		event_free(d.notify_ev);
	if (d.sigterm)
		event_free(d.sigterm);
	if (d.sigint)
		event_free(d.sigint);
	if (d.sighup)
		event_free(d.sighup);
	if (d.status_ev)
		event_free(d.status_ev);
	if (d.purge_ev)
		event_free(d.purge_ev);
	if (d.yield_ev)
		event_free(d.yield_ev);
	sync_yield_free(d.yield);
	if (d.notify_fd >= 0 && d.site)
		sync_notify_close(d.notify_fd, d.site->store_dir);
	if (d.base) {
		/* Freed bufferevent-pair ends (sync over udp) with deferred callbacks still pending
		 * are released by one more pass of the loop. */
		event_base_loop(d.base, EVLOOP_NONBLOCK);
		event_base_free(d.base);
	}
	sync_store_close(d.store);
	sync_site_free(d.site);
	return status;
}
