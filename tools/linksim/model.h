/* tools/linksim/model.h — the link model of the link lab, as plain functions.
 *
 * Everything here is pure logic over a virtual clock (nanoseconds, CLOCK_MONOTONIC in the
 * emulator, anything in tests): no sockets, no event loop, no root. The emulator (emu.c) only
 * reads packets, calls linksim_dir_input() / linksim_dir_run() and arms one timer per direction
 * at linksim_dir_next_due(). Unit tests (tests/unit/test_linksim.c) drive the same functions
 * with a simulated clock and check the timing to the nanosecond.
 *
 * One direction of the link is a pipeline:
 *
 *   input --(outage? drop)--(policer out of tokens? drop)--(drop-tail queue full? drop)
 *         --> queue --> serialiser (line rate, or Mahimahi trace opportunities)
 *         --(outage at completion? drop)--(Gilbert-Elliott loss? drop)-->
 *         delay line (propagation delay + jitter, FIFO unless reordering is on) --> output
 *
 * Serialisation runs on virtual time: a packet starts at max(previous finish, its arrival) and
 * finishes bits/rate later, whatever time the timer actually fired. A late timer therefore
 * delays a delivery but never changes the rate or accumulates drift.
 */
#ifndef PIROGUE_LINKSIM_MODEL_H
#define PIROGUE_LINKSIM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINKSIM_NS_PER_MS   1000000ULL
#define LINKSIM_NS_PER_S    1000000000ULL
#define LINKSIM_TRACE_BYTES 1500 /* bytes per Mahimahi delivery opportunity */
#define LINKSIM_SCHED_MAX   64   /* intervals in one schedule */
#define LINKSIM_PKT_MAX     65536
#define LINKSIM_INF         UINT64_MAX
/* Deepest policer bucket in bytes: its depth in 1e-9 bit units must fit in 64 bits. */
#define LINKSIM_POLICE_DEPTH_MAX 2000000000ULL

/* Error codes of the link lab (tools/, not a library: a private range below every module). */
#define LINKSIM_ESYNTAX (-9001) /* malformed value */
#define LINKSIM_ERANGE  (-9002) /* value out of range */
#define LINKSIM_EKEY    (-9003) /* unknown key */
#define LINKSIM_ETRACE  (-9004) /* malformed trace file */
#define LINKSIM_ERR_MAX 512     /* size of callers' error-message buffers */

/* ---- random numbers (xoshiro256**, seeded through splitmix64) ---- */
struct linksim_rng {
	uint64_t s[4];
};
void linksim_rng_seed(struct linksim_rng *r, uint64_t seed);
uint64_t linksim_rng_next(struct linksim_rng *r);
/* Uniform double in [0, 1). */
double linksim_rng_uniform(struct linksim_rng *r);

/* ---- Gilbert-Elliott loss ----
 * Two states, Good (never loses) and Bad (always loses): the simple Gilbert model, parameterised
 * by the mean loss rate p and the mean burst length b (packets):
 *     P(Bad -> Good) = r = 1/b,  P(Good -> Bad) = q = p r / (1 - p)
 * so that the stationary loss rate q/(q+r) is p and bursts are geometric with mean b.
 * b = 0 means independent (Bernoulli) loss, which is the same chain with b = 1/(1-p). */
struct linksim_ge {
	double p_gb, p_bg; /* transition probabilities */
	bool bad;          /* current state */
};
/* Sets the parameters (keeps the state). Errors: LINKSIM_ERANGE if loss is not in [0, 1) or
 * burst is neither 0 nor >= 1, or the pair needs P(Good -> Bad) > 1. */
int linksim_ge_init(struct linksim_ge *ge, double loss, double burst)
        __attribute__((warn_unused_result));
/* Draws the fate of one packet: true if it is lost. Advances the chain by one packet. */
bool linksim_ge_lost(struct linksim_ge *ge, struct linksim_rng *rng);

/* ---- schedules: "START+DURATION, START+DURATION, ..." relative to the lab's start, with an
 * optional repeat period (the whole list repeats every period). ---- */
struct linksim_sched {
	size_t n;
	uint64_t start_ns[LINKSIM_SCHED_MAX];
	uint64_t len_ns[LINKSIM_SCHED_MAX];
	uint64_t period_ns; /* 0: no repetition */
};
/* Parses a schedule such as "10s+30s, 60s+10m" ("" or "none" is the empty schedule). Intervals
 * must be sorted and must not overlap. Writes *out only on success; err (LINKSIM_ERR_MAX bytes,
 * may be NULL) explains a failure. Errors: LINKSIM_ESYNTAX, LINKSIM_ERANGE. */
int linksim_sched_parse(const char *s, struct linksim_sched *out, char *err)
        __attribute__((warn_unused_result));
/* Is time t (ns since the lab's start) inside an interval? */
bool linksim_sched_active(const struct linksim_sched *s, uint64_t t);
/* Checks a period against a schedule: every interval must end within the period. */
int linksim_sched_set_period(struct linksim_sched *s, uint64_t period_ns, char *err)
        __attribute__((warn_unused_result));

/* ---- Mahimahi traces: one line per delivery opportunity of 1500 bytes, the time in ms since
 * the start of the trace, non-decreasing; the trace loops with a period equal to its last
 * timestamp. Blank lines and lines starting with '#' are ignored. ---- */
struct linksim_trace {
	size_t n;
	uint64_t *opp_ms; /* n opportunity times */
	uint64_t period_ms;
	unsigned refs; /* shared by parameter copies */
};
/* Parses a trace held in memory (a bounded reader: len bytes, need not be NUL-terminated).
 * On success *out owns the opportunities (free with linksim_trace_free). Errors:
 * LINKSIM_ETRACE (with the line number in err), -ENOMEM. */
int linksim_trace_parse(struct linksim_trace **out, const char *text, size_t len, char *err)
        __attribute__((warn_unused_result));
/* Reads a trace file. Errors as linksim_trace_parse, plus -errno. */
int linksim_trace_load(struct linksim_trace **out, const char *path, char *err)
        __attribute__((warn_unused_result));
void linksim_trace_free(struct linksim_trace *t); /* NULL is fine */
/* The first opportunity at or after time t (ns since the trace's start). */
uint64_t linksim_trace_next_opp(const struct linksim_trace *t, uint64_t t_ns);
/* Mean rate of the trace in bit/s. */
double linksim_trace_rate_bps(const struct linksim_trace *t);

/* ---- value parsers (all write *out only on success) ---- */
/* Rates: "2Mbit", "512kbit", "128000" (bit/s), "1.5Mbit", "10Gbit", "0"/"unlimited". SI units;
 * also "kbps"/"Mbps" as bit/s aliases. */
int linksim_parse_rate(const char *s, uint64_t *bps, char *err) __attribute__((warn_unused_result));
/* Durations: "300ms", "0.5ms", "250us", "1.5s", "10m", "1h"; a bare number is milliseconds. */
int linksim_parse_duration(const char *s, uint64_t *ns, char *err)
        __attribute__((warn_unused_result));
/* Probabilities: "1%", "0.5 %", "0.01". Must be in [0, 1]. */
int linksim_parse_prob(const char *s, double *p, char *err) __attribute__((warn_unused_result));

/* ---- parameters of one direction ---- */
struct linksim_params {
	uint64_t rate_bps;    /* 0: unlimited */
	char trace_path[512]; /* "" unless trace-driven; trace owned below */
	struct linksim_trace *trace;
	uint64_t delay_ns;           /* one-way propagation delay */
	uint64_t jitter_ns;          /* +/- amplitude of the delay variation */
	uint64_t jitter_interval_ns; /* time between jitter control points (0: automatic) */
	double loss, burst;          /* Gilbert-Elliott (burst 0: independent) */
	uint64_t queue_ns;           /* drop-tail depth in time of line rate */
	double reorder;              /* probability that a packet is held back */
	uint64_t reorder_delay_ns;   /* how long a held-back packet waits extra */
	struct linksim_sched outage;
	struct linksim_sched fade;
	uint64_t fade_rate_bps; /* rate during a fade (0: unlimited) */
	double fade_loss;       /* mean loss during a fade */
	double fade_burst;
	uint64_t police_rate_bps; /* token-bucket policer in front of the queue (0: none) */
	uint64_t police_burst_ns; /* its bucket depth in time at police_rate */
	uint64_t seed;            /* 0: random */
};
/* Defaults: unlimited rate, no delay, no loss, 1000 ms queue, no policer (its burst 100 ms),
 * no events. */
void linksim_params_default(struct linksim_params *p);
/* The policer's bucket depth in bytes: police_rate x police_burst / 8, at least
 * LINKSIM_TRACE_BYTES (one full-size packet); 0 without a policer; UINT64_MAX if it would
 * exceed LINKSIM_POLICE_DEPTH_MAX (linksim_params_set refuses such params). */
uint64_t linksim_params_police_depth(const struct linksim_params *p);
/* Sets one key ("rate", "delay", "outage", ...; see profiles/README). `base_dir` resolves a
 * relative trace path (may be NULL). On failure p is unchanged and err says why. Errors:
 * LINKSIM_EKEY, LINKSIM_ESYNTAX, LINKSIM_ERANGE, LINKSIM_ETRACE, -errno, -ENOMEM. */
int linksim_params_set(struct linksim_params *p, const char *key, const char *value,
                       const char *base_dir, char *err) __attribute__((warn_unused_result));
/* Copies src into dst (dst takes its own reference on the trace: both must be released). */
int linksim_params_copy(struct linksim_params *dst, const struct linksim_params *src)
        __attribute__((warn_unused_result));
/* Releases what params own (the trace). */
void linksim_params_release(struct linksim_params *p);
/* Is "key" a known key? */
bool linksim_params_known(const char *key);

/* ---- one direction of the link ---- */
struct linksim_pkt {
	struct linksim_pkt *next; /* queue link */
	uint64_t arrival_ns;
	uint64_t due_ns;  /* delivery time once in the delay line */
	uint64_t seq;     /* tie-break: equal due times leave in arrival order */
	size_t remaining; /* bytes still to serialise (trace mode) */
	size_t len;
	uint8_t data[];
};

struct linksim_stats {
	uint64_t in_pkts, in_bytes;
	uint64_t out_pkts, out_bytes;
	uint64_t drop_loss, drop_queue, drop_outage, drop_police, drop_error;
	uint64_t queue_pkts, queue_bytes;
	uint64_t delay_pkts;
};

struct linksim_dir;
/* Output callback: the packet is the callee's (free it with free()). */
typedef void(linksim_out_h)(struct linksim_pkt *pkt, void *arg);

/* Creates a direction whose clock starts at t0 (ns). The direction keeps its own copy of the
 * params. Errors: -ENOMEM, LINKSIM_ERANGE. */
int linksim_dir_new(struct linksim_dir **out, const struct linksim_params *p, uint64_t t0)
        __attribute__((warn_unused_result));
void linksim_dir_free(struct linksim_dir *d); /* NULL is fine; frees queued packets */
/* Replaces the parameters at run time (queued packets stay; the packet being serialised keeps
 * its finish time). The policer keeps its tokens, capped at the new depth; as the call has no
 * clock, these are the tokens as of the last arrival, and the time since then refills at the
 * new police_rate. A policer switched on (from none) starts with a full bucket. Errors:
 * -ENOMEM, LINKSIM_ERANGE. */
int linksim_dir_set_params(struct linksim_dir *d, const struct linksim_params *p)
        __attribute__((warn_unused_result));
const struct linksim_params *linksim_dir_params(const struct linksim_dir *d);
/* Hands a packet (malloc'd, owned by the direction from now on) that arrived at now. Drops it
 * (and frees it) when the link is in an outage, when the policer has fewer tokens than the
 * packet's length (the bucket refills at police_rate on the virtual clock, up to its depth, and
 * starts full), or when the queue is full. Call linksim_dir_run() afterwards. */
void linksim_dir_input(struct linksim_dir *d, struct linksim_pkt *pkt, uint64_t now);
/* Advances the direction to time now: completes serialisations, applies loss, and calls out()
 * for every packet whose delivery time is <= now, in delivery order. */
void linksim_dir_run(struct linksim_dir *d, uint64_t now, linksim_out_h *out, void *arg);
/* The next time something happens (LINKSIM_INF when idle). */
uint64_t linksim_dir_next_due(const struct linksim_dir *d);
/* Counters (the queue fields are current values). */
void linksim_dir_stats(const struct linksim_dir *d, struct linksim_stats *s);
/* Current state at time now: in an outage, in a fade, effective rate (bit/s, 0 unlimited). */
bool linksim_dir_in_outage(const struct linksim_dir *d, uint64_t now);
bool linksim_dir_in_fade(const struct linksim_dir *d, uint64_t now);
uint64_t linksim_dir_rate_at(const struct linksim_dir *d, uint64_t now);
/* Allocates a packet of len bytes (data uninitialised). NULL on failure. */
struct linksim_pkt *linksim_pkt_new(size_t len);

const char *linksim_strerror(int err);
/* Formats a message into err (LINKSIM_ERR_MAX bytes; NULL is fine), truncating if needed. */
void linksim_errf(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
