/* tools/pirogue/cmd_consult.c — `pirogue consult`: a file-driven two-way live consultation.
 *
 * The clinic requests the consultation by opening the encrypted UDP tunnel (relay/tunnel, Noise
 * IK with the site keys) to its hub; the hub (`--listen`) accepts clinics on its enrolled
 * allow-list (the site store). As soon as the tunnel is up both ends run a relay/media session:
 * they send their files as if captured live and record what they receive.
 *
 * For now the command runs its own tunnel in-process on its own UDP port ([consult] port,
 * default 7444), beside pirogued's sync flow; moving the media session into pirogued, on the
 * daemon's one UDP flow per clinic-hub pair, is left for later.
 *
 * The sync transfer yields to the consultation: every YIELD_PERIOD_MS while media flows, the
 * command tells its own site's pirogued (the control socket in the store dir, sync/notify.h)
 * how much of the link sync may use, as a lease: "yield BITS_PER_S YIELD_LEASE_MS" with
 * BITS_PER_S = sync_yield_allowance (sync/yield.h): about the media controller's target
 * (relay/cc: what it estimates this session can send on the link) minus what the media sent
 * over the last period, with a floor. The first message, before any media rate is measured,
 * asks for the floor. "yield end" when the session ends; a consult that dies stops renewing and
 * pirogued lifts the cap itself YIELD_LEASE_MS later. --no-yield turns this off (for
 * comparisons). No pirogued running is fine.
 *
 * Config keys read here besides [site]/[hub]/[listen] (sync/site.h):
 *   [consult] port = 7444        UDP port the hub listens on for consultations (both ends)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/mtime.h"
#include "relay/media.h"
#include "relay/tunnel.h"
#include "sync/site.h"
#include "sync/notify.h"
#include "sync/store.h"
#include "sync/yield.h"
#include "tools/pirogue/cmd.h"

#define CONSULT_PORT_DEFAULT 7444
#define YIELD_PERIOD_MS      500
#define YIELD_LEASE_MS       2500 /* five periods: a stalled loop does not lift the cap */

static void consult_usage(FILE *f)
{
	fprintf(f,
	        "usage: pirogue consult [--config FILE] [--listen] --video IN.y4m --audio IN.wav\n"
	        "                       --record DIR [--duration S] [--fixed-bitrate KBPS]\n"
	        "                       [--report] [--json FILE] [--peer-video REF.y4m]\n"
	        "                       [--link-kbps K] [--wait S] [--display WxH] [--no-yield]\n"
	        "       pirogue consult --print-report A.json [B.json]\n"
	        "  Runs a two-way live consultation from files: the clinic requests it (opens the\n"
	        "  tunnel to its hub), the hub accepts it (--listen, enrolled clinics only). Both\n"
	        "  send their files as if captured live and record what they receive into DIR\n"
	        "  (received.wav, received.ivf, received.y4m, frames.csv). The files loop: a\n"
	        "  video of up to 64 MiB plays back and forth (no scene cut at the loop, as a\n"
	        "  camera), a longer one and the sound from the start again.\n"
	        "  --duration S        seconds of media once the tunnel is up (default 20)\n"
	        "  --fixed-bitrate K   no adaptation, no FEC/redundancy: the codecs at the ladder\n"
	        "                      rung that fits K kbit/s (the baseline)\n"
	        "  --report            print the quality report; also written to DIR/report.json\n"
	        "  --json FILE         write the report (JSON) to FILE\n"
	        "  --peer-video REF    the Y4M the peer sends, to measure PSNR as viewed\n"
	        "  --link-kbps K       uplink capacity, for the utilisation figure\n"
	        "  --wait S            give up if the peer has not come within S s (default 60)\n"
	        "  --display WxH       size of the recorded Y4M (default 320x180)\n"
	        "  --no-yield          do not ask this site's pirogued to cap the sync transfer\n"
	        "                      while media flows (it does by default, see README)\n"
	        "  --print-report      print saved report(s) side by side (adaptive, baseline)\n"
	        "  config: [consult] port (UDP, default %d), [site], [hub] / [listen]\n",
	        CONSULT_PORT_DEFAULT);
}

struct consult {
	struct event_base *base;
	struct relay_tunnel *tun;
	struct relay_media *media;
	struct sync_store *store;
	struct event *end_ev, *wait_ev, *sig_int, *sig_term, *yield_ev;
	uint32_t peer_id;
	bool peer_known, started, failed;
	double duration;
	const char *store_dir;         /* whose pirogued is told to yield (NULL: --no-yield) */
	uint64_t yield_wire, yield_us; /* media wire bytes and time at the last message */
	struct sync_yield_ask yield_ask;
	bool yield_warned;
};

static void yield_send(struct consult *c, const char *msg)
{
	int rc = sync_notify_send(c->store_dir, msg);

	log_debug("consult: to pirogued: %s (%d)", msg, rc);
	if (rc < 0 && !c->yield_warned) {
		log_warn("consult: cannot tell pirogued to yield (%s): %s", c->store_dir,
		         strerror(-rc));
		c->yield_warned = true;
	}
}

/* Every YIELD_PERIOD_MS while media flows: renews the lease (see the top comment). */
static void yield_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consult *c = arg;
	struct relay_media_stats st;
	uint64_t now = mtime_now_us(), sent = UINT64_MAX;
	char msg[SYNC_NOTIFY_MSG_MAX + 1];

	(void)fd;
	(void)what;
	relay_media_stats(c->media, &st);
	if (c->yield_us && now > c->yield_us)
		sent = (st.tx_wire_bytes - c->yield_wire) * 8 * 1000000 / (now - c->yield_us);
	c->yield_wire = st.tx_wire_bytes;
	c->yield_us = now;
	snprintf(msg, sizeof msg, "yield %llu %u",
	         (unsigned long long)sync_yield_allowance(&c->yield_ask, st.target_bps, sent),
	         YIELD_LEASE_MS);
	yield_send(c, msg);
}

static bool allow_cb(const uint8_t key[NOISE_KEY_LEN], void *arg)
{
	struct consult *c = arg;

	return sync_store_peer_check(c->store, key, NULL) == 0;
}

static void recv_cb(uint32_t peer_id, const uint8_t key[NOISE_KEY_LEN], const uint8_t *data,
                    size_t len, void *arg)
{
	struct consult *c = arg;

	(void)key;
	if (c->peer_known && peer_id == c->peer_id && c->media)
		relay_media_input_at(c->media, data, len, (int64_t)relay_tunnel_rx_us(c->tun));
}

/* Why no session came up, from the tunnel's counters: whether our handshakes went out, what
 * came back, and what was dropped (a key the hub does not know, replayed or malformed
 * handshakes, a peer under load asking for cookies). */
static void no_peer_report(struct consult *c, const char *what)
{
	struct relay_tunnel_stats st;

	relay_tunnel_stats(c->tun, &st);
	fprintf(stderr,
	        "pirogue consult: %s (tunnel: %llu handshakes sent, %llu answered, %llu "
	        "completed, %llu given up; %llu cookies received, %llu sent; dropped: %llu "
	        "malformed, %llu bad mac, %llu refused handshakes, %llu unknown key, %llu stale, "
	        "%llu unknown index, %llu rate-limited; %llu send errors)\n",
	        what, (unsigned long long)st.handshakes_initiated,
	        (unsigned long long)st.handshakes_answered,
	        (unsigned long long)st.handshakes_completed,
	        (unsigned long long)st.handshakes_given_up, (unsigned long long)st.cookies_received,
	        (unsigned long long)st.cookies_sent, (unsigned long long)st.drop_malformed,
	        (unsigned long long)st.drop_bad_mac, (unsigned long long)st.drop_handshake,
	        (unsigned long long)st.drop_unknown_peer,
	        (unsigned long long)st.drop_stale_initiation,
	        (unsigned long long)st.drop_unknown_index, (unsigned long long)st.drop_rate_limited,
	        (unsigned long long)st.send_errors);
}

static void end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consult *c = arg;

	(void)fd;
	(void)what;
	if (!c->started && c->tun)
		no_peer_report(c, "stopped before the peer came");
	event_base_loopbreak(c->base);
}

static void wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct consult *c = arg;

	(void)fd;
	(void)what;
	if (!c->started) {
		no_peer_report(c, "the peer did not come");
		c->failed = true;
		event_base_loopbreak(c->base);
	}
}

static void state_cb(uint32_t peer_id, const uint8_t key[NOISE_KEY_LEN], bool up, void *arg)
{
	struct consult *c = arg;
	struct timeval tv;
	int rc;

	(void)key;
	log_info("consult: peer %u %s", peer_id, up ? "up" : "down");
	if (!up || c->started)
		return;
	c->peer_id = peer_id;
	c->peer_known = true;
	c->started = true;
	rc = relay_media_start(c->media);
	if (rc) {
		fprintf(stderr, "pirogue consult: %s\n", relay_media_strerror(rc));
		c->failed = true;
		event_base_loopbreak(c->base);
		return;
	}
	if (c->store_dir) {
		tv.tv_sec = 0;
		tv.tv_usec = YIELD_PERIOD_MS * 1000;
		yield_cb(-1, 0, c);
		event_add(c->yield_ev, &tv);
	}
	tv.tv_sec = (time_t)c->duration;
	tv.tv_usec = (suseconds_t)((c->duration - (double)tv.tv_sec) * 1e6);
	evtimer_add(c->end_ev, &tv);
}

static int media_send(const uint8_t *data, size_t len, void *arg)
{
	struct consult *c = arg;

	if (!c->peer_known)
		return -ENOTCONN;
	return relay_tunnel_send(c->tun, c->peer_id, data, len);
}

static int resolve(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {0}, *ai;
	char ps[8];
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(ps, sizeof ps, "%u", port);
	rc = getaddrinfo(host, ps, &hints, &ai);
	if (rc)
		return -EHOSTUNREACH;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int print_reports(const char *a, const char *b)
{
	json_error_t ea, eb;
	json_t *ja = json_load_file(a, 0, &ea), *jb = b ? json_load_file(b, 0, &eb) : NULL;

	if (!ja || (b && !jb)) {
		/* the first file's error if it failed (the second load would overwrite it) */
		const json_error_t *e = !ja ? &ea : &eb;

		if (e->line > 0)
			fprintf(stderr, "pirogue consult: %s: line %d: %s\n", !ja ? a : b, e->line,
			        e->text);
		else
			fprintf(stderr, "pirogue consult: %s\n", e->text);
		json_decref(ja);
		json_decref(jb);
		return CMD_FAIL;
	}
	relay_media_report_print(ja, jb, stdout);
	json_decref(ja);
	json_decref(jb);
	return CMD_OK;
}

int cmd_consult(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"listen", no_argument, NULL, 'l'},
	        {"video", required_argument, NULL, 'v'},
	        {"audio", required_argument, NULL, 'a'},
	        {"record", required_argument, NULL, 'r'},
	        {"duration", required_argument, NULL, 'd'},
	        {"fixed-bitrate", required_argument, NULL, 'f'},
	        {"report", no_argument, NULL, 'R'},
	        {"json", required_argument, NULL, 'j'},
	        {"peer-video", required_argument, NULL, 'p'},
	        {"link-kbps", required_argument, NULL, 'k'},
	        {"wait", required_argument, NULL, 'w'},
	        {"display", required_argument, NULL, 'D'},
	        {"print-report", no_argument, NULL, 'P'},
	        {"no-yield", no_argument, NULL, 'Y'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	const char *cfg_opt = NULL, *video = NULL, *audio = NULL, *record = NULL, *json_out = NULL,
	           *peer_video = NULL;
	bool listen = false, report = false, print = false, yield = true;
	double duration = 20, wait = 60, fixed = 0, link = 0;
	int dw = 0, dh = 0, ch, ret = CMD_FAIL, rc;
	char err[SYNC_SITE_ERR_MAX], path[4200], *end;
	struct sync_site *site = NULL;
	struct consult c = {0};
	struct relay_tunnel_config tc = {0};
	struct relay_media_config mc = {0};
	struct sockaddr_storage bind_ss, peer_ss;
	socklen_t bind_len, peer_len;
	int64_t port;
	json_t *rep = NULL;
	struct timeval tv;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:lv:a:r:d:f:Rj:p:k:w:D:Ph", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg_opt = optarg;
			break;
		case 'l':
			listen = true;
			break;
		case 'v':
			video = optarg;
			break;
		case 'a':
			audio = optarg;
			break;
		case 'r':
			record = optarg;
			break;
		case 'd':
		case 'f':
		case 'k':
		case 'w': {
			double v = strtod(optarg, &end);

			if (end == optarg || *end || !(v >= 0) || v > 1e6) {
				fprintf(stderr, "pirogue consult: bad number '%s'\n", optarg);
				return CMD_USAGE;
			}
			*(ch == 'd'   ? &duration
			  : ch == 'f' ? &fixed
			  : ch == 'k' ? &link
			              : &wait) = v;
			break;
		}
		case 'R':
			report = true;
			break;
		case 'j':
			json_out = optarg;
			break;
		case 'p':
			peer_video = optarg;
			break;
		case 'D':
			if (sscanf(optarg, "%dx%d", &dw, &dh) != 2 || dw < 16 || dh < 16 ||
			    dw > 4096 || dh > 4096) {
				fprintf(stderr, "pirogue consult: bad size '%s' (WxH)\n", optarg);
				return CMD_USAGE;
			}
			break;
		case 'P':
			print = true;
			break;
		case 'Y':
			yield = false;
			break;
		case 'h':
			consult_usage(stdout);
			return CMD_OK;
		default:
			consult_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (print) {
		if (optind == argc || argc - optind > 2) {
			consult_usage(stderr);
			return CMD_USAGE;
		}
		return print_reports(argv[optind], optind + 1 < argc ? argv[optind + 1] : NULL);
	}
	if (optind != argc || !record || (!video && !audio) || duration <= 0 || wait <= 0) {
		consult_usage(stderr);
		return CMD_USAGE;
	}
	log_init("pirogue consult", getenv("PIROGUE_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (sync_site_load(&site, sync_site_config_path(cfg_opt, CMD_DEFAULT_CONFIG), 0, err)) {
		fprintf(stderr, "pirogue consult: %s\n", err);
		return CMD_FAIL;
	}
	if (listen != (site->role == SYNC_ROLE_HUB)) {
		fprintf(stderr, "pirogue consult: %s\n",
		        listen ? "--listen is for a hub (this site is a clinic)"
		               : "a hub accepts consultations: use --listen");
		goto out;
	}
	if (config_get_int(site->cfg, "consult", "port", 1, 65535, CONSULT_PORT_DEFAULT, &port,
	                   err)) {
		fprintf(stderr, "pirogue consult: %s\n", err);
		goto out;
	}
	c.duration = duration;
	c.base = event_base_new();
	if (!c.base)
		goto out;
	/* media session first: bad input files are reported before anything goes on the wire */
	mc.name = listen ? "hub" : "clinic";
	mc.video_path = video;
	mc.audio_path = audio;
	mc.record_dir = record;
	mc.display_width = dw;
	mc.display_height = dh;
	mc.fixed_bps = (uint32_t)(fixed * 1000);
	mc.ssrc_base = listen ? 0x48554200 : 0x434c4900; /* "HUB" / "CLI" */
	mc.send = media_send;
	mc.send_arg = &c;
	rc = relay_media_new(&c.media, c.base, &mc);
	if (rc) {
		fprintf(stderr, "pirogue consult: %s\n", relay_media_strerror(rc));
		goto out;
	}
	tc.local_private = site->keys->x25519_sk;
	tc.recv = recv_cb;
	tc.state = state_cb;
	tc.arg = &c;
	tc.keepalive_ms = 1000;
	if (listen) {
		if ((rc = sync_site_open_store(site, &c.store)) != 0) {
			fprintf(stderr, "pirogue consult: store %s: %s\n", site->store_dir,
			        sync_strerror(rc));
			goto out;
		}
		tc.role = RELAY_TUNNEL_HUB;
		tc.allow = allow_cb;
		rc = resolve(site->listen_address, (uint16_t)port, &bind_ss, &bind_len);
	} else {
		tc.role = RELAY_TUNNEL_CLINIC;
		tc.peer_public = site->hub_pub.x25519;
		rc = resolve(site->hub_address, (uint16_t)port, &peer_ss, &peer_len);
		if (!rc) {
			memset(&bind_ss, 0, sizeof bind_ss);
			bind_ss.ss_family = peer_ss.ss_family;
			bind_len = peer_ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
			                                         : sizeof(struct sockaddr_in);
			tc.peer_addr = (struct sockaddr *)&peer_ss;
			tc.peer_addrlen = peer_len;
		}
	}
	if (rc) {
		fprintf(stderr, "pirogue consult: cannot resolve %s\n",
		        listen ? site->listen_address : site->hub_address);
		goto out;
	}
	tc.bind_addr = (struct sockaddr *)&bind_ss;
	tc.bind_addrlen = bind_len;
	c.end_ev = evtimer_new(c.base, end_cb, &c);
	c.wait_ev = evtimer_new(c.base, wait_cb, &c);
	c.sig_int = evsignal_new(c.base, SIGINT, end_cb, &c);
	c.sig_term = evsignal_new(c.base, SIGTERM, end_cb, &c);
	c.yield_ev = event_new(c.base, -1, EV_PERSIST, yield_cb, &c);
	if (!c.end_ev || !c.wait_ev || !c.sig_int || !c.sig_term || !c.yield_ev)
		goto out;
	c.store_dir = yield ? site->store_dir : NULL;
	evsignal_add(c.sig_int, NULL);
	evsignal_add(c.sig_term, NULL);
	rc = relay_tunnel_new(&c.tun, c.base, &tc);
	if (rc) {
		fprintf(stderr, "pirogue consult: tunnel: %s\n", relay_tunnel_strerror(rc));
		goto out;
	}
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = 0;
	evtimer_add(c.wait_ev, &tv);
	log_info("consult: %s, waiting for the %s", listen ? "listening" : "calling the hub",
	         listen ? "clinic" : "hub's answer");
	event_base_dispatch(c.base);
	if (c.started && c.store_dir) {
		event_del(c.yield_ev);
		yield_send(&c, "yield end");
	}
	if (!c.started)
		goto out;
	rc = relay_media_stop(c.media);
	if (rc)
		fprintf(stderr, "pirogue consult: recording: %s\n", relay_media_strerror(rc));
	ret = rc || c.failed ? CMD_FAIL : CMD_OK;
	if (report || json_out) {
		rc = relay_media_report(c.media, (uint32_t)(link * 1000), peer_video, &rep);
		if (rc) {
			fprintf(stderr, "pirogue consult: report: %s\n", relay_media_strerror(rc));
			ret = CMD_FAIL;
			goto out;
		}
		if (report) {
			relay_media_report_print(rep, NULL, stdout);
			snprintf(path, sizeof path, "%s/report.json", record);
			if (json_dump_file(rep, path, JSON_INDENT(2)))
				ret = CMD_FAIL;
		}
		if (json_out && json_dump_file(rep, json_out, JSON_INDENT(2))) {
			fprintf(stderr, "pirogue consult: cannot write %s\n", json_out);
			ret = CMD_FAIL;
		}
	}
out:
	json_decref(rep);
	relay_media_free(c.media);
	relay_tunnel_free(c.tun);
	if (c.end_ev)
		event_free(c.end_ev);
	if (c.wait_ev)
		event_free(c.wait_ev);
	if (c.sig_int)
		event_free(c.sig_int);
	if (c.sig_term)
		event_free(c.sig_term);
	if (c.yield_ev)
		event_free(c.yield_ev);
	if (c.base)
		event_base_free(c.base);
	sync_store_close(c.store);
	sync_site_free(site);
	return ret;
}
