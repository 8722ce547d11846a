/* tests/fuzz/fuzz_linksim_profile.c — link-lab profiles: INI text through common/config, then
 * every linksim value parser (rates, durations, probabilities, schedules, loss parameters), then
 * a short run of a direction built from the result. Inputs naming a trace are skipped (they
 * would read files). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/linksim/model.c"
#include "tools/linksim/parse.c"
#include "tools/linksim/profile.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drop(struct linksim_pkt *pkt, void *arg)
{
	(void)arg;
	free(pkt);
}

static void exercise(const struct linksim_params *p)
{
	struct linksim_dir *d = NULL;
	uint64_t now = 0;
	size_t i;

	if (linksim_dir_new(&d, p, 0) != 0)
		return;
	for (i = 0; i < 64; i++) {
		struct linksim_pkt *pkt = linksim_pkt_new(40 + i * 23);
		if (!pkt)
			break;
		linksim_dir_input(d, pkt, now);
		linksim_dir_run(d, now, drop, NULL);
		now += 3 * LINKSIM_NS_PER_MS;
	}
	for (i = 0; i < 10000; i++) {
		uint64_t due = linksim_dir_next_due(d);
		if (due == LINKSIM_INF || due > 100 * LINKSIM_NS_PER_S)
			break;
		now = due > now ? due : now;
		linksim_dir_run(d, now, drop, NULL);
	}
	linksim_dir_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linksim_profile p;
	struct config *c = NULL;
	char err[LINKSIM_ERR_MAX], cerr[CONFIG_ERR_MAX];

	if (memchr(data, 0, size) || memmem(data, size, "trace", 5))
		return 0;
	if (config_parse(&c, "fuzz", (const char *)data, size, cerr) != 0)
		return 0;
	linksim_profile_init(&p);
	p.up.seed = p.down.seed = 1;
	if (linksim_profile_apply(&p, c, err) == 0) {
		exercise(&p.up);
		exercise(&p.down);
	}
	linksim_profile_release(&p);
	config_free(c);
	return 0;
}
