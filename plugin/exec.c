/* `keybearer exec [--profile P] [--env NAME] -- CMD...`: the token in an environment
 * variable, for tools that read one. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"

static int
valid_variable_name(const char *name)
{
	size_t i;

	if (name[0] == '\0' || isdigit((unsigned char)name[0]))
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return 0;
	}
	return 1;
}

int
plugin_exec(int argc, char **argv, struct error *err)
{
	const char *profile_flag = NULL, *variable = "KEYBEARER_TOKEN";
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	char **env;
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0; i += 2) {
		if (strcmp(argv[i], "--profile") == 0)
			profile_flag = argv[i + 1];
		else if (strcmp(argv[i], "--env") == 0)
			variable = argv[i + 1];
		else
			break;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc || argv[i][0] == '-')
		return error_set(err, KB_EXIT_USAGE,
				 "exec arguments: expected [--profile P] [--env "
				 "NAME] -- COMMAND — see keybearer exec --help");
	if (!valid_variable_name(variable))
		return error_set(err, KB_EXIT_USAGE,
				 "exec arguments: \"%.*s%s\" is not a variable "
				 "name — use letters, digits and _",
				 PLUGIN_QUOTE(variable, 64));
	if (config_load(&cfg, err) != 0)
		return -1;
	if (plugin_token_for_profile(&cfg, profile_flag, &p, &rec, err) != 0) {
		config_free(&cfg);
		return -1;
	}
	if (setenv(variable, rec.access_token, 1) != 0 ||
	    (env = config_environment_without_secrets(&cfg)) == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "cannot set %.*s%s: %s — free some memory",
			  PLUGIN_QUOTE(variable, 64), strerror(errno));
	} else {
		/* the token, yes; the client secrets in our environment, no */
		execvpe(argv[i], argv + i, env);
		free(env);
		error_set(err, KB_EXIT_CANNOT_RUN,
			  "cannot run %.*s%s: %s — check the command and PATH",
			  PLUGIN_QUOTE(argv[i], 200), strerror(errno));
	}
	cache_record_free(&rec);
	config_free(&cfg);
	return -1;
}
