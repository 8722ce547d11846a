/* tools/linksim/emu.c — the emulator process (see emu.h).
 *
 * Timing: the event base is created with EVENT_BASE_FLAG_PRECISE_TIMER, so libevent's epoll
 * backend arms a timerfd with nanosecond resolution instead of rounding epoll_wait's timeout to
 * milliseconds. The model runs on virtual time (model.h), so a late wake-up delays a delivery
 * but never changes a rate; the emulator records how late each delivery was written (the
 * late_us_* figures of `linksim stats`) so that the accuracy can be measured rather than assumed.
 * The process asks for SCHED_FIFO (falls back to nice -10) so that other busy processes on a
 * small machine do not add their time slices to the link's delay.
 */
#include "tools/linksim/emu.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mtime.h"

#define READ_BATCH   128
#define LATE_BUCKETS 1000 /* 10 us each, then an overflow bucket */
#define CTL_LINE_MAX 4096
/* Early wake-up: timers are armed this much before the due time (an estimate of the wake-up
 * latency, learnt as a moving average), and the last stretch is spun on the clock. Spinning is
 * bounded per wake-up (SPIN_MAX_NS) and in total (SPIN_BUDGET_NS per SPIN_WINDOW_NS, 5 % of a
 * core) so that a busy link never turns the emulator into a CPU hog on a shared machine. */
#define WAKE_EST_MAX_NS 200000ULL
#define SPIN_MAX_NS     400000ULL
#define SPIN_WINDOW_NS  100000000ULL
#define SPIN_BUDGET_NS  5000000ULL

struct emu;

struct emu_dir {
	struct emu *e;
	const char *name;
	struct linksim_dir *d;
	struct event *timer;
	uint64_t armed; /* due time the timer is armed for (LINKSIM_INF: not armed) */
	int out_fd;     /* TUN the packets of this direction are written to */
	uint64_t write_errors;
	uint64_t late_hist[LATE_BUCKETS + 1];
	uint64_t late_max_ns, late_n;
	uint64_t now;     /* the time of the current run, for lateness */
	uint64_t wake_at; /* when the timer was meant to fire */
};

struct emu {
	struct event_base *base;
	struct linksim_profile *prof;
	struct emu_dir up, down; /* up: clinic -> hub */
	struct event *rd_clinic, *rd_hub;
	struct event *sig_term, *sig_int;
	struct evconnlistener *lis;
	int tun_clinic, tun_hub;
	uint64_t t0, t0_wall_ms;
	uint64_t wake_est;               /* moving average of timer wake-up latency, ns */
	uint64_t spin_window, spin_used; /* spin budget accounting */
	uint64_t spin_total_ns;
	uint8_t buf[LINKSIM_PKT_MAX];
};

static void out_cb(struct linksim_pkt *pkt, void *arg)
{
	struct emu_dir *ed = arg;
	uint64_t late = ed->now > pkt->due_ns ? ed->now - pkt->due_ns : 0;
	size_t b = late / 10000;
	ssize_t n;

	ed->late_hist[b < LATE_BUCKETS ? b : LATE_BUCKETS]++;
	ed->late_n++;
	if (late > ed->late_max_ns)
		ed->late_max_ns = late;
	do
		n = write(ed->out_fd, pkt->data, pkt->len);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)pkt->len)
		ed->write_errors++;
	free(pkt);
}

/* Runs a direction up to now and re-arms its timer at the next due time. */
static void dir_service(struct emu_dir *ed)
{
	uint64_t now = mtime_now_ns(), due;
	struct timeval tv;

	ed->now = now;
	linksim_dir_run(ed->d, now, out_cb, ed);
	due = linksim_dir_next_due(ed->d);
	if (due == LINKSIM_INF) {
		if (ed->armed != LINKSIM_INF)
			evtimer_del(ed->timer);
		ed->armed = LINKSIM_INF;
		return;
	}
	if (due == ed->armed)
		return;
	now = mtime_now_ns();
	ed->wake_at = due > now + ed->e->wake_est ? due - ed->e->wake_est : now;
	if (ed->wake_at > now) {
		uint64_t delta = ed->wake_at - now;
		tv.tv_sec = (time_t)(delta / LINKSIM_NS_PER_S);
		tv.tv_usec = (suseconds_t)((delta % LINKSIM_NS_PER_S) / 1000);
	} else {
		tv.tv_sec = 0;
		tv.tv_usec = 0;
	}
	evtimer_add(ed->timer, &tv);
	ed->armed = due;
}

/* Spins until `due` if it is close and the budget allows; returns the time after. */
static uint64_t spin_until(struct emu *e, uint64_t due, uint64_t now)
{
	uint64_t start = now;

	if (now >= due || due - now > SPIN_MAX_NS)
		return now;
	if (now - e->spin_window > SPIN_WINDOW_NS) {
		e->spin_window = now;
		e->spin_used = 0;
	}
	if (e->spin_used + (due - now) > SPIN_BUDGET_NS)
		return now;
	while (now < due)
		now = mtime_now_ns();
	e->spin_used += now - start;
	e->spin_total_ns += now - start;
	return now;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct emu_dir *ed = arg;
	struct emu *e = ed->e;
	uint64_t now = mtime_now_ns(), lat = now > ed->wake_at ? now - ed->wake_at : 0;

	/* learn the wake-up latency (EWMA, 1/16), bounded */
	if (lat > WAKE_EST_MAX_NS)
		lat = WAKE_EST_MAX_NS;
	e->wake_est = e->wake_est - e->wake_est / 16 + lat / 16;
	(void)spin_until(e, ed->armed, now);
	ed->armed = LINKSIM_INF;
	dir_service(ed);
}

static void read_tun(struct emu *e, int fd, struct emu_dir *ed)
{
	int i;

	for (i = 0; i < READ_BATCH; i++) {
		struct linksim_pkt *pkt;
		ssize_t n = read(fd, e->buf, sizeof e->buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pkt = linksim_pkt_new((size_t)n);
		if (!pkt)
			break; /* the kernel keeps what we do not read */
		memcpy(pkt->data, e->buf, (size_t)n);
		linksim_dir_input(ed->d, pkt, mtime_now_ns());
	}
	dir_service(ed);
}

static void rd_clinic_cb(evutil_socket_t fd, short what, void *arg)
{
	struct emu *e = arg;
	read_tun(e, fd, &e->up);
}

static void rd_hub_cb(evutil_socket_t fd, short what, void *arg)
{
	struct emu *e = arg;
	read_tun(e, fd, &e->down);
}

static void sig_cb(evutil_socket_t sig, short what, void *arg)
{
	struct emu *e = arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(e->base);
}

/* ---- stats ---- */

static double late_pct(const struct emu_dir *ed, double q)
{
	uint64_t target = (uint64_t)((double)ed->late_n * q), acc = 0;
	size_t i;

	if (ed->late_n == 0)
		return 0;
	for (i = 0; i <= LATE_BUCKETS; i++) {
		acc += ed->late_hist[i];
		if (acc > target)
			return (double)(i + 1) * 10.0; /* upper edge of the bucket, us */
	}
	return (double)ed->late_max_ns / 1000.0;
}

static json_t *sched_json(const struct linksim_sched *s)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < s->n; i++)
		json_array_append_new(a, json_pack("{s:f,s:f}", "start_s",
		                                   (double)s->start_ns[i] / 1e9, "duration_s",
		                                   (double)s->len_ns[i] / 1e9));
	return json_pack("{s:o,s:f}", "intervals", a, "period_s", (double)s->period_ns / 1e9);
}

static json_t *dir_json(const struct emu_dir *ed, uint64_t now)
{
	const struct linksim_params *p = linksim_dir_params(ed->d);
	struct linksim_stats s;
	json_t *params, *o;

	linksim_dir_stats(ed->d, &s);
	params = json_pack("{s:I,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:o,s:o,s:I,s:f,s:f,s:I,s:f}",
	                   "rate_bps", (json_int_t)p->rate_bps, "trace", p->trace_path, "delay_ms",
	                   (double)p->delay_ns / 1e6, "jitter_ms", (double)p->jitter_ns / 1e6,
	                   "loss", p->loss, "burst", p->burst, "queue_ms",
	                   (double)p->queue_ns / 1e6, "reorder", p->reorder, "reorder_delay_ms",
	                   (double)p->reorder_delay_ns / 1e6, "jitter_interval_ms",
	                   (double)p->jitter_interval_ns / 1e6, "outage", sched_json(&p->outage),
	                   "fade", sched_json(&p->fade), "fade_rate_bps",
	                   (json_int_t)p->fade_rate_bps, "fade_loss", p->fade_loss, "fade_burst",
	                   p->fade_burst, "police_rate_bps", (json_int_t)p->police_rate_bps,
	                   "police_burst_ms", (double)p->police_burst_ns / 1e6);
	o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b,s:b,s:I,s:f,s:f,"
	              "s:f,s:o}",
	              "in_packets", (json_int_t)s.in_pkts, "in_bytes", (json_int_t)s.in_bytes,
	              "delivered_packets", (json_int_t)s.out_pkts, "delivered_bytes",
	              (json_int_t)s.out_bytes, "dropped_loss", (json_int_t)s.drop_loss,
	              "dropped_queue", (json_int_t)s.drop_queue, "dropped_outage",
	              (json_int_t)s.drop_outage, "dropped_police", (json_int_t)s.drop_police,
	              "dropped_error", (json_int_t)(s.drop_error + ed->write_errors),
	              "queue_packets", (json_int_t)s.queue_pkts, "queue_bytes",
	              (json_int_t)s.queue_bytes, "in_flight_packets", (json_int_t)s.delay_pkts,
	              "write_errors", (json_int_t)ed->write_errors, "in_outage",
	              linksim_dir_in_outage(ed->d, now), "in_fade", linksim_dir_in_fade(ed->d, now),
	              "rate_bps_now", (json_int_t)linksim_dir_rate_at(ed->d, now), "late_us_p50",
	              late_pct(ed, 0.5), "late_us_p99", late_pct(ed, 0.99), "late_us_max",
	              (double)ed->late_max_ns / 1000.0, "params", params);
	return o;
}

static char *stats_json(struct emu *e)
{
	uint64_t now = mtime_now_ns();
	json_t *o = json_pack("{s:i,s:s,s:I,s:I,s:f,s:f,s:o,s:o}", "pid", (int)getpid(), "profile",
	                      e->prof->path, "elapsed_ms", (json_int_t)((now - e->t0) / 1000000),
	                      "started_wall_ms", (json_int_t)e->t0_wall_ms, "wake_latency_us",
	                      (double)e->wake_est / 1e3, "spin_ms", (double)e->spin_total_ns / 1e6,
	                      "up", dir_json(&e->up, now), "down", dir_json(&e->down, now));
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return s;
}

/* ---- runtime changes ---- */

static int emu_set(struct emu *e, const char *assignment, char *err)
{
	struct linksim_params np[2];
	struct emu_dir *eds[2] = {&e->up, &e->down};
	char key[64], value[1024], msg[LINKSIM_ERR_MAX];
	int dirs, ret = 0, i, ncopied = 0;

	if ((ret = linksim_assignment_split(assignment, &dirs, key, sizeof key, value, sizeof value,
	                                    err)) != 0)
		return ret;
	/* validate both directions before changing either */
	for (i = 0; i < 2; i++) {
		if ((ret = linksim_params_copy(&np[i], linksim_dir_params(eds[i]->d))) != 0)
			goto out;
		ncopied++;
		if ((dirs & (1 << i)) &&
		    (ret = linksim_params_set(&np[i], key, value, e->prof->base_dir, msg)) != 0) {
			linksim_errf(err, "%s: %s", key, msg);
			goto out;
		}
	}
	for (i = 0; i < 2; i++) {
		if (!(dirs & (1 << i)))
			continue;
		if ((ret = linksim_dir_set_params(eds[i]->d, &np[i])) != 0) {
			linksim_errf(err, "%s: %s", key, linksim_strerror(ret));
			goto out;
		}
		eds[i]->armed = LINKSIM_INF - 1; /* force a re-arm */
		dir_service(eds[i]);
	}
	log_info("set %s", assignment);
out:
	for (i = 0; i < ncopied; i++)
		linksim_params_release(&np[i]);
	return ret;
}

/* ---- control socket ---- */

static void ctl_write_cb(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_free(bev);
}

static void ctl_event_cb(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

static void ctl_read_cb(struct bufferevent *bev, void *arg)
{
	struct emu *e = arg;
	struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);

	if (!line) {
		if (evbuffer_get_length(in) > CTL_LINE_MAX)
			bufferevent_free(bev);
		return;
	}
	bufferevent_disable(bev, EV_READ);
	if (!strcmp(line, "stats")) {
		char *s = stats_json(e);
		if (s)
			evbuffer_add_printf(out, "%s\n", s);
		else
			evbuffer_add_printf(out, "error: out of memory\n");
		free(s);
	} else if (!strncmp(line, "set ", 4)) {
		char err[LINKSIM_ERR_MAX] = "";
		if (emu_set(e, line + 4, err) == 0)
			evbuffer_add_printf(out, "ok\n");
		else
			evbuffer_add_printf(out, "error: %s\n", err);
	} else {
		evbuffer_add_printf(out, "error: unknown request (stats, set KEY=VALUE)\n");
	}
	free(line);
	bufferevent_setcb(bev, NULL, ctl_write_cb, ctl_event_cb, e);
	bufferevent_enable(bev, EV_WRITE);
}

static void ctl_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int socklen, void *arg)
{
	struct emu *e = arg;
	struct bufferevent *bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	struct timeval tv = {5, 0};

	if (!bev) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, ctl_read_cb, NULL, ctl_event_cb, e);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ);
}

static void realtime(void)
{
	struct sched_param sp = {.sched_priority = 10};

	if (sched_setscheduler(0, SCHED_FIFO, &sp) == 0) {
		log_info("running with SCHED_FIFO priority %d", sp.sched_priority);
		return;
	}
	log_warn("SCHED_FIFO refused (%s); using nice -10", strerror(errno));
	if (setpriority(PRIO_PROCESS, 0, -10) != 0)
		log_warn("setpriority: %s", strerror(errno));
}

static int dir_init(struct emu *e, struct emu_dir *ed, const char *name,
                    const struct linksim_params *p, int out_fd)
{
	int ret;

	ed->e = e;
	ed->name = name;
	ed->out_fd = out_fd;
	ed->armed = LINKSIM_INF;
	if ((ret = linksim_dir_new(&ed->d, p, e->t0)) != 0)
		return ret;
	ed->timer = evtimer_new(e->base, timer_cb, ed);
	return ed->timer ? 0 : -ENOMEM;
}

int linksim_emu_run(struct linksim_profile *prof, int tun_clinic, int tun_hub, int ctl_fd,
                    int ready_fd)
{
	struct event_config *cfg = NULL;
	struct emu *e = calloc(1, sizeof *e);
	int ret = -ENOMEM;

	if (!e) {
		close(tun_clinic);
		close(tun_hub);
		close(ctl_fd);
		return -ENOMEM;
	}
	e->prof = prof;
	e->tun_clinic = tun_clinic;
	e->tun_hub = tun_hub;
	signal(SIGPIPE, SIG_IGN);
	evutil_make_socket_nonblocking(tun_clinic);
	evutil_make_socket_nonblocking(tun_hub);
	cfg = event_config_new();
	if (!cfg)
		goto out;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK);
	e->base = event_base_new_with_config(cfg);
	if (!e->base)
		goto out;
	e->t0 = mtime_now_ns();
	e->t0_wall_ms = mtime_wall_ms();
	if ((ret = dir_init(e, &e->up, "up", &prof->up, tun_hub)) != 0 ||
	    (ret = dir_init(e, &e->down, "down", &prof->down, tun_clinic)) != 0)
		goto out;
	ret = -ENOMEM;
	e->rd_clinic = event_new(e->base, tun_clinic, EV_READ | EV_PERSIST, rd_clinic_cb, e);
	e->rd_hub = event_new(e->base, tun_hub, EV_READ | EV_PERSIST, rd_hub_cb, e);
	e->sig_term = evsignal_new(e->base, SIGTERM, sig_cb, e);
	e->sig_int = evsignal_new(e->base, SIGINT, sig_cb, e);
	e->lis = evconnlistener_new(e->base, ctl_accept_cb, e,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, ctl_fd);
	if (!e->rd_clinic || !e->rd_hub || !e->sig_term || !e->sig_int || !e->lis)
		goto out;
	ctl_fd = -1;
	if (event_add(e->rd_clinic, NULL) || event_add(e->rd_hub, NULL) ||
	    event_add(e->sig_term, NULL) || event_add(e->sig_int, NULL))
		goto out;
	realtime();
	log_info("link up: profile %s", prof->path);
	if (ready_fd >= 0) {
		if (write(ready_fd, "ok\n", 3) != 3)
			log_warn("ready pipe: %s", strerror(errno));
		close(ready_fd);
	}
	ret = event_base_dispatch(e->base) < 0 ? -EIO : 0;
	log_info("link down");
out:
	if (ctl_fd >= 0)
		close(ctl_fd);
	if (e->lis)
		evconnlistener_free(e->lis);
	if (e->rd_clinic)
		event_free(e->rd_clinic);
	if (e->rd_hub)
		event_free(e->rd_hub);
	if (e->sig_term)
		event_free(e->sig_term);
	if (e->sig_int)
		event_free(e->sig_int);
	if (e->up.timer)
		event_free(e->up.timer);
	if (e->down.timer)
		event_free(e->down.timer);
	linksim_dir_free(e->up.d);
	linksim_dir_free(e->down.d);
	if (e->base)
		event_base_free(e->base);
	event_config_free(cfg);
	close(tun_clinic);
	close(tun_hub);
	free(e);
	return ret;
}
