/*
 * libFuzzer target: the YAML config loader on arbitrary documents,
 * including deep nesting and huge scalars (libyaml has no depth limit of
 * its own; config.c caps depth and size). A failed load must explain
 * itself; a successful one must be freed cleanly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*cfg;
	char		*errors = NULL;

	cfg = config_load_string("fuzz.yaml", (const char *)data, size,
	    &errors);
	if (cfg == NULL && (errors == NULL || errors[0] == '\0'))
		abort();
	config_free(cfg);
	free(errors);
	return 0;
}
