/* Which profile a command uses when no URL decides: the flag, KEYBEARER_PROFILE, env, the
 * only one of the file, aspose. */
#include "config.h"
#include "config_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

static void
append_profile_names(const struct config *cfg, char *out, size_t size, int only_file)
{
	size_t i, used = 0;

	out[0] = '\0';
	for (i = 0; i < cfg->count; i++) {
		int n;
		if (only_file && !cfg->profiles[i].in_file)
			continue;
		n = snprintf(out + used, size - used, "%s%s", used ? ", " : "",
			     cfg->profiles[i].name);
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
	if (cfg->other_names != NULL && *cfg->other_names != '\0')
		snprintf(out + used, size - used, "%s%s", used ? ", " : "", cfg->other_names);
}

const struct profile *
config_select_why(const struct config *cfg, const char *flag_name, const char **why,
		  struct error *err)
{
	const char *name = flag_name;
	const struct profile *only = NULL;
	char names[512];
	size_t i, in_file = 0;

	*why = flag_name != NULL && *flag_name != '\0' ? "chosen with --profile"
						       : "named by KEYBEARER_PROFILE";
	if (name == NULL || *name == '\0')
		name = getenv("KEYBEARER_PROFILE");
	if (name != NULL && *name != '\0') {
		const struct profile *p = config_find(cfg, name);
		if (p == NULL) {
			append_profile_names(cfg, names, sizeof(names), 0);
			error_set(err, KB_EXIT_CONFIG,
				  "no profile named \"%.64s\" — known profiles: %s; add [profile "
				  "%.64s] to %s",
				  name, names, name, cfg->path ? cfg->path : "the config file");
		}
		return p;
	}
	*why = "the env profile: the KEYBEARER_* variables describe it";
	if (config_find(cfg, ENV_PROFILE_NAME) != NULL)
		return config_find(cfg, ENV_PROFILE_NAME);
	for (i = 0; i < cfg->count; i++) {
		if (cfg->profiles[i].in_file) {
			in_file++;
			only = &cfg->profiles[i];
		}
	}
	*why = "the only profile of the config file";
	if (in_file == 1)
		return only;
	*why = "the built-in default: the config file has no profile";
	if (in_file == 0)
		return config_find(cfg, "aspose");
	append_profile_names(cfg, names, sizeof(names), 1);
	error_set(err, KB_EXIT_CONFIG,
		  "several profiles are configured (%s) — choose one with --profile NAME or "
		  "KEYBEARER_PROFILE",
		  names);
	return NULL;
}

const struct profile *
config_select(const struct config *cfg, const char *flag_name, struct error *err)
{
	const char *why;

	return config_select_why(cfg, flag_name, &why, err);
}
