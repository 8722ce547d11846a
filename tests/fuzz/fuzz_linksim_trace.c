/* tests/fuzz/fuzz_linksim_trace.c — the Mahimahi trace parser of the link lab, and the
 * trace-driven serialiser fed with what it accepted (linksim is a program, so its pure sources
 * are compiled in here). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/linksim/model.c"
#include "tools/linksim/parse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(struct linksim_pkt *pkt, void *arg)
{
	(void)arg;
	free(pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linksim_trace *t = NULL;
	struct linksim_params p;
	struct linksim_dir *d = NULL;
	char err[LINKSIM_ERR_MAX];
	uint64_t now = 0;
	size_t i;

	if (linksim_trace_parse(&t, (const char *)data, size, err) != 0)
		return 0;
	if (t->n == 0 || t->period_ms == 0 || t->opp_ms[t->n - 1] != t->period_ms)
		abort();
	for (i = 1; i < t->n; i++) {
		if (t->opp_ms[i] < t->opp_ms[i - 1])
			abort();
	}
	(void)linksim_trace_next_opp(t, 0);
	(void)linksim_trace_next_opp(t, t->period_ms * LINKSIM_NS_PER_MS);
	(void)linksim_trace_next_opp(t, 12345678901ULL);
	linksim_params_default(&p);
	p.trace = t;
	p.seed = 1;
	if (linksim_dir_new(&d, &p, 0) == 0) {
		/* a few packets of sizes taken from the input, run over one trace period or 2 s */
		uint64_t end = t->period_ms * LINKSIM_NS_PER_MS;
		if (end > 2 * LINKSIM_NS_PER_S)
			end = 2 * LINKSIM_NS_PER_S;
		for (i = 0; i < 16 && i < size; i++) {
			struct linksim_pkt *pkt = linksim_pkt_new(1 + data[i] * 8u);
			if (!pkt)
				break;
			linksim_dir_input(d, pkt, now);
			now += data[i] * 100000u;
			linksim_dir_run(d, now, drop, NULL);
		}
		for (i = 0; i < 100000; i++) {
			uint64_t due = linksim_dir_next_due(d);
			if (due == LINKSIM_INF || due > now + end)
				break;
			if (due < now)
				due = now;
			now = due;
			linksim_dir_run(d, now, drop, NULL);
		}
		linksim_dir_free(d);
	}
	linksim_params_release(&p);
	return 0;
}
