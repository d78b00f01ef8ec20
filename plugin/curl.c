/* `keybearer curl [--profile P] [--] ARGS...`: the real curl, with the Authorization
 * header in a config it reads from a pipe (-K /dev/fd/3), so the token is in no argv and
 * curl's stdin stays the user's. A 401 gets one retry with a fresh token. */
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
#include <unistd.h>

#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"

extern char **environ;

#define CONFIG_FD	3 /* where curl finds its -K config */
#define HEADER_FD	4 /* where curl dumps the response headers (-D) */
#define HOLD_BACK_MAX	(8 * 1024 * 1024)
#define STATUS_LINE_MAX 512
#define CURL_MAX_ARGS	4096

struct curl_run {
	int exit_status;   /* curl's, or 128 + the signal that ended it */
	int last_status;   /* the last HTTP status in the header dump; 0 when none */
	int passed_output; /* some of curl's stdout has reached ours */
};

/* What curl printed while we could not yet tell whether it answers a 401. */
struct held_output {
	char *data;
	size_t len;
};

/* The URLs among curl's arguments: plain http(s):// words and --url values. */
static int
is_url_argument(char **args, int i)
{
	return strncasecmp(args[i], "https://", 8) == 0 ||
	       strncasecmp(args[i], "http://", 7) == 0 ||
	       (i > 0 && strcmp(args[i - 1], "--url") == 0);
}

/* Every URL must be one the profile claims: a token goes nowhere else. */
static int
choose_profile(const struct config *cfg, const char *profile_flag, char **args, int nargs,
	       const struct profile **p, struct error *err)
{
	int i, urls = 0;

	*p = profile_flag != NULL ? config_select(cfg, profile_flag, err) : NULL;
	if (profile_flag != NULL && *p == NULL)
		return -1;
	for (i = 0; i < nargs; i++) {
		if (!is_url_argument(args, i))
			continue;
		urls++;
		if (*p == NULL)
			*p = config_match_url(cfg, args[i]);
		if (*p == NULL || !config_profile_claims(*p, args[i]))
			return error_set(
				err, KB_EXIT_CONFIG,
				"no profile%s%s claims %.200s — keybearer hands a token only "
				"to URLs a profile's urls claim",
				*p != NULL ? " " : "", *p != NULL ? (*p)->name : "", args[i]);
	}
	if (urls == 0)
		return error_set(err, KB_EXIT_USAGE,
				 "no URL among the curl arguments — give it as "
				 "a plain argument or with --url");
	return 0;
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

static int
pass_on(const char *data, size_t len, struct curl_run *run)
{
	run->passed_output = 1;
	return output_write_all(STDOUT_FILENO, data, len);
}

/* Relays curl's stdout, holding it back while the answer might be a 401 whose body the
 * retry replaces. The header dump is drained first: curl writes a response's headers
 * before its body. */
static void
relay(int out_fd, int header_fd, struct curl_run *run)
{
	struct pollfd fds[2] = { { .fd = header_fd, .events = POLLIN },
				 { .fd = out_fd, .events = POLLIN } };
	struct held_output held = { NULL, 0 };
	char chunk[65536], line[STATUS_LINE_MAX];
	size_t line_len = 0;
	ssize_t n;

	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
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
		if (run->last_status != 0 && run->last_status != 401 && held.len == 0) {
			pass_on(chunk, (size_t)n, run);
		} else if (held.len + (size_t)n <= HOLD_BACK_MAX) {
			char *grown = realloc(held.data, held.len + (size_t)n);
			if (grown != NULL) {
				held.data = grown;
				memcpy(held.data + held.len, chunk, (size_t)n);
				held.len += (size_t)n;
			}
		} else {
			/* too much for a 401's body: it is the real answer */
			pass_on(held.data, held.len, run);
			pass_on(chunk, (size_t)n, run);
			held.len = 0;
		}
		if (held.len > 0 && run->last_status != 0 && run->last_status != 401) {
			pass_on(held.data, held.len, run);
			held.len = 0;
		}
	}
	if (held.len > 0 && run->last_status != 401)
		pass_on(held.data, held.len, run);
	free(held.data);
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

/* One curl run. With watch, its stdout and headers come through us (see relay). */
static int
run_curl(const char *token, char **args, int nargs, int watch, struct curl_run *run,
	 struct error *err)
{
	char *config = output_render(OUTPUT_CURL, token, 0, 0);
	char *argv[CURL_MAX_ARGS + 6];
	char config_path[32], header_path[32];
	int config_pipe[2] = { -1, -1 }, header_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	posix_spawn_file_actions_t actions;
	int i, argc = 0, spawn_rc, rc = -1;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	if (nargs > CURL_MAX_ARGS) {
		error_set(err, KB_EXIT_USAGE, "too many curl arguments (at most %d)",
			  CURL_MAX_ARGS);
		goto out;
	}
	if (config == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "cannot write curl's config — free some memory");
		goto out;
	}
	snprintf(config_path, sizeof(config_path), "/dev/fd/%d", CONFIG_FD);
	snprintf(header_path, sizeof(header_path), "/dev/fd/%d", HEADER_FD);
	argv[argc++] = "curl";
	argv[argc++] = "-K";
	argv[argc++] = config_path;
	if (watch) {
		argv[argc++] = "-D";
		argv[argc++] = header_path;
	}
	for (i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	if (pipe2(config_pipe, O_CLOEXEC) != 0 ||
	    (watch && (pipe2(header_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0))) {
		error_set(err, KB_EXIT_INTERNAL,
			  "cannot create a pipe: %s — check the process "
			  "limits",
			  strerror(errno));
		goto out;
	}
	/* The config is far smaller than a pipe's buffer: write it all before curl starts. */
	if (output_write_all(config_pipe[1], config, strlen(config)) != 0) {
		error_set(err, KB_EXIT_INTERNAL, "cannot hand curl its config: %s — retry",
			  strerror(errno));
		goto out;
	}
	close(config_pipe[1]);
	config_pipe[1] = -1;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, config_pipe[0], CONFIG_FD);
	if (watch) {
		posix_spawn_file_actions_adddup2(&actions, header_pipe[1], HEADER_FD);
		posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
	}
	spawn_rc = posix_spawnp(&pid, "curl", &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	if (spawn_rc != 0) {
		error_set(err, KB_EXIT_CANNOT_RUN, "cannot run curl: %s — install curl",
			  strerror(spawn_rc));
		goto out;
	}
	close(config_pipe[0]);
	config_pipe[0] = -1;
	if (watch) {
		close(header_pipe[1]);
		close(out_pipe[1]);
		header_pipe[1] = out_pipe[1] = -1;
		relay(out_pipe[0], header_pipe[0], run);
	}
	run->exit_status = wait_for(pid);
	rc = 0;
out:
	for (i = 0; i < 2; i++) {
		if (config_pipe[i] >= 0)
			close(config_pipe[i]);
		if (header_pipe[i] >= 0)
			close(header_pipe[i]);
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
	}
	safefile_free_string(config);
	if (rc != 0 && err->code == KB_EXIT_OK)
		error_set(err, KB_EXIT_USAGE, "too many curl arguments (at most %d)",
			  CURL_MAX_ARGS);
	return rc;
}

int
plugin_curl(int argc, char **argv, struct error *err)
{
	const char *profile_flag = NULL;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct curl_run run;
	struct config cfg;
	int first = 1, rc = -1;

	if (first < argc && strncmp(argv[first], "--profile=", 10) == 0) {
		profile_flag = argv[first++] + 10;
	} else if (first + 1 < argc && strcmp(argv[first], "--profile") == 0) {
		profile_flag = argv[first + 1];
		first += 2;
	}
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	if (config_load(&cfg, err) != 0)
		return -1;
	if (choose_profile(&cfg, profile_flag, argv + first, argc - first, &p, err) != 0 ||
	    obtain_token(&cfg, p, -1, &rec, err) != 0 ||
	    run_curl(rec.access_token, argv + first, argc - first, 1, &run, err) != 0)
		goto out;
	if (run.last_status == 401 && !run.passed_output) {
		/* That exact token is refused: drop it (not one another process put in its
		 * place), then once more with a fresh one. */
		if (cache_drop(p, rec.access_token, err) < 0)
			goto out;
		cache_record_free(&rec);
		if (obtain_token(&cfg, p, -1, &rec, err) != 0 ||
		    run_curl(rec.access_token, argv + first, argc - first, 0, &run, err) != 0)
			goto out;
	}
	rc = 0;
	if (run.exit_status != 0) {
		/* curl has said what went wrong; we only pass its status on */
		err->code = (enum exit_code)run.exit_status;
		err->message[0] = '\0';
		rc = -1;
	}
out:
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
