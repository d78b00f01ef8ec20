/* `keybearer wget [--profile P] [--] ARGS...`: the real wget, with the Authorization header
 * in a config it reads once (--config on a memory file, plugin/wrapped.c), so the token is
 * in no argv and no file, and wget's stdin stays the user's. A 401 gets one retry with a
 * fresh token, and nothing of the refused attempt is shown.
 *
 * wget sends that header to every URL of the command line, and to wherever a redirect
 * points, other hosts included: every URL must be one the profile claims, and wget runs
 * with --max-redirect=0. Which words are URLs depends on which options take a value, so the
 * arguments are read with keybearer wget's own table (plugin/wget-options.tsv, compiled
 * in), the way wget 1.21's getopt_long reads them: options and URLs in any order, "--"
 * ending the options, a value after "=" or as the next word. Whatever the table does not
 * list is refused: deny by default.
 *
 * wget reads its config only from a regular file (it refuses a pipe), so the config is a
 * memory file that vanishes as wget opens it: no option naming the same path (--post-file,
 * --load-cookies) reads it a second time.
 *
 * The retry: wget exits 6 after a 401 (and for nothing else, with http(s) URLs and no
 * credentials of its own) and writes no body for it. So, with one URL on the command line
 * (several could have fetched some of them already), an exit status of 6 is the 401, and
 * its stdout and stderr are held back until wget ends, or until a body comes on stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lockstate.h"
#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "wrapped.h"

#define WGET_MAX_ARGS	4096
#define WGET_OWN_ARGS	5 /* wget --config=PATH --no-netrc --max-redirect=0 --no-proxy */
#define WGET_EXIT_AUTH	6 /* "Username/password authentication failure": a 401 */
#define WGET_CONFIG_ARG "--config="

enum wget_role {
	WGET_ROLE_PLAIN,  /* passed on */
	WGET_ROLE_HEADER, /* --header: passed on, unless it is an Authorization header */
	/* refused, from here on */
	WGET_ROLE_ROUTE,   /* changes where the connection goes */
	WGET_ROLE_TRUST,   /* changes whom wget trusts */
	WGET_ROLE_SHOWS,   /* would print or write the Authorization header */
	WGET_ROLE_FOLLOWS, /* fetches URLs that are not on the command line */
	WGET_ROLE_OWN,	   /* keybearer wget's own, or brings in what it cannot check */
};

static const struct wrapped_option wget_options[] = {
#include "wget-options.inc"
};
#define WGET_OPTION_COUNT (sizeof(wget_options) / sizeof(wget_options[0]))

/* What the arguments ask of wget. */
struct wget_scan {
	int plain_http;	   /* some URL is plain http (loopback): no proxy may see it */
	const char **urls; /* the words wget fetches, as given */
	size_t url_count;
};

static const char *
refusal_reason(int role)
{
	switch (role) {
	case WGET_ROLE_ROUTE:
		return "it changes where the connection goes, and the token must go only to the "
		       "URLs a profile claims";
	case WGET_ROLE_TRUST:
		return "it changes whom wget trusts, and the token must go only to the servers "
		       "the claimed URLs name";
	case WGET_ROLE_SHOWS:
		return "it would print or write the Authorization header, and with it the token";
	case WGET_ROLE_FOLLOWS:
		return "it makes wget fetch URLs that are not on the command line, and the "
		       "header would go to all of them";
	default:
		return "keybearer wget sets it itself, or it would bring in commands or "
		       "credentials keybearer cannot check";
	}
}

static int
refuse_option(const struct wrapped_option *opt, int as_short, struct error *err)
{
	return wrapped_refuse_option("wget", opt, as_short, refusal_reason(opt->role), err);
}

/* spelled: "--name", "--name=…" or "-x", as given. */
static int
refuse_unknown(const char *spelled, size_t len, struct error *err)
{
	return error_set(err, KB_EXIT_USAGE,
			 "keybearer wget does not know the wget option %.*s%s: it passes on only "
			 "the options in its table (exact names, no abbreviations) — see keybearer "
			 "wget --help",
			 WRAPPED_SHOWN(len, spelled));
}

/* --header: wget replaces a header of the same name with the later one, and an empty
 * --header drops all of them: either would take keybearer's away. */
static int
check_header(const char *value, struct error *err)
{
	size_t name_len = strcspn(value, ":");

	while (name_len > 0 && (value[name_len - 1] == ' ' || value[name_len - 1] == '\t'))
		name_len--;
	if (value[0] == '\0')
		return error_set(
			err, KB_EXIT_USAGE,
			"keybearer wget does not take an empty --header: wget would drop "
			"every header, keybearer's Authorization header too — leave it out");
	if (name_len == strlen("Authorization") &&
	    strncasecmp(value, "Authorization", name_len) == 0 && value[strcspn(value, ":")])
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer wget does not take --header Authorization: keybearer "
				 "wget sets that header itself — leave it out");
	return 0;
}

/* The value of an option that takes one: after "=", the rest of its short bundle, or the
 * next word. */
static int
take_value(const struct wrapped_option *opt, int as_short, const char *rest, char **args, int nargs,
	   int *i, const char **value, struct error *err)
{
	if (rest != NULL && (*rest != '\0' || !as_short)) {
		*value = rest;
		return 0;
	}
	if (*i + 1 < nargs) {
		*value = args[++*i];
		return 0;
	}
	if (as_short)
		return error_set(err, KB_EXIT_USAGE,
				 "the wget option -%c (--%s) has no value: it takes the next word "
				 "— give one",
				 opt->letter, opt->name);
	return error_set(err, KB_EXIT_USAGE,
			 "the wget option --%s has no value: it takes \"=VALUE\" or the next word "
			 "— give one",
			 opt->name);
}

static int
note_option(const struct wrapped_option *opt, const char *value, struct error *err)
{
	if (opt->role == WGET_ROLE_HEADER)
		return check_header(value, err);
	return 0;
}

/* "--name", "--name=VALUE" or "--name VALUE". */
static int
scan_long(char **args, int nargs, int *i, struct error *err)
{
	const char *word = args[*i], *name = word + 2, *value = NULL, *equals;
	size_t name_len = strcspn(name, "=");
	const struct wrapped_option *opt =
		wrapped_find_long(wget_options, WGET_OPTION_COUNT, name, name_len);

	equals = name[name_len] == '=' ? name + name_len + 1 : NULL;
	if (opt == NULL && equals != NULL)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer wget does not know the wget option --%.*s%s=…: it "
				 "passes on only the options in its table (exact names, no "
				 "abbreviations) — see keybearer wget --help",
				 WRAPPED_SHOWN(name_len, name));
	if (opt == NULL)
		return refuse_unknown(word, strlen(word), err);
	if (opt->role >= WGET_ROLE_ROUTE)
		return refuse_option(opt, 0, err);
	if (!opt->takes_value && equals != NULL)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer wget takes --%s without a value — leave out \"=…\"",
				 opt->name);
	if (opt->takes_value && take_value(opt, 0, equals, args, nargs, i, &value, err) != 0)
		return -1;
	return note_option(opt, value, err);
}

/* "-x", or a bundle "-qO-": an option that takes a value ends the bundle, and the rest of
 * the word (or the next word) is its value. */
static int
scan_short(char **args, int nargs, int *i, struct error *err)
{
	const char *word = args[*i], *value;
	const struct wrapped_option *opt;
	size_t j;

	for (j = 1; word[j] != '\0'; j++) {
		opt = wrapped_find_short(wget_options, WGET_OPTION_COUNT, word[j]);
		if (opt == NULL) {
			char spelled[8];
			snprintf(spelled, sizeof(spelled),
				 word[j] > ' ' && word[j] < 0x7f ? "-%c" : "-\\x%02x",
				 (unsigned char)word[j]);
			return refuse_unknown(spelled, strlen(spelled), err);
		}
		if (opt->role >= WGET_ROLE_ROUTE)
			return refuse_option(opt, 1, err);
		value = NULL;
		if (opt->takes_value &&
		    take_value(opt, 1, word + j + 1, args, nargs, i, &value, err) != 0)
			return -1;
		if (note_option(opt, value, err) != 0)
			return -1;
		if (opt->takes_value)
			break;
	}
	return 0;
}

/* Sorts wget's arguments into options, their values and URLs, as GNU getopt_long does for
 * wget: a word that does not start with "-" (and "-" itself) is a URL wherever it stands,
 * and after "--" every word is. (POSIXLY_CORRECT would stop the options at the first URL:
 * wget runs without it.) */
static int
scan_options(char **args, int nargs, struct wget_scan *scan, struct error *err)
{
	int i, options_end = 0;

	for (i = 0; i < nargs; i++) {
		const char *word = args[i];
		if (options_end || word[0] != '-' || word[1] == '\0') {
			scan->urls[scan->url_count++] = word;
		} else if (strcmp(word, "--") == 0) {
			options_end = 1;
		} else if (word[1] == '-') {
			if (scan_long(args, nargs, &i, err) != 0)
				return -1;
		} else if (scan_short(args, nargs, &i, err) != 0) {
			return -1;
		}
	}
	return 0;
}

/* wget guesses a scheme for a word without one, http:// or ftp:// by what follows a ':':
 * only a URL that says its scheme is checked as what wget fetches (and a profile claims
 * only https:// and http:// ones). */
static int
has_scheme(const char *word)
{
	size_t len =
		strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	return len > 0 && strncmp(word + len, "://", 3) == 0;
}

/* Reads wget's arguments: its URLs, each of which must say its scheme. */
static int
scan_arguments(char **args, int nargs, struct wget_scan *scan, struct error *err)
{
	size_t i, len;

	memset(scan, 0, sizeof(*scan));
	scan->urls = calloc((size_t)nargs + 1, sizeof(*scan->urls));
	if (scan->urls == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	if (scan_options(args, nargs, scan, err) != 0)
		return -1;
	if (scan->url_count == 0)
		return error_set(err, KB_EXIT_USAGE, "no URL among the wget arguments — give one");
	for (i = 0; i < scan->url_count; i++) {
		len = strlen(scan->urls[i]);
		if (!has_scheme(scan->urls[i]))
			return error_set(err, KB_EXIT_USAGE,
					 "the wget URL %.*s%s has no scheme, and wget would guess "
					 "one — write it whole, with https://",
					 WRAPPED_SHOWN(len, scan->urls[i]));
	}
	return 0;
}

/* Loads the config (with --profile, that profile alone; else the claimers of the first URL,
 * which picks the profile) and checks every URL against the profile. */
static int
check_urls(struct config *cfg, const char *profile_flag, struct wget_scan *scan,
	   const struct profile **p, struct error *err)
{
	size_t i;

	if (config_load_named_or_for_url(cfg, profile_flag, scan->urls[0], err) != 0)
		return -1;
	*p = profile_flag != NULL ? config_select(cfg, profile_flag, err) : NULL;
	if (profile_flag != NULL && *p == NULL)
		return -1;
	for (i = 0; i < scan->url_count; i++) {
		if (wrapped_check_url(cfg, p, scan->urls[i], scan->urls[i], NULL, &scan->plain_http,
				      err) != 0)
			return -1;
	}
	return 0;
}

/* One wget run; with watch, its output is held back until it is known to be no 401's. */
static int
run_wget(const struct config *cfg, const char *token, char **args, int nargs,
	 const struct wget_scan *scan, int watch, struct wrapped_run *run, struct error *err)
{
	/* getopt would stop at the first URL, and the scan above would not be wget's */
	static const char *const drop[] = { "POSIXLY_CORRECT", NULL };
	char *argv[WGET_OWN_ARGS + WGET_MAX_ARGS + 1], *config, config_arg[96];
	struct wrapped_child child = { .tool = "wget",
				       .argv = argv,
				       .config_fd = -1,
				       .watch = 1,
				       .header_to = -1,
				       .released = !watch };
	struct wrapped_once once = { .fd = -1 };
	int i, argc = 0, rc = -1;

	memset(run, 0, sizeof(*run));
	config = output_render(OUTPUT_WGET, token, 0, 0);
	if (config == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	rc = wrapped_config_once(config, "wget", &once, err);
	safefile_free_string(config);
	if (rc != 0)
		return -1;
	rc = -1;
	snprintf(config_arg, sizeof(config_arg), "%s%s", WGET_CONFIG_ARG, once.path);
	argv[argc++] = "wget";
	/* First: wget reads the first --config it finds before anything else, and then
	 * neither /etc/wgetrc nor ~/.wgetrc, which could name URLs or headers. */
	argv[argc++] = config_arg;
	argv[argc++] = "--no-netrc";	   /* no credentials of its own */
	argv[argc++] = "--max-redirect=0"; /* wget 1.21 sends the header to any host */
	if (scan->plain_http)
		argv[argc++] = "--no-proxy"; /* the header in the clear stays on this machine */
	for (i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	child.env = wrapped_environment(cfg, drop);
	if (child.env == NULL)
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	else
		rc = wrapped_run(&child, run, err);
	free(child.env);
	wrapped_config_once_close(&once);
	return rc;
}

int
plugin_wget(int argc, char **argv, struct error *err)
{
	const char *profile_flag;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct wget_scan scan = { 0 };
	struct wrapped_run run = { 0 };
	struct config cfg = { 0 };
	int first, rc = -1, retry;

	first = wrapped_leading_options(argc, argv, &profile_flag);
	if (argc - first > WGET_MAX_ARGS)
		return error_set(err, KB_EXIT_USAGE, "too many wget arguments (at most %d)",
				 WGET_MAX_ARGS);
	if (scan_arguments(argv + first, argc - first, &scan, err) != 0 ||
	    check_urls(&cfg, profile_flag, &scan, &p, err) != 0 ||
	    obtain_token(&cfg, p, -1, &rec, err) != 0 ||
	    run_wget(&cfg, rec.access_token, argv + first, argc - first, &scan, 1, &run, err) != 0)
		goto out;
	retry = run.exit_status == WGET_EXIT_AUTH && scan.url_count == 1 &&
		!wrapped_run_shown(&run);
	if (!retry) {
		wrapped_run_release(&run);
	} else {
		/* That exact token is refused: drop it (not one another process put in its
		 * place), then once more with a fresh one. Its output, too, comes through a
		 * pipe, as the first attempt's did: wget shows the same progress display. */
		wrapped_run_free(&run);
		if (lockstate_drop(p, rec.access_token, err) < 0)
			goto out;
		cache_record_free(&rec);
		if (obtain_token(&cfg, p, -1, &rec, err) != 0 ||
		    run_wget(&cfg, rec.access_token, argv + first, argc - first, &scan, 0, &run,
			     err) != 0)
			goto out;
	}
	rc = wrapped_exit("wget", &run, err);
out:
	wrapped_run_free(&run);
	free(scan.urls);
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
