/* `keybearer curl [--profile P] [--] ARGS...`: the real curl, with the Authorization
 * header in a config it reads from a memory file (-K /dev/fd/3), so the token is in no argv
 * and curl's stdin stays the user's. A 401 gets one retry with a fresh token.
 *
 * curl sends that header to every URL of the command line, so every URL must be one the
 * profile claims: the arguments are read with the installed curl's own option table (from
 * `curl --help all`), which says which words are option values and which are URLs. */
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
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "obtain.h"
#include "output.h"
#include "lockstate.h"
#include "plugin.h"
#include "safefile.h"
#include "url.h"
#include "monotonic.h"

extern char **environ;

#define CONFIG_FD	3 /* where curl finds its -K config */
#define HEADER_FD	4 /* where curl dumps the response headers (-D) */
#define HOLD_BACK_MAX	(8 * 1024 * 1024)
#define STATUS_LINE_MAX 512
#define CURL_MAX_ARGS	4096
#define HELP_MAX	(512 * 1024)
#define HELP_SECONDS	5

struct curl_option {
	char name[64]; /* long name, without "--" */
	char letter;   /* short form, or 0 */
	int takes_value;
};

struct curl_options {
	struct curl_option *list;
	size_t count;
};

/* What the arguments ask of curl, beyond their URLs. */
struct curl_scan {
	int follows_redirects; /* -L: the header goes wherever the server sends curl */
	int globoff;	       /* -g: {} and [] in URLs are literal */
	int reads_stdin;       /* a retry could not send the same request again */
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

/* One line of `curl --help all`: " -K, --config <file>  Read config from a file". */
static int
parse_help_line(const char *line, struct curl_option *opt)
{
	size_t len;

	memset(opt, 0, sizeof(*opt));
	line += strspn(line, " ");
	if (line[0] == '-' && line[1] != '-' && line[1] != '\0' && line[2] == ',') {
		opt->letter = line[1];
		line += 3 + strspn(line + 3, " ");
	}
	if (strncmp(line, "--", 2) != 0)
		return -1;
	line += 2;
	len = strcspn(line, " ");
	if (len == 0 || len >= sizeof(opt->name))
		return -1;
	memcpy(opt->name, line, len);
	/* a value is documented as <...> right after the name; a switch has its text there */
	opt->takes_value = line[len + strspn(line + len, " ")] == '<';
	return 0;
}

static int
load_options(const struct config *cfg, struct curl_options *opts, struct error *err)
{
	char *argv[] = { "curl", "--help", "all", NULL };
	posix_spawn_file_actions_t actions;
	int fds[2], status, spawn_rc;
	char *text = malloc(HELP_MAX + 1), *line, *next, **env;
	size_t len = 0;
	long long deadline = monotonic_ms() + HELP_SECONDS * 1000;
	pid_t pid;

	opts->list = NULL;
	opts->count = 0;
	if (text == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		free(text);
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot ask curl for its options: %s — "
				 "check the process limits",
				 strerror(errno));
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
	env = config_environment_without_secrets(cfg);
	spawn_rc = env != NULL ? posix_spawnp(&pid, "curl", &actions, NULL, argv, env) : ENOMEM;
	free(env);
	posix_spawn_file_actions_destroy(&actions);
	close(fds[1]);
	if (spawn_rc != 0) {
		close(fds[0]);
		free(text);
		return error_set(err, KB_EXIT_CANNOT_RUN, "cannot run curl: %s — install curl",
				 strerror(spawn_rc));
	}
	for (;;) {
		struct pollfd pfd = { .fd = fds[0], .events = POLLIN };
		long long left = deadline - monotonic_ms();
		ssize_t n;
		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			break;
		n = read(fds[0], text + len, HELP_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == HELP_MAX)
			break;
	}
	close(fds[0]);
	kill(pid, SIGKILL); /* it has answered, or had its time */
	waitpid(pid, &status, 0);
	text[len] = '\0';
	opts->list = calloc(len / 16 + 1, sizeof(*opts->list));
	for (line = text; opts->list != NULL && line != NULL && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (parse_help_line(line, &opts->list[opts->count]) == 0)
			opts->count++;
	}
	free(text);
	if (opts->count == 0)
		return error_set(err, KB_EXIT_CANNOT_RUN,
				 "curl --help all listed no options — "
				 "install a curl that does (7.73 or newer)");
	return 0;
}

/* curl takes any unique abbreviation of a long option, and --no-X for a switch X. */
static const struct curl_option *
find_long(const struct curl_options *opts, const char *word)
{
	const struct curl_option *found = NULL;
	size_t i, len = strlen(word), matches = 0;

	for (i = 0; i < opts->count; i++) {
		if (strcmp(opts->list[i].name, word) == 0)
			return &opts->list[i];
	}
	if (strncmp(word, "no-", 3) == 0) {
		for (i = 0; i < opts->count; i++) {
			if (!opts->list[i].takes_value && strcmp(opts->list[i].name, word + 3) == 0)
				return &opts->list[i];
		}
	}
	for (i = 0; i < opts->count; i++) {
		if (strncmp(opts->list[i].name, word, len) == 0) {
			found = &opts->list[i];
			matches++;
		}
	}
	return matches == 1 ? found : NULL;
}

static const struct curl_option *
find_short(const struct curl_options *opts, char letter)
{
	size_t i;

	for (i = 0; i < opts->count; i++) {
		if (opts->list[i].letter == letter)
			return &opts->list[i];
	}
	return NULL;
}

/* Options keybearer cannot vouch for: a config file may name more URLs, trusted locations
 * send the header to any host, and the header dump is keybearer's own. */
static int
refused_option(const struct curl_option *opt, struct error *err)
{
	static const char *const refused[] = { "config", "location-trusted", "dump-header",
					       "expand-url" };
	size_t i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strcmp(opt->name, refused[i]) == 0)
			return error_set(err, KB_EXIT_USAGE,
					 "keybearer curl does not take --%s: keybearer could not "
					 "tell where the token would go — leave it out",
					 opt->name);
	}
	return 0;
}

static void
note_option(const struct curl_option *opt, const char *value, struct curl_scan *scan)
{
	if (strcmp(opt->name, "location") == 0)
		scan->follows_redirects = 1;
	else if (strcmp(opt->name, "globoff") == 0)
		scan->globoff = 1;
	if (value != NULL && (strcmp(value, "-") == 0 || strstr(value, "@-") != NULL))
		scan->reads_stdin = 1;
}

/* The URL curl would fetch for word, as the header's destination: curl guesses http:// for
 * a word without a scheme. */
static int
check_url(const struct profile *p, const char *word, const struct curl_scan *scan,
	  struct error *err)
{
	char guessed[4200], origin[URL_HOST_MAX + 32];
	const char *url = word;

	if (!scan->globoff && strpbrk(word, "{}[]") != NULL)
		return error_set(
			err, KB_EXIT_USAGE,
			"curl would expand the {} or [] in %.200s into other URLs — add -g "
			"(--globoff) if they are meant literally",
			word);
	if (strstr(word, "://") == NULL) {
		snprintf(guessed, sizeof(guessed), "http://%s", word);
		url = guessed;
	}
	if (!config_profile_claims(p, url))
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
	return 0;
}

/* Splits curl's arguments into option values and URLs, checks every URL against the
 * profile (picked by the first URL when no --profile was given). */
static int
scan_arguments(const struct config *cfg, const char *profile_flag, char **args, int nargs,
	       const struct profile **p, struct curl_scan *scan, struct error *err)
{
	struct curl_options opts;
	const struct curl_option *opt;
	int i, j, rc = -1, *is_url = calloc((size_t)nargs + 1, sizeof(int)), urls = 0;
	const char *value;

	memset(scan, 0, sizeof(*scan));
	if (is_url == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	if (load_options(cfg, &opts, err) != 0) {
		free(is_url);
		return -1;
	}
	for (i = 0; i < nargs; i++) {
		if (args[i][0] != '-' || args[i][1] == '\0') {
			is_url[i] = 1;
			continue;
		}
		if (args[i][1] == '-') {
			opt = find_long(&opts, args[i] + 2);
			if (opt == NULL) {
				error_set(err, KB_EXIT_USAGE,
					  "unknown or ambiguous curl option %.64s "
					  "— see curl --help all",
					  args[i]);
				goto out;
			}
			value = opt->takes_value ? (i + 1 < nargs ? args[++i] : "") : NULL;
			if (opt->takes_value && strcmp(opt->name, "url") == 0)
				is_url[i] = 1;
			if (refused_option(opt, err) != 0)
				goto out;
			note_option(opt, value, scan);
			continue;
		}
		for (j = 1; args[i][j] != '\0'; j++) {
			opt = find_short(&opts, args[i][j]);
			if (opt == NULL) {
				error_set(err, KB_EXIT_USAGE,
					  "unknown curl option -%c — see curl "
					  "--help all",
					  args[i][j]);
				goto out;
			}
			if (refused_option(opt, err) != 0)
				goto out;
			value = NULL;
			if (opt->takes_value)
				value = args[i][j + 1] != '\0' ? args[i] + j + 1
							       : (i + 1 < nargs ? args[++i] : "");
			note_option(opt, value, scan);
			if (opt->takes_value)
				break;
		}
	}
	*p = profile_flag != NULL ? config_select(cfg, profile_flag, err) : NULL;
	if (profile_flag != NULL && *p == NULL)
		goto out;
	for (i = 0; i < nargs; i++) {
		if (!is_url[i])
			continue;
		urls++;
		if (*p == NULL) {
			char guessed[4200];
			snprintf(guessed, sizeof(guessed), "%s%s",
				 strstr(args[i], "://") != NULL ? "" : "http://", args[i]);
			*p = config_match_url(cfg, guessed);
			if (*p == NULL) {
				error_set(err, KB_EXIT_CONFIG,
					  "no profile claims %.200s — keybearer hands a token only "
					  "to URLs a profile's urls claim",
					  args[i]);
				goto out;
			}
		}
		if (check_url(*p, args[i], scan, err) != 0)
			goto out;
	}
	if (urls == 0) {
		error_set(err, KB_EXIT_USAGE, "no URL among the curl arguments — give one");
		goto out;
	}
	rc = 0;
out:
	free(opts.list);
	free(is_url);
	return rc;
}

/* Notes the status of every "HTTP/x nnn" line in the header dump read so far. */
static void
scan_status_lines(char *line, size_t *line_len, const char *data, size_t len, struct curl_run *run)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (*line_len + 1 < STATUS_LINE_MAX)
				line[(*line_len)++] = data[i];
			continue;
		}
		line[*line_len] = '\0';
		if (strncmp(line, "HTTP/", 5) == 0 && strchr(line, ' ') != NULL)
			run->last_status = atoi(strchr(line, ' ') + 1);
		*line_len = 0;
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
	char chunk[65536], line[STATUS_LINE_MAX];
	size_t line_len = 0;
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
				scan_status_lines(line, &line_len, chunk, (size_t)n, run);
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

/* The header config in a memory file: no pipe to fill, nothing on disk. */
static int
config_file(const char *token, struct error *err)
{
	char *config = output_render(OUTPUT_CURL, token, 0, 0);
	int fd = memfd_create("keybearer-curl-config", MFD_CLOEXEC);

	if (config == NULL || fd < 0 || output_write_all(fd, config, strlen(config)) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		error_set(err, KB_EXIT_INTERNAL,
			  "cannot write curl's config: %s — check the "
			  "process limits",
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	safefile_free_string(config);
	return fd;
}

/* One curl run. With watch, its stdout and headers come through us (see relay). SIGINT,
 * SIGTERM and SIGHUP sent to us go on to curl, so it is never left behind. */
static int
run_curl(const struct config *cfg, const char *token, char **args, int nargs, int watch,
	 struct curl_run *run, struct error *err)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction forward = { .sa_handler = forward_signal }, saved[3];
	char *argv[CURL_MAX_ARGS + 8], config_path[32], header_path[32], **env;
	int header_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	posix_spawn_file_actions_t actions;
	int i, argc = 0, spawn_rc, config_fd, rc = -1;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	config_fd = config_file(token, err);
	if (config_fd < 0)
		return -1;
	snprintf(config_path, sizeof(config_path), "/dev/fd/%d", CONFIG_FD);
	snprintf(header_path, sizeof(header_path), "/dev/fd/%d", HEADER_FD);
	argv[argc++] = "curl";
	argv[argc++] = "-q"; /* no ~/.curlrc: it could name URLs we have not checked */
	argv[argc++] = "-K";
	argv[argc++] = config_path;
	if (watch) {
		argv[argc++] = "-D";
		argv[argc++] = header_path;
	}
	for (i = 0; i < nargs && i < CURL_MAX_ARGS; i++)
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
	struct curl_scan scan;
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
	    run_curl(&cfg, rec.access_token, argv + first, argc - first, 1, &run, err) != 0)
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
		    run_curl(&cfg, rec.access_token, argv + first, argc - first, 0, &run, err) != 0)
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
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
