/* What keybearer's own commands share: their options, read one way, and the usage error
 * they all give. The command table and dispatch are main.c's. */
#ifndef KEYBEARER_CLI_H
#define KEYBEARER_CLI_H

#include "config.h"
#include "error.h"
#include "output.h"

struct cli_options {
	const char *profile;
	enum output_format format;
	int min_ttl;	      /* -1: not given */
	int token_stdin;      /* invalidate --token-stdin */
	int from_stdin;	      /* inspect - */
	int verify;	      /* inspect --verify */
	const char *audience; /* inspect --verify --audience */
	const char *url;      /* get --url */
	int json;	      /* status --json */
	const char *operand;  /* which URL */
};

/* Parses argv (argv[0] the command) for the long options named in allowed, a list of
 * words ("profile format min-ttl"); the word URL asks for one operand. Every command takes
 * -h/--help (returns 1: print the command's help) and -v/--verbose. 0, or -1 with err set
 * (exit 64). */
int cli_parse_options(int argc, char **argv, const char *allowed, struct cli_options *opts,
		      struct error *err);

/* "<command> arguments: <problem> <arg> — see keybearer <command> --help", exit 64. */
int cli_usage_error(struct error *err, const char *command, const char *problem, const char *arg);

/* --verbose: the debug lines of keybearer and of the keybearer-fetch it starts, which
 * reads the same variable (KEYBEARER_DEBUG=1) from the environment it inherits. */
void cli_set_verbose(void);

/* The profile a command without a URL works on: config_load_selected, config_select. */
int cli_load_profile(const char *name, struct config *cfg, const struct profile **p,
		     struct error *err);

/* One token from stdin; also accepts the "Authorization: Bearer <token>" line get prints.
 * Malloc'ed (free with safefile_free_string). */
int cli_read_stdin_token(char **out, struct error *err);

#endif
