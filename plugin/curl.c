/* `keybearer curl [--profile P] [--] ARGS...`: the real curl, with the Authorization
 * header in a config it reads from a pipe (-K /dev/fd/3), so the token is in no argv and
 * curl's stdin stays the user's. A 401 gets one retry with a fresh token, and nothing of the
 * refused attempt is shown: its stdout and stderr are held back until the header dump
 * (-D /dev/fd/4) shows an answer that is no 401 (plugin/wrapped.c).
 *
 * curl sends that header to every URL of the command line, so every URL must be one the
 * profile claims, and which words are URLs depends on which options take a value. The
 * arguments are read with keybearer curl's own table (plugin/curl-options.tsv, compiled
 * in): it lists every option passed on, with its exact arity, and the ones refused with a
 * reason. Whatever it does not list is refused too: deny by default. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obtain.h"
#include "output.h"
#include "lockstate.h"
#include "plugin.h"
#include "safefile.h"
#include "url.h"
#include "wrapped.h"

#define CONFIG_FD     3 /* where curl finds its -K config */
#define CONFIG_PATH   "/dev/fd/3"
#define HEADER_FD     4 /* where curl dumps the response headers (-D) */
#define HEADER_PATH   "/dev/fd/4"
#define CURL_MAX_ARGS 4096
#define CURL_OWN_ARGS 9	   /* curl -q -K CONFIG -D HEADERS --noproxy '*' --suppress-... */
#define CURL_URL_MAX  8192 /* the longest URL keybearer curl checks, with its NUL */

enum curl_role {
	CURL_ROLE_PLAIN,    /* passed on */
	CURL_ROLE_URL,	    /* passed on; its value is a URL */
	CURL_ROLE_LOCATION, /* -L: the header follows redirects on the same origin */
	CURL_ROLE_GLOBOFF,  /* -g: {} and [] are literal */
	CURL_ROLE_UPLOAD,   /* -T: curl may append the file's name to the URL */
	/* refused, from here on */
	CURL_ROLE_ROUTE, /* changes where the connection goes */
	CURL_ROLE_TRUST, /* changes whom curl trusts */
	CURL_ROLE_SHOWS, /* would print or write the Authorization header */
	CURL_ROLE_OWN,	 /* keybearer curl's own, or brings in what it cannot check */
};

static const struct wrapped_option curl_options[] = {
#include "curl-options.inc"
};
#define CURL_OPTION_COUNT (sizeof(curl_options) / sizeof(curl_options[0]))

/* What the arguments ask of curl. */
struct curl_scan {
	int follows_redirects; /* -L: the header goes wherever the server sends curl */
	int globoff;	       /* -g: {} and [] in URLs are literal */
	int reads_stdin;       /* a retry could not send the same request again */
	int plain_http;	       /* some URL is plain http (loopback): no proxy may see it */
	const char **urls;     /* the words curl fetches, as given: at most one per word */
	size_t url_count;
	const char **uploads; /* the values of -T */
	size_t upload_count;
};

/* Exact names only: curl itself takes any unique abbreviation, in any case. */
static const struct wrapped_option *
find_long(const char *name, size_t len)
{
	return wrapped_find_long(curl_options, CURL_OPTION_COUNT, name, len);
}

static const struct wrapped_option *
find_short(char letter)
{
	return wrapped_find_short(curl_options, CURL_OPTION_COUNT, letter);
}

static const char *
refusal_reason(int role)
{
	switch (role) {
	case CURL_ROLE_ROUTE:
		return "it changes where the connection goes, and the token must go only to the "
		       "URLs a profile claims";
	case CURL_ROLE_TRUST:
		return "it changes whom curl trusts, and the token must go only to the servers "
		       "the claimed URLs name";
	case CURL_ROLE_SHOWS:
		return "it would print or write the Authorization header, and with it the token";
	default:
		return "keybearer curl sets it itself, or it would bring in URLs or credentials "
		       "keybearer cannot check";
	}
}

static int
refuse_option(const struct wrapped_option *opt, int as_short, struct error *err)
{
	return wrapped_refuse_option("curl", opt, as_short, refusal_reason(opt->role), err);
}

/* spelled: "--name" or "-x", as given. */
static int
refuse_unknown(const char *spelled, struct error *err)
{
	size_t len = strlen(spelled);

	return error_set(err, KB_EXIT_USAGE,
			 "keybearer curl does not know the curl option %.*s%s: it passes on only "
			 "the options in its table (exact names, no abbreviations) — see keybearer "
			 "curl --help",
			 WRAPPED_SHOWN(len, spelled));
}

static void
note_option(const struct wrapped_option *opt, const char *value, struct curl_scan *scan)
{
	switch (opt->role) {
	case CURL_ROLE_URL:
		scan->urls[scan->url_count++] = value;
		break;
	case CURL_ROLE_LOCATION:
		scan->follows_redirects = 1;
		break;
	case CURL_ROLE_GLOBOFF:
		scan->globoff = 1;
		break;
	case CURL_ROLE_UPLOAD:
		scan->uploads[scan->upload_count++] = value;
		if (strcmp(value, ".") == 0) /* curl's other name for stdin */
			scan->reads_stdin = 1;
		break;
	default:
		break;
	}
	/* "-", "@-" (-d @-, -F name=@-) and "<-" (-F name=<-) read stdin */
	if (value != NULL &&
	    (strcmp(value, "-") == 0 || strstr(value, "@-") != NULL || strstr(value, "<-") != NULL))
		scan->reads_stdin = 1;
}

/* The value of an option that takes one: the rest of its short bundle, or the next word. */
static int
take_value(const struct wrapped_option *opt, int as_short, const char *rest, char **args, int nargs,
	   int *i, const char **value, struct error *err)
{
	if (rest != NULL && *rest != '\0') {
		*value = rest;
		return 0;
	}
	if (*i + 1 < nargs) {
		*value = args[++*i];
		return 0;
	}
	if (as_short)
		return error_set(
			err, KB_EXIT_USAGE,
			"the curl option -%c (--%s) has no value: it takes the next word — "
			"give one",
			opt->letter, opt->name);
	return error_set(err, KB_EXIT_USAGE,
			 "the curl option --%s has no value: it takes the next word — give one",
			 opt->name);
}

/* "--name" (curl has no "--name=value"), and its value when it takes one. */
static int
scan_long(char **args, int nargs, int *i, struct curl_scan *scan, struct error *err)
{
	const char *word = args[*i], *name = word + 2, *value = NULL;
	size_t name_len = strcspn(name, "=");
	const struct wrapped_option *opt = find_long(name, strlen(name)), *before_equals;

	before_equals = name[name_len] == '=' ? find_long(name, name_len) : NULL;
	if (opt == NULL && before_equals != NULL && before_equals->role >= CURL_ROLE_ROUTE)
		return refuse_option(before_equals, 0, err);
	if (opt == NULL && before_equals != NULL && before_equals->takes_value)
		return error_set(
			err, KB_EXIT_USAGE,
			"keybearer curl does not know the curl option --%.*s=…: curl takes "
			"an option's value as the next word, not after \"=\" — write --%.*s "
			"VALUE",
			(int)name_len, name, (int)name_len, name);
	if (opt == NULL && name[name_len] == '=')
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer curl does not know the curl option --%.*s%s=…: it "
				 "passes on only the options in its table (exact names, no "
				 "abbreviations) — see keybearer curl --help",
				 WRAPPED_SHOWN(name_len, name));
	if (opt == NULL)
		return refuse_unknown(word, err);
	if (opt->role >= CURL_ROLE_ROUTE)
		return refuse_option(opt, 0, err);
	if (opt->takes_value && take_value(opt, 0, NULL, args, nargs, i, &value, err) != 0)
		return -1;
	note_option(opt, value, scan);
	return 0;
}

/* "-x", or a bundle "-sSf": an option that takes a value ends the bundle, and the rest of
 * the word (or the next word) is its value. A bare "-" is no option to curl either. */
static int
scan_short(char **args, int nargs, int *i, struct curl_scan *scan, struct error *err)
{
	const char *word = args[*i], *value;
	const struct wrapped_option *opt;
	size_t j;

	if (word[1] == '\0')
		return refuse_unknown(word, err);
	for (j = 1; word[j] != '\0'; j++) {
		opt = find_short(word[j]);
		if (opt == NULL) {
			char spelled[8];
			snprintf(spelled, sizeof(spelled),
				 isprint((unsigned char)word[j]) ? "-%c" : "-\\x%02x",
				 (unsigned char)word[j]);
			return refuse_unknown(spelled, err);
		}
		if (opt->role >= CURL_ROLE_ROUTE)
			return refuse_option(opt, 1, err);
		value = NULL;
		if (opt->takes_value &&
		    take_value(opt, 1, word + j + 1, args, nargs, i, &value, err) != 0)
			return -1;
		note_option(opt, value, scan);
		if (opt->takes_value)
			break;
	}
	return 0;
}

/* Sorts curl's arguments into options, their values and URLs, as curl 7.88 does: "--" ends
 * the options, and every word after it is a URL. */
static int
scan_options(char **args, int nargs, struct curl_scan *scan, struct error *err)
{
	int i, options_end = 0;

	for (i = 0; i < nargs; i++) {
		const char *word = args[i];
		if (options_end || word[0] != '-') {
			scan->urls[scan->url_count++] = word;
		} else if (strcmp(word, "--") == 0) {
			options_end = 1;
		} else if (word[1] == '-') {
			if (scan_long(args, nargs, &i, scan, err) != 0)
				return -1;
		} else if (scan_short(args, nargs, &i, scan, err) != 0) {
			return -1;
		}
	}
	return 0;
}

/* The URL curl fetches for word, whole, in url (CURL_URL_MAX bytes): curl guesses http://
 * for a word without a scheme. A URL that does not fit is refused, never cut: the part
 * past a cut (dot segments, say) would escape the check. */
static int
effective_url(const char *word, char *url, struct error *err)
{
	size_t len = strlen(word);
	int n = snprintf(url, CURL_URL_MAX, "%s%s", strstr(word, "://") != NULL ? "" : "http://",
			 word);

	if (n < 0 || n >= CURL_URL_MAX)
		return error_set(
			err, KB_EXIT_USAGE,
			"the curl URL %.*s%s is %zu bytes long: keybearer curl checks only "
			"whole URLs of at most %d bytes — shorten it",
			WRAPPED_SHOWN(len, word), len, CURL_URL_MAX - 1);
	return 0;
}

/* Whether the header may go to url (word as given, for messages). */
static int
check_url(const struct config *cfg, const struct profile **p, const char *word, const char *url,
	  struct curl_scan *scan, struct error *err)
{
	if (!scan->globoff && strpbrk(word, "{}[]") != NULL)
		return error_set(
			err, KB_EXIT_USAGE,
			"curl would expand the {} or [] in %.200s into other URLs — add -g "
			"(--globoff) if they are meant literally",
			word);
	/* -L follows the server anywhere on the same origin (curl drops the header for other
	 * hosts): the whole origin must be claimed. */
	return wrapped_check_url(cfg, p, word, url, scan->follows_redirects ? "-L" : NULL,
				 &scan->plain_http, err);
}

/* curl appends an upload's file name to a URL that ends in "/" (or has no path): a name
 * that is a dot segment, or a glob that expands to one, would take the URL out of the path
 * its claim covers. */
static int
check_upload(const char *name, const struct curl_scan *scan, struct error *err)
{
	const char *base = name, *p;
	size_t len = strlen(name);

	if (!scan->globoff && strpbrk(name, "{}[]") != NULL)
		return error_set(err, KB_EXIT_USAGE,
				 "curl would expand the {} or [] in the upload name %.*s%s into "
				 "other names, and append them to the URL — add -g (--globoff) if "
				 "they are meant literally",
				 WRAPPED_SHOWN(len, name));
	for (p = name; *p != '\0'; p++) {
		if (*p == '/' || *p == '\\')
			base = p + 1;
	}
	if (strcmp(base, "..") == 0)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer curl does not take the upload name %.*s%s: curl would "
				 "append \"..\" to a URL that ends in /, and leave the path the "
				 "profile claims — upload a file by its name",
				 WRAPPED_SHOWN(len, name));
	return 0;
}

static void
curl_scan_free(struct curl_scan *scan)
{
	free(scan->urls);
	free(scan->uploads);
	memset(scan, 0, sizeof(*scan));
}

/* Reads curl's arguments: its URLs and uploads, checked as words. */
static int
scan_arguments(char **args, int nargs, struct curl_scan *scan, struct error *err)
{
	size_t i;

	memset(scan, 0, sizeof(*scan));
	scan->urls = calloc((size_t)nargs + 1, sizeof(*scan->urls));
	scan->uploads = calloc((size_t)nargs + 1, sizeof(*scan->uploads));
	if (scan->urls == NULL || scan->uploads == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	if (scan_options(args, nargs, scan, err) != 0)
		return -1;
	for (i = 0; i < scan->upload_count; i++) {
		if (check_upload(scan->uploads[i], scan, err) != 0)
			return -1;
	}
	if (scan->url_count == 0)
		return error_set(err, KB_EXIT_USAGE, "no URL among the curl arguments — give one");
	return 0;
}

/* Loads the config (with --profile, that profile alone; else the claimers of the first URL,
 * which picks the profile) and checks every URL against the profile. */
static int
check_urls(struct config *cfg, const char *profile_flag, struct curl_scan *scan,
	   const struct profile **p, struct error *err)
{
	char *url = malloc(CURL_URL_MAX);
	size_t i;
	int rc = -1;

	if (url == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	if (effective_url(scan->urls[0], url, err) != 0 ||
	    config_load_named_or_for_url(cfg, profile_flag, url, err) != 0)
		goto out;
	*p = profile_flag != NULL ? config_select(cfg, profile_flag, err) : NULL;
	if (profile_flag != NULL && *p == NULL)
		goto out;
	for (i = 0; i < scan->url_count; i++) {
		if (effective_url(scan->urls[i], url, err) != 0 ||
		    check_url(cfg, p, scan->urls[i], url, scan, err) != 0)
			goto out;
	}
	rc = 0;
out:
	free(url);
	return rc;
}

/* One curl run. With watch, its stdout and stderr are held back while they might be a
 * 401's, by the status lines curl dumps on HEADER_PATH. */
/* The config curl reads from the pipe: the header and, for a profile that authenticates
 * with its certificate, that certificate and key (one PEM file: chain, then key), so a
 * token bound to it (RFC 8705 section 3) is accepted. malloc'ed, or NULL. */
static char *
curl_config(const char *token, const struct wrapped_cert *cert)
{
	char *header = output_render(OUTPUT_CURL, token, 0, 0), *config;
	size_t len;

	if (header == NULL || cert->fd < 0)
		return header;
	len = strlen(header) + 4 * sizeof(cert->path) + 64;
	config = malloc(len);
	if (config != NULL)
		snprintf(config, len,
			 "%scert = \"%s\"\ncert-type = PEM\nkey = \"%s\"\nkey-type = PEM\n", header,
			 cert->path, cert->path);
	safefile_free_string(header);
	return config;
}

static int
run_curl(const struct config *cfg, const char *token, const struct wrapped_cert *cert, char **args,
	 int nargs, const struct curl_scan *scan, int watch, struct wrapped_run *run,
	 struct error *err)
{
	char *argv[CURL_OWN_ARGS + CURL_MAX_ARGS + 1], *config;
	struct wrapped_child child = { .tool = "curl",
				       .argv = argv,
				       .config_to = CONFIG_FD,
				       .watch = watch,
				       .header_to = watch ? HEADER_FD : -1 };
	int i, argc = 0, rc = -1;

	memset(run, 0, sizeof(*run));
	if (nargs > CURL_MAX_ARGS)
		return error_set(err, KB_EXIT_USAGE, "too many curl arguments (at most %d)",
				 CURL_MAX_ARGS);
	config = curl_config(token, cert);
	if (config == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	child.config_fd = wrapped_config_pipe(config, "curl", err);
	safefile_free_string(config);
	if (child.config_fd < 0)
		return -1;
	argv[argc++] = "curl";
	argv[argc++] = "-q"; /* no ~/.curlrc: it could name URLs we have not checked */
	argv[argc++] = "-K";
	argv[argc++] = CONFIG_PATH;
	if (watch) {
		argv[argc++] = "-D";
		argv[argc++] = HEADER_PATH;
	}
	if (scan->plain_http) {
		/* The header in the clear stays on this machine: no proxy from the environment,
		 * whatever its variable's spelling. No argument can undo it: the table refuses
		 * --noproxy, -x, --proxy and --preproxy. */
		argv[argc++] = "--noproxy";
		argv[argc++] = "*";
	}
	/* A proxy's CONNECT reply is no answer of the server's: in the header dump it would
	 * pass for one, and let a 401 behind it show (in -i's output too). */
	argv[argc++] = "--suppress-connect-headers";
	for (i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	child.env = wrapped_environment(cfg, NULL);
	if (child.env == NULL)
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	else
		rc = wrapped_run(&child, run, err);
	free(child.env);
	close(child.config_fd);
	return rc;
}

int
plugin_curl(int argc, char **argv, struct error *err)
{
	const char *profile_flag;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct curl_scan scan = { 0 };
	struct wrapped_run run = { 0 };
	struct wrapped_cert cert = { .fd = -1 };
	struct config cfg = { 0 };
	int first, rc = -1, retry;

	first = wrapped_leading_options(argc, argv, &profile_flag);
	if (argc - first > CURL_MAX_ARGS)
		return error_set(err, KB_EXIT_USAGE, "too many curl arguments (at most %d)",
				 CURL_MAX_ARGS);
	if (scan_arguments(argv + first, argc - first, &scan, err) != 0 ||
	    check_urls(&cfg, profile_flag, &scan, &p, err) != 0 ||
	    obtain_token(&cfg, p, -1, &rec, err) != 0 || wrapped_client_cert(p, &cert, err) != 0 ||
	    run_curl(&cfg, rec.access_token, &cert, argv + first, argc - first, &scan, 1, &run,
		     err) != 0)
		goto out;
	/* Only a request curl can send again, and only when nothing but the 401 came of it. */
	retry = run.last_status == 401 && !wrapped_run_shown(&run) && !scan.reads_stdin;
	if (!retry) {
		wrapped_run_release(&run);
	} else {
		/* That exact token is refused: drop it (not one another process put in its
		 * place), then once more with a fresh one. */
		wrapped_run_free(&run);
		if (lockstate_drop(p, rec.access_token, err) < 0)
			goto out;
		cache_record_free(&rec);
		if (obtain_token(&cfg, p, -1, &rec, err) != 0 ||
		    run_curl(&cfg, rec.access_token, &cert, argv + first, argc - first, &scan, 0,
			     &run, err) != 0)
			goto out;
	}
	rc = wrapped_exit("curl", &run, err);
out:
	wrapped_run_free(&run);
	wrapped_client_cert_close(&cert);
	curl_scan_free(&scan);
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
