/* libFuzzer: the INI config, through inih and every value rule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg = { 0 };
	struct error err = { 0 };
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_load_text(&cfg, "fuzz.ini", text, &err) != 0 && err.code == KB_EXIT_OK)
		abort();
	config_free(&cfg);
	free(text);
	return 0;
}
