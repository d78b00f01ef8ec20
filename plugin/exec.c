/* `keybearer exec [--profile P] [--token-file] [--env NAME] -- CMD...`: the token in an
 * environment variable, for tools that read one (a real exec: CMD keeps our pid); or, with
 * --token-file, the path of a file that keybearer keeps fresh for as long as CMD runs. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugin.h"
#include "tokenfile.h"

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

/* The token in the environment, and a real exec. */
static int
exec_with_variable(const struct config *cfg, struct cache_record *rec, const char *variable,
		   char **argv, struct error *err)
{
	mode_t own_umask;
	char **env;

	/* before the token enters our environment: the watcher never holds it there */
	tokenfile_watch_expiry(rec, variable, argv);
	if (setenv(variable, rec->access_token, 1) != 0 ||
	    (env = config_environment_without_secrets(cfg)) == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "cannot set %.*s%s: %s — free some memory",
				 PLUGIN_QUOTE(variable, 64), strerror(errno));
	/* the token, yes; the client secrets in our environment, no */
	own_umask = plugin_umask_for_command();
	execvpe(argv[0], argv, env);
	umask(own_umask);
	free(env);
	return error_set(err, KB_EXIT_CANNOT_RUN,
			 "cannot run %.*s%s: %s — check the command and PATH",
			 PLUGIN_QUOTE(argv[0], 200), strerror(errno));
}

int
plugin_exec(int argc, char **argv, struct error *err)
{
	const char *profile_flag = NULL, *variable = NULL;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	int i = 1, token_file = 0, rc;

	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--") != 0) {
		if (strcmp(argv[i], "--token-file") == 0) {
			token_file = 1;
			i++;
			continue;
		}
		if (i + 1 >= argc)
			break;
		if (strcmp(argv[i], "--profile") == 0)
			profile_flag = argv[i + 1];
		else if (strcmp(argv[i], "--env") == 0)
			variable = argv[i + 1];
		else
			break;
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc || argv[i][0] == '-')
		return error_set(err, KB_EXIT_USAGE,
				 "exec arguments: expected [--profile P] [--token-file] [--env "
				 "NAME] -- COMMAND — see keybearer exec --help");
	if (variable == NULL)
		variable = token_file ? "KEYBEARER_TOKEN_FILE" : "KEYBEARER_TOKEN";
	if (!valid_variable_name(variable))
		return error_set(err, KB_EXIT_USAGE,
				 "exec arguments: \"%.*s%s\" is not a variable "
				 "name — use letters, digits and _",
				 PLUGIN_QUOTE(variable, 64));
	/* the profile named (flag, KEYBEARER_PROFILE) alone, and the variables the others read */
	if (config_load_selected(&cfg, profile_flag, err) != 0)
		return -1;
	if (plugin_token_for_profile(&cfg, profile_flag, &p, &rec, err) != 0) {
		config_free(&cfg);
		return -1;
	}
	if (token_file)
		rc = tokenfile_exec(&cfg, p, &rec, variable, argv + i, err);
	else
		rc = exec_with_variable(&cfg, &rec, variable, argv + i, err);
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
