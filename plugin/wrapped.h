/* What keybearer curl and keybearer wget share: reading a tool's command line with a
 * compiled-in table of its options, checking every URL on it against the profile, handing
 * the tool its Authorization header in a config it can read only once, and running it with
 * its output held back while that output might be a 401's, which a retry will replace. */
#ifndef KEYBEARER_WRAPPED_H
#define KEYBEARER_WRAPPED_H

#include <stddef.h>

#include "config.h"
#include "error.h"

/* A message quotes at most WRAPPED_SHOWN_MAX bytes of a word from the command line, and
 * marks the cut: "%.*s%s", WRAPPED_SHOWN(len, word). */
#define WRAPPED_SHOWN_MAX	 64
#define WRAPPED_SHOWN(len, word) wrapped_shown_len(len), (word), wrapped_shown_rest(len)
int wrapped_shown_len(size_t len);
const char *wrapped_shown_rest(size_t len);

/* One row of a tool's option table (plugin/<tool>-options.tsv, compiled in by
 * plugin/option-table.cmake). */
struct wrapped_option {
	const char *name; /* long name, without "--" */
	char letter;	  /* short form, or 0 */
	int takes_value;
	int role; /* the tool's own enum: what the option is to keybearer */
};

/* Exact names only: the tools take abbreviations, and an abbreviation is refused. */
/* "keybearer TOOL does not take --NAME (-X): WHY — leave it out" (KB_EXIT_USAGE); -1. */
int wrapped_refuse_option(const char *tool, const struct wrapped_option *opt, int as_short,
			  const char *why, struct error *err);

const struct wrapped_option *wrapped_find_long(const struct wrapped_option *table, size_t count,
					       const char *name, size_t len);
const struct wrapped_option *wrapped_find_short(const struct wrapped_option *table, size_t count,
						char letter);

/* "--profile P", "--profile=P" and then "--" before a tool's arguments: sets *profile_flag
 * (or leaves it NULL) and returns the index of the tool's first argument. */
int wrapped_leading_options(int argc, char **argv, const char **profile_flag);

/* Whether the tool may send the header to url (word: the command line's spelling of it,
 * for messages). *p is the profile; while it is NULL, url picks it. url must be one the
 * profile claims; when whole_origin names an option (curl's "-L", which follows redirects
 * on the same origin), the whole origin must be claimed. A plain-http URL, which a profile
 * claims only on loopback, sets *plain_http: no proxy may see it. */
int wrapped_check_url(const struct config *cfg, const struct profile **p, const char *word,
		      const char *url, const char *whole_origin, int *plain_http,
		      struct error *err);

/* The config on a pipe, written whole and closed at our end: a tool that reads its config
 * from a pipe (curl -K) drains it, and any later open of that descriptor finds nothing.
 * Returns the read end (close-on-exec), or -1 with err set. */
int wrapped_config_pipe(const char *text, const char *tool, struct error *err);

/* The config in a memory file for a tool that reads only regular files (wget --config):
 * path names our own descriptor of it (/proc/PID/fd/N), and the tool inherits none. We
 * hold a lease on it, so the kernel stops the tool's open of path and tells us; we close
 * the descriptor, which lets that open finish and makes path vanish: the first open reads
 * the config, every later one (another option naming path, a symlink to it) finds nothing. */
struct wrapped_once {
	int fd; /* ours, until the tool opened path; then -1 */
	char path[64];
};
int wrapped_config_once(const char *text, const char *tool, struct wrapped_once *once,
			struct error *err);
/* Closes the descriptor if the tool has not opened it. */
void wrapped_config_once_close(struct wrapped_once *once);

/* mutual-TLS client authentication: the profile's certificate chain and key, which
 * keybearer-fetch writes into a memory file that it seals (no one can change it after);
 * keybearer never reads the key. path is /proc/PID/fd/N of our own descriptor, which the
 * tool opens as often as it needs while we hold it; the tool inherits no descriptor, so
 * nothing it starts does. */
struct wrapped_cert {
	int fd; /* -1 when the profile presents none */
	char path[64];
};
int wrapped_client_cert(const struct profile *p, struct wrapped_cert *cert, struct error *err);
void wrapped_client_cert_close(struct wrapped_cert *cert);

/* The tool's stdout or stderr, held back while it might be a 401's. */
struct wrapped_stream {
	int to; /* our descriptor it goes on to: 1 or 2 */
	char *held;
	size_t held_len;
	int passed; /* some of it has reached ours */
	int failed; /* ours refused some of it (errno in error) */
	int error;
};

struct wrapped_run {
	int exit_status;   /* the tool's, or 128 + the signal that ended it */
	int last_status;   /* the last HTTP status in the header dump; 0 when none */
	int body_releases; /* no header dump (wget): only a body on stdout says no 401 */
	int released;	   /* the output goes on as it comes */
	struct wrapped_stream out, err;
};

/* How to run the tool. */
struct wrapped_child {
	const char *tool; /* found on PATH */
	char **argv;
	char **env;
	int config_fd; /* dup2'ed to config_to in the tool, or -1 */
	int config_to;
	int watch;     /* its stdout and stderr come through run (see wrapped_run) */
	int header_to; /* with watch: where the tool dumps the response headers, or -1 */
	int released;  /* with watch: pass everything on as it comes */
};

/* Runs the tool and waits for it. With watch, its stdout and stderr are held back in run
 * until the answer is known not to be a 401: by the last status line of the header dump
 * (header_to), or, with run->body_releases, by a body on stdout; a tool's stream longer
 * than 8 MiB goes on, and its answer is then final. SIGINT, SIGTERM and SIGHUP sent to us
 * go on to the tool, so it is never left behind. The run record is reset first; free it
 * with wrapped_run_free. */
int wrapped_run(const struct wrapped_child *child, struct wrapped_run *run, struct error *err);

/* Something of the run reached our stdout or stderr: a retry would show both answers. */
int wrapped_run_shown(const struct wrapped_run *run);

/* Passes on what is still held, as the tool wrote it. */
void wrapped_run_release(struct wrapped_run *run);

void wrapped_run_free(struct wrapped_run *run);

/* keybearer's environment for the tool: without the client secrets, TLS key logs, and the
 * variables named in drop (NULL-terminated). Free the array, not its strings. */
char **wrapped_environment(const struct config *cfg, const char *const *drop);

/* The exit status the tool gave, passed on with no message of ours (the tool said what
 * went wrong), or the failure to write its output. Returns 0 or -1 with err set. */
int wrapped_exit(const char *tool, const struct wrapped_run *run, struct error *err);

#endif
