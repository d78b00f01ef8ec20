#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "safefile.h"
#include "token.h"

/* The options without a short form get values past any character. */
enum {
	OPT_MIN_TTL = 256,
	OPT_TOKEN_STDIN,
	OPT_VERIFY,
	OPT_AUDIENCE,
	OPT_URL,
	OPT_JSON,
};

static const struct option option_table[] = {
	{ "profile", required_argument, NULL, 'p' },
	{ "format", required_argument, NULL, 'f' },
	{ "min-ttl", required_argument, NULL, OPT_MIN_TTL },
	{ "token-stdin", no_argument, NULL, OPT_TOKEN_STDIN },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "audience", required_argument, NULL, OPT_AUDIENCE },
	{ "url", required_argument, NULL, OPT_URL },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
cli_usage_error(struct error *err, const char *command, const char *problem, const char *arg)
{
	return error_set(err, KB_EXIT_USAGE, "%s %s: %s%s%s — see keybearer %s --help", command,
			 "arguments", problem, arg ? " " : "", arg ? arg : "", command);
}

void
cli_set_verbose(void)
{
	setenv("KEYBEARER_DEBUG", "1", 1);
}

static int
parse_seconds(const char *text, int *out)
{
	char *end;
	long value;

	if (!isdigit((unsigned char)text[0]))
		return -1;
	value = strtol(text, &end, 10);
	if (*end != '\0' || value < 0 || value > 604800)
		return -1;
	*out = (int)value;
	return 0;
}

/* Whether word is one of the space-separated words of list (whole words only). */
static int
listed(const char *list, const char *word)
{
	size_t len = strlen(word);
	const char *at;

	for (at = list; (at = strstr(at, word)) != NULL; at += len) {
		if ((at == list || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
			return 1;
	}
	return 0;
}

/* The option word getopt refused: a long option is the word just read, a short one is
 * optopt. */
static void
refused_option(char **argv, char *out, size_t size)
{
	const char *word = argv[optind - 1];

	if (strncmp(word, "--", 2) == 0)
		snprintf(out, size, "%.*s", (int)strcspn(word, "="), word);
	else
		snprintf(out, size, "-%c", isgraph(optopt) ? optopt : '?');
}

static int
take_option(int opt, const char *command, struct cli_options *opts, struct error *err)
{
	switch (opt) {
	case 'p':
		opts->profile = optarg;
		break;
	case 'f':
		if (output_format_parse(optarg, &opts->format) != 0)
			return cli_usage_error(err, command,
					       "--format takes header, token, curl, wget or json, "
					       "not",
					       optarg);
		break;
	case OPT_MIN_TTL:
		if (parse_seconds(optarg, &opts->min_ttl) != 0)
			return cli_usage_error(err, command,
					       "--min-ttl takes seconds from 0 to 604800, not",
					       optarg);
		break;
	case OPT_TOKEN_STDIN:
		opts->token_stdin = 1;
		break;
	case OPT_VERIFY:
		opts->verify = 1;
		break;
	case OPT_AUDIENCE:
		opts->audience = optarg;
		break;
	case OPT_URL:
		opts->url = optarg;
		break;
	case OPT_JSON:
		opts->json = 1;
		break;
	case 'v':
		cli_set_verbose();
		break;
	}
	return 0;
}

/* What is left after the options: inspect's "-", which's URL, or nothing. */
static int
take_operands(int argc, char **argv, const char *allowed, struct cli_options *opts,
	      struct error *err)
{
	const char *command = argv[0];

	if (optind < argc && strcmp(command, "inspect") == 0 && strcmp(argv[optind], "-") == 0 &&
	    optind + 1 == argc && (opts->profile == NULL || opts->verify)) {
		opts->from_stdin = 1;
		return 0;
	}
	if (listed(allowed, "URL")) {
		if (optind == argc)
			return cli_usage_error(err, command, "missing the URL", NULL);
		opts->operand = argv[optind++];
	}
	if (optind < argc)
		return cli_usage_error(err, command, "unexpected argument", argv[optind]);
	return 0;
}

int
cli_parse_options(int argc, char **argv, const char *allowed, struct cli_options *opts,
		  struct error *err)
{
	const char *command = argv[0];
	char option[40];
	int opt, index;

	memset(opts, 0, sizeof(*opts));
	opts->format = OUTPUT_HEADER;
	opts->min_ttl = -1;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":p:f:hv", option_table, &index)) != -1) {
		const char *name = NULL;
		size_t i;
		if (opt == '?' || opt == ':') {
			refused_option(argv, option, sizeof(option));
			return cli_usage_error(err, command,
					       opt == '?' ? "unknown option" : "missing value for",
					       option);
		}
		if (opt == 'h')
			return 1;
		for (i = 0; option_table[i].name != NULL; i++) {
			if (option_table[i].val == opt)
				name = option_table[i].name;
		}
		if (name == NULL || (opt != 'v' && !listed(allowed, name))) {
			snprintf(option, sizeof(option), "--%s", name != NULL ? name : "?");
			return cli_usage_error(err, command, "unknown option", option);
		}
		if (take_option(opt, command, opts, err) != 0)
			return -1;
	}
	if (opts->audience != NULL && !opts->verify)
		return cli_usage_error(err, command, "--audience goes with", "--verify");
	return take_operands(argc, argv, allowed, opts, err);
}

int
cli_load_profile(const char *name, struct config *cfg, const struct profile **p, struct error *err)
{
	if (config_load_selected(cfg, name, err) != 0)
		return -1;
	*p = config_select(cfg, name, err);
	if (*p == NULL) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int
cli_read_stdin_token(char **out, struct error *err)
{
	size_t cap = TOKEN_MAX_LENGTH + 64, len = 0;
	char *buf = malloc(cap + 1), *start, *end;
	ssize_t n;

	if (buf == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	n = safefile_read_up_to(STDIN_FILENO, buf, cap);
	if (n < 0) {
		safefile_free_secret(buf, cap + 1);
		return error_set(err, KB_EXIT_NOINPUT,
				 "cannot read the token from stdin: %s — pipe the token in",
				 strerror(errno));
	}
	len = (size_t)n;
	buf[len] = '\0';
	start = buf + strspn(buf, " \t\r\n");
	if (strncasecmp(start, "Authorization:", 14) == 0)
		start += 14 + strspn(start + 14, " \t");
	if (strncasecmp(start, "Bearer ", 7) == 0)
		start += 7 + strspn(start + 7, " \t");
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	if (start == end) {
		safefile_free_secret(buf, cap + 1);
		return error_set(err, KB_EXIT_NOINPUT, "no token on stdin — pipe the token in");
	}
	if (len == cap || !token_is_b64token(start, (size_t)(end - start))) {
		safefile_free_secret(buf, cap + 1);
		return error_set(err, KB_EXIT_DATA,
				 "stdin does not hold a Bearer token — pipe in the token, or the "
				 "line keybearer get printed");
	}
	memmove(buf, start, (size_t)(end - start) + 1);
	*out = buf;
	return 0;
}
