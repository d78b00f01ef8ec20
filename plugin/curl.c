/* `keybearer curl [--profile P] [--] ARGS...`: the real curl, with the Authorization
 * header in a config it reads from a memory file (-K /dev/fd/3), so the token is in no argv
 * and curl's stdin stays the user's. A 401 gets one retry with a fresh token.
 *
 * curl sends that header to every URL of the command line, so every URL must be one the
 * profile claims, and which words are URLs depends on which options take a value. The
 * arguments are read with keybearer curl's own table (plugin/curl-options.tsv, compiled
 * in): it lists every option passed on, with its exact arity, and the ones refused with a
 * reason. Whatever it does not list is refused too: deny by default. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "obtain.h"
#include "output.h"
#include "lockstate.h"
#include "plugin.h"
#include "safefile.h"
#include "url.h"

extern char **environ;

#define CONFIG_FD	3 /* where curl finds its -K config */
#define CONFIG_PATH	"/dev/fd/3"
#define HEADER_FD	4 /* where curl dumps the response headers (-D) */
#define HEADER_PATH	"/dev/fd/4"
#define HOLD_BACK_MAX	(8 * 1024 * 1024)
#define STATUS_LINE_MAX 512
#define CURL_MAX_ARGS	4096
#define CURL_OWN_ARGS	8    /* curl -q -K CONFIG -D HEADERS --noproxy '*' */
#define CURL_URL_MAX	8192 /* the longest URL keybearer curl checks, with its NUL */
#define SHOWN_MAX	64   /* how much of a word from the command line a message quotes */

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

struct curl_option {
	const char *name; /* long name, without "--" */
	char letter;	  /* short form, or 0 */
	int takes_value;
	enum curl_role role;
};

static const struct curl_option curl_options[] = {
#include "curl-options.inc"
};

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

struct status_line {
	char text[STATUS_LINE_MAX];
	size_t len;
	int too_long; /* longer than any status line: not one */
};

struct curl_run {
	int exit_status;   /* curl's, or 128 + the signal that ended it */
	int last_status;   /* the last HTTP status in the header dump; 0 when none */
	int passed_output; /* some of curl's stdout has reached ours */
	int output_failed; /* our stdout refused some of it */
	char *held;	   /* stdout held back while it might answer a 401 */
	size_t held_len;
};

static volatile sig_atomic_t running_curl;

static void
forward_signal(int sig)
{
	if (running_curl > 0)
		kill((pid_t)running_curl, sig);
}

/* A message quotes at most SHOWN_MAX bytes of a word, and marks the cut:
 * "%.*s%s", shown_len(len), word, shown_rest(len). */
static int
shown_len(size_t len)
{
	return len > SHOWN_MAX ? SHOWN_MAX : (int)len;
}

static const char *
shown_rest(size_t len)
{
	return len > SHOWN_MAX ? "…" : "";
}

/* Exact names only: curl itself takes any unique abbreviation, in any case. */
static const struct curl_option *
find_long(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(curl_options) / sizeof(curl_options[0]); i++) {
		if (strlen(curl_options[i].name) == len &&
		    strncmp(curl_options[i].name, name, len) == 0)
			return &curl_options[i];
	}
	return NULL;
}

static const struct curl_option *
find_short(char letter)
{
	size_t i;

	for (i = 0; i < sizeof(curl_options) / sizeof(curl_options[0]); i++) {
		if (curl_options[i].letter == letter)
			return &curl_options[i];
	}
	return NULL;
}

static const char *
refusal_reason(enum curl_role role)
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
refuse_option(const struct curl_option *opt, int as_short, struct error *err)
{
	if (as_short)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer curl does not take --%s (-%c): %s — leave it out",
				 opt->name, opt->letter, refusal_reason(opt->role));
	return error_set(err, KB_EXIT_USAGE, "keybearer curl does not take --%s: %s — leave it out",
			 opt->name, refusal_reason(opt->role));
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
			 shown_len(len), spelled, shown_rest(len));
}

static void
note_option(const struct curl_option *opt, const char *value, struct curl_scan *scan)
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
take_value(const struct curl_option *opt, int as_short, const char *rest, char **args, int nargs,
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
	const struct curl_option *opt = find_long(name, strlen(name)), *before_equals;

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
				 shown_len(name_len), name, shown_rest(name_len));
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
	const struct curl_option *opt;
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
			shown_len(len), word, shown_rest(len), len, CURL_URL_MAX - 1);
	return 0;
}

/* Whether the header may go to url (word as given, for messages). */
static int
check_url(const struct profile *p, const char *word, const char *url, struct curl_scan *scan,
	  struct error *err)
{
	char origin[URL_HOST_MAX + 32];
	struct url parsed;

	if (!scan->globoff && strpbrk(word, "{}[]") != NULL)
		return error_set(
			err, KB_EXIT_USAGE,
			"curl would expand the {} or [] in %.200s into other URLs — add -g "
			"(--globoff) if they are meant literally",
			word);
	if (!config_profile_claims(p, url) || url_parse(url, &parsed) != 0)
		return error_set(
			err, KB_EXIT_CONFIG,
			"profile %s does not claim %.200s — keybearer hands a token only to "
			"URLs a profile's urls claim",
			p->name, word);
	/* -L follows the server anywhere on the same origin (curl drops the header for other
	 * hosts): the whole origin must be claimed. */
	if (scan->follows_redirects &&
	    (url_origin(url, origin, sizeof(origin)) != 0 || !config_profile_claims(p, origin)))
		return error_set(
			err, KB_EXIT_CONFIG,
			"with -L, profile %s must claim all of %.200s's origin — claim it, "
			"or leave out -L",
			p->name, word);
	if (strcmp(parsed.scheme, "http") == 0) {
		/* a profile claims plain http only on loopback (url_check_endpoint) */
		if (!url_host_is_loopback(parsed.host))
			return error_set(err, KB_EXIT_CONFIG,
					 "%.200s is plain http to %s: the token would travel "
					 "unencrypted — use https://",
					 word, parsed.host);
		scan->plain_http = 1;
	}
	return 0;
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
				 shown_len(len), name, shown_rest(len));
	for (p = name; *p != '\0'; p++) {
		if (*p == '/' || *p == '\\')
			base = p + 1;
	}
	if (strcmp(base, "..") == 0)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer curl does not take the upload name %.*s%s: curl would "
				 "append \"..\" to a URL that ends in /, and leave the path the "
				 "profile claims — upload a file by its name",
				 shown_len(len), name, shown_rest(len));
	return 0;
}

static void
curl_scan_free(struct curl_scan *scan)
{
	free(scan->urls);
	free(scan->uploads);
	memset(scan, 0, sizeof(*scan));
}

/* Reads curl's arguments, and checks every URL against the profile (picked by the first
 * URL when no --profile was given). */
static int
scan_arguments(const struct config *cfg, const char *profile_flag, char **args, int nargs,
	       const struct profile **p, struct curl_scan *scan, struct error *err)
{
	char *url = malloc(CURL_URL_MAX);
	size_t i;
	int rc = -1;

	memset(scan, 0, sizeof(*scan));
	scan->urls = calloc((size_t)nargs + 1, sizeof(*scan->urls));
	scan->uploads = calloc((size_t)nargs + 1, sizeof(*scan->uploads));
	if (url == NULL || scan->urls == NULL || scan->uploads == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	if (scan_options(args, nargs, scan, err) != 0)
		goto out;
	for (i = 0; i < scan->upload_count; i++) {
		if (check_upload(scan->uploads[i], scan, err) != 0)
			goto out;
	}
	if (scan->url_count == 0) {
		error_set(err, KB_EXIT_USAGE, "no URL among the curl arguments — give one");
		goto out;
	}
	*p = profile_flag != NULL ? config_select(cfg, profile_flag, err) : NULL;
	if (profile_flag != NULL && *p == NULL)
		goto out;
	for (i = 0; i < scan->url_count; i++) {
		if (effective_url(scan->urls[i], url, err) != 0)
			goto out;
		if (*p == NULL && (*p = config_match_url(cfg, url)) == NULL) {
			error_set(err, KB_EXIT_CONFIG,
				  "no profile claims %.200s — keybearer hands a token only to URLs "
				  "a profile's urls claim",
				  scan->urls[i]);
			goto out;
		}
		if (check_url(*p, scan->urls[i], url, scan, err) != 0)
			goto out;
	}
	rc = 0;
out:
	free(url);
	if (rc != 0)
		curl_scan_free(scan);
	return rc;
}

/* Notes the status of every "HTTP/x nnn" line in the header dump read so far. A line too
 * long for the buffer is no status line, and is not read from a cut. */
static void
scan_status_lines(struct status_line *line, const char *data, size_t len, struct curl_run *run)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (line->len + 1 < sizeof(line->text))
				line->text[line->len++] = data[i];
			else
				line->too_long = 1;
			continue;
		}
		line->text[line->len] = '\0';
		if (!line->too_long && strncmp(line->text, "HTTP/", 5) == 0 &&
		    strchr(line->text, ' ') != NULL)
			run->last_status = atoi(strchr(line->text, ' ') + 1);
		line->len = 0;
		line->too_long = 0;
	}
}

static void
pass_on(const char *data, size_t len, struct curl_run *run)
{
	run->passed_output = 1;
	if (!run->output_failed && output_write_all(STDOUT_FILENO, data, len) != 0)
		run->output_failed = 1;
}

static void
hold(const char *data, size_t len, struct curl_run *run)
{
	char *grown;

	if (run->held_len + len > HOLD_BACK_MAX) {
		/* too much for a 401's body: it is the real answer */
		pass_on(run->held, run->held_len, run);
		run->held_len = 0;
		pass_on(data, len, run);
		return;
	}
	grown = realloc(run->held, run->held_len + len);
	if (grown == NULL) {
		pass_on(data, len, run);
		return;
	}
	run->held = grown;
	memcpy(run->held + run->held_len, data, len);
	run->held_len += len;
}

/* Relays curl's stdout, holding it back while it might be a 401's body that a retry will
 * replace. The header dump is drained first: curl writes a response's headers before its
 * body. */
static void
relay(int out_fd, int header_fd, struct curl_run *run)
{
	struct pollfd fds[2] = { { .fd = header_fd, .events = POLLIN },
				 { .fd = out_fd, .events = POLLIN } };
	struct status_line line = { .len = 0 };
	char chunk[65536];
	ssize_t n;

	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[0].revents != 0) {
			n = read(header_fd, chunk, sizeof(chunk));
			if (n > 0)
				scan_status_lines(&line, chunk, (size_t)n, run);
			else if (n == 0 || errno != EINTR)
				fds[0].fd = -1;
			continue;
		}
		if (fds[1].revents == 0)
			continue;
		n = read(out_fd, chunk, sizeof(chunk));
		if (n <= 0) {
			if (n == 0 || errno != EINTR)
				fds[1].fd = -1;
			continue;
		}
		if (run->last_status != 0 && run->last_status != 401) {
			if (run->held_len > 0)
				pass_on(run->held, run->held_len, run);
			run->held_len = 0;
			pass_on(chunk, (size_t)n, run);
		} else {
			hold(chunk, (size_t)n, run);
		}
	}
}

static int
wait_for(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 128;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The header config on a pipe, written whole before curl starts, and read once by curl's
 * -K: a second open of /dev/fd/3 (-w @/dev/fd/3, -d @/dev/fd/3, a symlink to it) finds it
 * drained, where a file would hand the token over again, to stdout or elsewhere. The pipe
 * is made big enough and written without blocking: it can never fill. */
static int
config_pipe(const char *token, struct error *err)
{
	char *config = output_render(OUTPUT_CURL, token, 0, 0);
	int fds[2] = { -1, -1 }, problem;
	ssize_t written;
	size_t len;

	if (config == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	len = strlen(config);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		problem = errno;
	} else {
		if (fcntl(fds[1], F_GETPIPE_SZ) < (long)len)
			(void)fcntl(fds[1], F_SETPIPE_SZ, (int)len);
		/* an empty pipe that holds len bytes takes them in one write */
		written = write(fds[1], config, len);
		problem = written < 0 ? errno : (size_t)written < len ? EMSGSIZE : 0;
		close(fds[1]);
		if (problem == 0 && fcntl(fds[0], F_SETFL, 0) != 0)
			problem = errno;
	}
	safefile_free_string(config);
	if (problem != 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot hand curl its config on a pipe: %s — check the process "
				 "limits (pipe sizes: /proc/sys/fs/pipe-user-pages-soft)",
				 strerror(problem == EAGAIN ? EMSGSIZE : problem));
	}
	return fds[0];
}

/* One curl run. With watch, its stdout and headers come through us (see relay). SIGINT,
 * SIGTERM and SIGHUP sent to us go on to curl, so it is never left behind. */
static int
run_curl(const struct config *cfg, const char *token, char **args, int nargs,
	 const struct curl_scan *scan, int watch, struct curl_run *run, struct error *err)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction forward = { .sa_handler = forward_signal }, saved[3];
	char *argv[CURL_OWN_ARGS + CURL_MAX_ARGS + 1], **env;
	int header_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	posix_spawn_file_actions_t actions;
	int i, argc = 0, spawn_rc, config_fd, rc = -1;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	if (nargs > CURL_MAX_ARGS)
		return error_set(err, KB_EXIT_USAGE, "too many curl arguments (at most %d)",
				 CURL_MAX_ARGS);
	config_fd = config_pipe(token, err);
	if (config_fd < 0)
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
	for (i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	if (watch && (pipe2(header_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0)) {
		error_set(err, KB_EXIT_INTERNAL,
			  "cannot create a pipe: %s — check the process "
			  "limits",
			  strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, config_fd, CONFIG_FD);
	if (watch) {
		posix_spawn_file_actions_adddup2(&actions, header_pipe[1], HEADER_FD);
		posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
	}
	for (i = 0; i < 3; i++)
		sigaction(forwarded[i], &forward, &saved[i]);
	env = config_environment_without_secrets(cfg);
	spawn_rc = env != NULL ? posix_spawnp(&pid, "curl", &actions, NULL, argv, env) : ENOMEM;
	free(env);
	posix_spawn_file_actions_destroy(&actions);
	if (spawn_rc == 0) {
		running_curl = pid;
		if (watch) {
			close(header_pipe[1]);
			close(out_pipe[1]);
			header_pipe[1] = out_pipe[1] = -1;
			relay(out_pipe[0], header_pipe[0], run);
		}
		run->exit_status = wait_for(pid);
		running_curl = 0;
		rc = 0;
	} else {
		error_set(err, KB_EXIT_CANNOT_RUN, "cannot run curl: %s — install curl",
			  strerror(spawn_rc));
	}
	for (i = 0; i < 3; i++)
		sigaction(forwarded[i], &saved[i], NULL);
out:
	close(config_fd);
	for (i = 0; i < 2; i++) {
		if (header_pipe[i] >= 0)
			close(header_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	return rc;
}

int
plugin_curl(int argc, char **argv, struct error *err)
{
	const char *profile_flag = NULL;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct curl_scan scan = { 0 };
	struct curl_run run = { 0 };
	struct config cfg;
	int first = 1, rc = -1, retry;

	if (first < argc && strncmp(argv[first], "--profile=", 10) == 0) {
		profile_flag = argv[first++] + 10;
	} else if (first + 1 < argc && strcmp(argv[first], "--profile") == 0) {
		profile_flag = argv[first + 1];
		first += 2;
	}
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (argc - first > CURL_MAX_ARGS)
		return error_set(err, KB_EXIT_USAGE, "too many curl arguments (at most %d)",
				 CURL_MAX_ARGS);
	if (config_load(&cfg, err) != 0)
		return -1;
	if (scan_arguments(&cfg, profile_flag, argv + first, argc - first, &p, &scan, err) != 0 ||
	    obtain_token(&cfg, p, -1, &rec, err) != 0 ||
	    run_curl(&cfg, rec.access_token, argv + first, argc - first, &scan, 1, &run, err) != 0)
		goto out;
	/* Only a request curl can send again, and only when the 401 is all it printed. */
	retry = run.last_status == 401 && !run.passed_output && !scan.reads_stdin;
	if (!retry && run.held_len > 0)
		pass_on(run.held, run.held_len, &run);
	if (retry) {
		/* That exact token is refused: drop it (not one another process put in its
		 * place), then once more with a fresh one. */
		free(run.held);
		run.held = NULL;
		if (lockstate_drop(p, rec.access_token, err) < 0)
			goto out;
		cache_record_free(&rec);
		if (obtain_token(&cfg, p, -1, &rec, err) != 0 ||
		    run_curl(&cfg, rec.access_token, argv + first, argc - first, &scan, 0, &run,
			     err) != 0)
			goto out;
	}
	rc = 0;
	if (run.output_failed) {
		rc = error_set(err, KB_EXIT_IO,
			       "cannot write curl's output: %s — check where "
			       "standard output goes",
			       strerror(errno));
	} else if (run.exit_status != 0) {
		/* curl has said what went wrong; we only pass its status on */
		err->code = (enum exit_code)run.exit_status;
		err->message[0] = '\0';
		rc = -1;
	}
out:
	free(run.held);
	curl_scan_free(&scan);
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
