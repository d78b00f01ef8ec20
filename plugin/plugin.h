/* Host-tool credential protocols: one file per tool, one row per tool in the table below.
 * Each plugin reads its tool's request, picks the profile whose urls claim the URL asked
 * about, gets a token from the cache (or keybearer-fetch), and writes its tool's answer:
 * read, act, write. */
#ifndef KEYBEARER_PLUGIN_H
#define KEYBEARER_PLUGIN_H

#include <json-c/json.h>
#include <stddef.h>
#include <sys/types.h>

#include "cache.h"
#include "config.h"
#include "error.h"

struct plugin {
	const char *name;    /* keybearer <name> ... */
	const char *program; /* the installed link that runs it directly, or NULL */
	const char *summary; /* one line for keybearer --help */
	const char *help;
	/* argv[0] is the plugin's name, whichever way it was called */
	int (*run)(int argc, char **argv, struct error *err);
};

extern const struct plugin plugins[];
extern const size_t plugin_count;

/* The plugin a command name or program name (a link's basename) selects, or NULL. */
const struct plugin *plugin_find(const char *command, const char *program);

/* The profile for url: the one profile_flag names (which must claim url), or the one
 * whose urls claim it. Returns 0 with *p set; 1 when no profile claims url; -1 with err set
 * when url cannot be matched whole (its host is too long: never cut to fit) or the flag
 * names no profile. */
int plugin_match_url(const struct config *cfg, const char *url, const char *profile_flag,
		     const struct profile **p, struct error *err);

/* A token for url, from the profile plugin_match_url picks. Returns 0 with *p and rec set;
 * 1 when no profile claims url (the tool gets "no credential", and nothing is handed out);
 * -1 with err set. */
int plugin_token_for_url(const struct config *cfg, const char *url, const char *profile_flag,
			 const struct profile **p, struct cache_record *rec, struct error *err);

/* A token for the profile the flag (or the usual rules) selects, for tools that send no
 * URL. */
int plugin_token_for_profile(const struct config *cfg, const char *profile_flag,
			     const struct profile **p, struct cache_record *rec, struct error *err);

/* A message quotes a value from a host tool as "%.*s%s" with PLUGIN_QUOTE(value, max): at
 * most max bytes of it, and "…" when there is more, so a cut quote never passes for the
 * whole value (and the message keeps its "what to do"). */
#define PLUGIN_QUOTE(value, max) (int)(max), (value), plugin_cut_mark((value), (max))
const char *plugin_cut_mark(const char *value, size_t max);

/* keybearer's own files are private (umask 077), but a command it runs (exec, curl, wget)
 * makes its files as its caller would: main notes the caller's umask, and
 * plugin_umask_for_command sets it for a command about to start, returning keybearer's own
 * to put back. (A secret command runs in keybearer-fetch, under 077: it makes no file of
 * the caller's.) */
void plugin_note_caller_umask(mode_t mask);
mode_t plugin_umask_for_command(void);

/* Reads all of stdin, at most max bytes (more is an error), NUL-terminated. */
int plugin_read_stdin(char **out, size_t *len, size_t max, struct error *err);

/* The parsers of the tools' requests, on their own for the fuzz harnesses. */
struct git_request {
	const char *protocol, *host, *path; /* point into the parsed text */
	const char *password, *credential;  /* what erase is erasing */
	int authtype;			    /* git offered capability[]=authtype */
};
int git_parse_request(char *text, size_t len, struct git_request *req, struct error *err);
char *git_request_url(const struct git_request *req);
int bazel_parse_request(const char *text, size_t len, char **uri, struct error *err);
int kubectl_parse_exec_info(const char *info, const char **api_version, char **server,
			    struct error *err);
enum cargo_kind {
	CARGO_OTHER, /* an operation keybearer does not serve */
	CARGO_GET,
	CARGO_LOGIN, /* login and logout are keybearer's own commands: the answer says so */
	CARGO_LOGOUT,
};

struct cargo_request {
	enum cargo_kind kind;
	const char *index_url;	  /* without cargo's "sparse+"; whole, never cut */
	const char *profile;	  /* from args: --profile NAME, or NULL */
	const char *problem;	  /* why the request cannot be served, for an Err "other" */
	struct json_object *json; /* the parsed request, which index_url and profile are in */
};
/* Parses one request line; cargo_request_free releases it, whatever the answer. */
int cargo_parse_request(const char *line, struct cargo_request *req);
void cargo_request_free(struct cargo_request *req);

/* What go writes on a GOAUTH command's stdin after a 4xx (go help goauth): its status, and
 * whether it shows the token was refused — a 401, or a 403 whose WWW-Authenticate has a
 * Bearer challenge with error="invalid_token" (RFC 6750 section 3.1). */
struct goauth_response {
	int status;	   /* 100 to 599 */
	int invalid_token; /* a Bearer challenge says error="invalid_token" */
	int refused;
};
/* Parses len bytes (no NUL needed after them) strictly: 0, or -1 with err set (65). */
int goauth_parse_response(const char *text, size_t len, struct goauth_response *resp,
			  struct error *err);
/* Whether a WWW-Authenticate value that parses whole has a Bearer challenge with
 * error="invalid_token". */
int goauth_challenge_invalid_token(const char *value, size_t len);
/* The prefix go keeps for a urls entry: "https://host[:port]path" (host in lower case,
 * IPv6 in brackets, no :443) in out. 0; 1 when go cannot use it (not https, a query in
 * it, not a URL keybearer takes); -1 when it does not fit in size. */
int goauth_url_prefix(const char *entry, char *out, size_t size);
/* keybearer httpie get|erase: key=value lines (url, token, profile) on stdin. */
struct httpie_request {
	const char *url, *token, *profile; /* point into the parsed text; NULL when absent */
};
int httpie_parse_request(char *text, size_t len, struct httpie_request *req, struct error *err);

/* The profile a program named keybearer-pnpm-PROFILE is pnpm's tokenHelper for, or NULL
 * for any other name; plugin_pnpm_named runs it (argv as main's). */
const char *plugin_pnpm_link_profile(const char *program);
int plugin_pnpm_named(const char *profile, int argc, char **argv, struct error *err);

int plugin_git(int argc, char **argv, struct error *err);
int plugin_bazel(int argc, char **argv, struct error *err);
int plugin_kubectl(int argc, char **argv, struct error *err);
int plugin_cargo(int argc, char **argv, struct error *err);
int plugin_terraform(int argc, char **argv, struct error *err);
int plugin_curl(int argc, char **argv, struct error *err);
int plugin_wget(int argc, char **argv, struct error *err);
int plugin_exec(int argc, char **argv, struct error *err);
int plugin_goauth(int argc, char **argv, struct error *err);
int plugin_pnpm(int argc, char **argv, struct error *err);
int plugin_httpie(int argc, char **argv, struct error *err);

#endif
