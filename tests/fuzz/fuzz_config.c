/* tests/fuzz/fuzz_config.c — the config parser on arbitrary bytes, then every getter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	char err[CONFIG_ERR_MAX];
	const char *key, *value, *s;
	int64_t i;
	uint64_t u;
	bool b;

	if (config_parse(&c, "fuzz", (const char *)data, size, err) != 0)
		return 0;
	for (size_t k = 0; (key = config_key_at(c, "", k, &value)) != NULL; k++) {
		(void)config_get_int(c, "", key, INT64_MIN, INT64_MAX, 0, &i, err);
		(void)config_get_size(c, "", key, 0, &u, err);
		(void)config_get_duration_ms(c, "", key, 0, &u, err);
		(void)config_get_bool(c, "", key, false, &b, err);
		(void)config_require_str(c, "", key, &s, err);
	}
	config_free(c);
	return 0;
}
