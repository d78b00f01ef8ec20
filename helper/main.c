/* keybearer: the hot path. Reads the config and the token cache and prints; runs
 * keybearer-fetch only when the cache cannot answer. Links libc, json-c and inih only. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "error.h"
#include "jwt.h"
#include "lockstate.h"
#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "token.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct error *err);
	const char *summary;
	const char *help;
};

struct options {
	const char *profile;
	enum output_format format;
	int min_ttl;
	int token_stdin;
	int from_stdin; /* inspect - */
	int verify;	/* inspect --verify */
	const char *audience;
};

static int cmd_get(int argc, char **argv, struct error *err);
static int cmd_invalidate(int argc, char **argv, struct error *err);
static int cmd_status(int argc, char **argv, struct error *err);
static int cmd_inspect(int argc, char **argv, struct error *err);
static int cmd_keyring(int argc, char **argv, struct error *err);

static const struct command commands[] = {
	{ "get", cmd_get, "print a valid token (from the cache, or freshly minted)",
	  "usage: keybearer get [--profile P] [--format F] [--min-ttl SECONDS]\n"
	  "\n"
	  "Prints a token with enough life left, minting a new one only when the cached one\n"
	  "is missing or due for refresh.\n"
	  "\n"
	  "  -p, --profile P    the profile to use (default: KEYBEARER_PROFILE, the env\n"
	  "                     profile, the only profile in the config, or aspose)\n"
	  "  -f, --format F     header (default): Authorization: Bearer <token>\n"
	  "                     token:  the token alone\n"
	  "                     curl:   a line for curl -K\n"
	  "                     wget:   a line for wget --config\n"
	  "                     json:   {access_token, token_type, expires_at, expires_in}\n"
	  "      --min-ttl S    the token must stay valid at least S more seconds\n" },
	{ "invalidate", cmd_invalidate, "drop the cached token",
	  "usage: keybearer invalidate [--profile P] [--token-stdin]\n"
	  "\n"
	  "Drops the profile's cached token, so the next get mints a new one.\n"
	  "\n"
	  "  -p, --profile P    the profile\n"
	  "      --token-stdin  drop it only if it is the token on stdin (the one a server\n"
	  "                     just refused), so a token already replaced by another\n"
	  "                     process survives\n" },
	{ "status", cmd_status, "show profiles, secret sources and token lifetimes",
	  "usage: keybearer status [--profile P]\n"
	  "\n"
	  "Shows each profile (or one), where its secret would come from, and the state of\n"
	  "its cached token. Never prints a token or a secret.\n" },
	{ "inspect", cmd_inspect, "decode the cached (or stdin) JWT",
	  "usage: keybearer inspect [--profile P | -] [--verify [--audience AUD]]\n"
	  "\n"
	  "Prints the header and claims of the profile's cached token, or of the token on\n"
	  "stdin with -, as JSON with its expiry in human terms. The token is decoded, not\n"
	  "verified unless --verify is given; its signature is never printed.\n"
	  "\n"
	  "      --verify       then check it as a resource server would: its RS256 or ES256\n"
	  "                     signature against the issuer's keys (the profile's jwks_url,\n"
	  "                     or its issuer's jwks_uri), its expiry, its issuer and its\n"
	  "                     audience; prints \"verified: ...\" or exits 77 saying why\n"
	  "      --audience AUD the audience to expect (default: the profile's audience,\n"
	  "                     else its resource; with neither, not checked)\n"
	  "  -p, --profile P    the profile whose cached token to inspect; with - and\n"
	  "                     --verify, the profile whose keys to verify against\n" },
	{ "login", cmd_keyring, "store a client secret in the OS keyring (rotation too)",
	  "usage: keybearer login [--profile P] [--client-id ID] [--token-url URL | --issuer URL]\n"
	  "                       [--auth-method M] [--scope S] [--audience A] [--resource R]\n"
	  "                       [--ca-file PATH] [--no-verify]\n"
	  "\n"
	  "Stores the profile's client secret in the OS keyring (Secret Service: GNOME\n"
	  "Keyring, KWallet, KeePassXC). On a terminal it asks for the secret without echo;\n"
	  "otherwise it reads one line from stdin:  printf %s \"$SECRET\" | keybearer login\n"
	  "It first mints a token with the secret to prove it works, and stores nothing\n"
	  "when the token endpoint refuses it. Logging in again replaces the stored secret\n"
	  "(rotation) and drops the cached token. A profile missing from the config file,\n"
	  "or the keys given here that it lacks, are added to it as one section (the token\n"
	  "is minted with them first); a key the profile has is not changed.\n"
	  "\n"
	  "  -p, --profile P    the profile (a new name makes a new profile)\n"
	  "      --client-id ID the client id, when the profile has none (else asked)\n"
	  "      --token-url U  the token endpoint of a new profile (else asked)\n"
	  "      --issuer U     an OpenID Connect issuer instead of a token endpoint\n"
	  "      --auth-method M client_secret_post (default) or client_secret_basic\n"
	  "      --scope S, --audience A, --resource R   the profile's scope, audience, resource\n"
	  "      --ca-file PATH the CAs to trust for the token endpoint\n"
	  "      --no-verify    store without minting a token first\n" },
	{ "logout", cmd_keyring, "remove a stored client secret and the cached token",
	  "usage: keybearer logout [--profile P]\n"
	  "\n"
	  "Removes the profile's client secret from the OS keyring and its cached token.\n" },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes_help[] =
	"exit codes: 0 ok, 64 usage, 65 bad input, 66 nothing to inspect, 70 internal error,\n"
	"  74 local file problem, 75 endpoint unreachable or failing (try again later),\n"
	"  76 invalid reply from the endpoint, 77 credentials rejected,\n"
	"  78 configuration or secret missing\n";

static void
print_usage(FILE *out)
{
	size_t i;

	fputs("usage: keybearer <command> [options]\n\ncommands:\n", out);
	for (i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fputs("\nhost tools (also installed as the links their tools look for):\n", out);
	for (i = 0; i < plugin_count; i++)
		fprintf(out, "  %-11s %s\n", plugins[i].name, plugins[i].summary);
	fputs("\nkeybearer <command> --help describes a command.\n\n", out);
	fputs(exit_codes_help, out);
}

static int
usage_error(struct error *err, const char *command, const char *problem, const char *arg)
{
	return error_set(err, KB_EXIT_USAGE, "%s %s: %s%s%s — see keybearer %s --help", command,
			 "arguments", problem, arg ? " " : "", arg ? arg : "", command);
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

/* Parses the options every command shares; allowed lists the long options it takes. */
static int
parse_options(int argc, char **argv, const char *allowed, struct options *opts, struct error *err)
{
	static const struct option table[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ "min-ttl", required_argument, NULL, 't' },
		{ "token-stdin", no_argument, NULL, 's' },
		{ "verify", no_argument, NULL, 'v' },
		{ "audience", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *command = argv[0];
	int opt, index;

	memset(opts, 0, sizeof(*opts));
	opts->format = OUTPUT_HEADER;
	opts->min_ttl = -1;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":p:f:h", table, &index)) != -1) {
		const char *name = NULL, *word = argv[optind - 1];
		char option[40];
		size_t i;
		if (opt == '?' || opt == ':') {
			/* a long option is the word just read; a short one is optopt */
			if (strncmp(word, "--", 2) == 0)
				snprintf(option, sizeof(option), "%.*s", (int)strcspn(word, "="),
					 word);
			else
				snprintf(option, sizeof(option), "-%c",
					 isgraph(optopt) ? optopt : '?');
			return usage_error(err, command,
					   opt == '?' ? "unknown option" : "missing value for",
					   option);
		}
		if (opt == 'h')
			return 1;
		for (i = 0; table[i].name != NULL; i++) {
			if (table[i].val == opt)
				name = table[i].name;
		}
		if (name == NULL || strstr(allowed, name) == NULL) {
			snprintf(option, sizeof(option), "--%s", name != NULL ? name : "?");
			return usage_error(err, command, "unknown option", option);
		}
		switch (opt) {
		case 'p':
			opts->profile = optarg;
			break;
		case 'f':
			if (output_format_parse(optarg, &opts->format) != 0)
				return usage_error(err, command,
						   "--format takes header, token, curl, wget or "
						   "json, not",
						   optarg);
			break;
		case 't':
			if (parse_seconds(optarg, &opts->min_ttl) != 0)
				return usage_error(err, command,
						   "--min-ttl takes seconds from 0 to 604800, not",
						   optarg);
			break;
		case 's':
			opts->token_stdin = 1;
			break;
		case 'v':
			opts->verify = 1;
			break;
		case 'a':
			opts->audience = optarg;
			break;
		}
	}
	if (opts->audience != NULL && !opts->verify)
		return usage_error(err, command, "--audience goes with", "--verify");
	if (optind < argc && strcmp(command, "inspect") == 0 && strcmp(argv[optind], "-") == 0 &&
	    optind + 1 == argc && (opts->profile == NULL || opts->verify)) {
		opts->from_stdin = 1;
		return 0;
	}
	if (optind < argc)
		return usage_error(err, command, "unexpected argument", argv[optind]);
	return 0;
}

static int
load_profile(const char *name, struct config *cfg, const struct profile **p, struct error *err)
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

static int
cmd_get(int argc, char **argv, struct error *err)
{
	struct options opts;
	struct config cfg;
	const struct profile *p;
	struct cache_record rec = { 0 };
	char *text = NULL;
	int rc;

	rc = parse_options(argc, argv, "profile format min-ttl", &opts, err);
	if (rc != 0)
		return rc;
	if (load_profile(opts.profile, &cfg, &p, err) != 0)
		return -1;
	rc = obtain_token(&cfg, p, opts.min_ttl, &rec, err);
	if (rc == 0 && opts.min_ttl > 0 && rec.expires_at - (long long)time(NULL) < opts.min_ttl)
		error_warn("the token of profile %s has %lld s left, less than the %d s asked for "
			   "(it lived %lld s in all)",
			   p->name, rec.expires_at - (long long)time(NULL), opts.min_ttl,
			   rec.expires_at - rec.obtained_at);
	if (rc == 0) {
		text = output_render(opts.format, rec.access_token, rec.expires_at, time(NULL));
		rc = output_answer(text, err);
	}
	safefile_free_string(text);
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}

/* One token from stdin; also accepts the "Authorization: Bearer <token>" line get prints. */
static int
read_stdin_token(char **out, struct error *err)
{
	size_t cap = TOKEN_MAX_LENGTH + 64, len = 0;
	char *buf = malloc(cap + 1), *start, *end;
	ssize_t n;

	if (buf == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	n = safefile_read_up_to(STDIN_FILENO, buf, cap);
	if (n < 0) {
		free(buf);
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
		free(buf);
		return error_set(err, KB_EXIT_NOINPUT, "no token on stdin — pipe the token in");
	}
	if (len == cap || !token_is_b64token(start, (size_t)(end - start))) {
		free(buf);
		return error_set(err, KB_EXIT_DATA,
				 "stdin does not hold a Bearer token — pipe in the token, or the "
				 "line keybearer get printed");
	}
	memmove(buf, start, (size_t)(end - start) + 1);
	*out = buf;
	return 0;
}

static int
cmd_invalidate(int argc, char **argv, struct error *err)
{
	struct options opts;
	struct config cfg;
	const struct profile *p;
	char *refused = NULL;
	int rc;

	rc = parse_options(argc, argv, "profile token-stdin", &opts, err);
	if (rc != 0)
		return rc;
	if (opts.token_stdin && read_stdin_token(&refused, err) != 0)
		return -1;
	rc = load_profile(opts.profile, &cfg, &p, err);
	if (rc == 0) {
		rc = lockstate_drop(p, refused, err) < 0 ? -1 : 0;
		config_free(&cfg);
	}
	safefile_free_string(refused);
	return rc;
}

/* Asks keybearer-fetch whether the keyring holds the profile's secret: the keyring is
 * for the heavy process only. Nothing is unlocked and no secret is read. */
static void
keyring_state(const struct profile *p, char *out, size_t size)
{
	const char *args[] = { "keyring-status", "--profile", p->name, NULL };
	struct error err = { 0 };
	char answer[512];
	ssize_t len = 0;

	if (config_endpoint_identity(p) == NULL || p->client_id == NULL) {
		snprintf(out, size, "nothing stored: no client_id yet");
		return;
	}
	if (obtain_run_fetch(args, -1, answer, sizeof(answer) - 1, &len, &err) != 0 || len <= 0) {
		snprintf(out, size, "state unknown");
		return;
	}
	answer[len] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	snprintf(out, size, "%s", answer);
}

static void
describe_secret(const struct profile *p, char *out, size_t size)
{
	char source[4200], state[600] = "";
	const char *value;
	struct stat st;

	config_describe_secret_source(p, source, sizeof(source));
	switch (p->secret_kind) {
	case SECRET_KEYRING:
		keyring_state(p, state, sizeof(state));
		break;
	case SECRET_ENV:
		value = getenv(p->secret_arg);
		snprintf(state, sizeof(state), "%s",
			 value != NULL && *value != '\0' ? "set" : "not set");
		break;
	case SECRET_FILE:
		if (stat(p->secret_arg, &st) != 0)
			snprintf(state, sizeof(state), "missing");
		else if ((st.st_mode & 077) != 0)
			snprintf(state, sizeof(state), "refused: mode %04o, must be 600",
				 (unsigned)(st.st_mode & 07777));
		else
			snprintf(state, sizeof(state), "present");
		break;
	case SECRET_COMMAND:
		break;
	}
	snprintf(out, size, state[0] != '\0' ? "%s (%s)" : "%s", source, state);
}

/* A failure recorded beside the cache (in the background, or for every caller), whatever
 * the token's state; "" when none holds any more. */
static void
describe_failure(const struct profile *p, const struct cache_clock *now, char *out, size_t size)
{
	struct lockstate_failure f;
	char fingerprint[65];
	long long holds;

	out[0] = '\0';
	lockstate_peek(p, &f);
	if (f.failed_at <= 0)
		return;
	cache_profile_fingerprint(p, fingerprint);
	holds = lockstate_failure_holds(&f, now, fingerprint);
	if (f.source == LOCKSTATE_CACHE)
		snprintf(out, size,
			 "; the last new token could not be cached %lld s ago: %.300s (it is kept "
			 "beside the lock until the cache takes it)",
			 now->wall - f.failed_at, f.message);
	else
		snprintf(out, size,
			 "; last refresh failed %lld s ago: %.300s; next attempt in %lld s%s",
			 now->wall - f.failed_at, f.message, holds,
			 holds > 0 && lockstate_failure_is_rejection(&f)
				 ? ", or at once when the secret or the profile changes"
				 : "");
}

static void
describe_token(const struct profile *p, char *out, size_t size)
{
	struct error err = { 0 };
	struct cache_record rec;
	struct cache_clock now;
	char left[48], until[32], failure[600];
	enum cache_trust trust;
	long long remaining;
	int rc;

	cache_clock_now(&now);
	describe_failure(p, &now, failure, sizeof(failure));
	rc = cache_lookup(p, &rec, &err);
	if (rc < 0) {
		snprintf(out, size, "cache unusable: %s", err.message);
		return;
	}
	if (rc == 1) {
		snprintf(out, size, "none cached%s", failure);
		return;
	}
	/* both clocks' view: never more than the token really has left */
	remaining = cache_record_left(&rec, &now);
	trust = cache_record_trust(&rec, &now);
	output_duration(remaining, left, sizeof(left));
	output_rfc3339(now.wall + remaining, until, sizeof(until));
	if (trust == CACHE_FROM_THE_FUTURE) {
		snprintf(out, size,
			 "not trusted: received %lld s in the future (the clock was set back); a "
			 "new "
			 "one is minted at the next get%s",
			 rec.obtained_at - now.wall, failure);
	} else if (trust == CACHE_FROM_ANOTHER_BOOT) {
		snprintf(out, size,
			 "not trusted: received before this boot, or by a keybearer that did not "
			 "note when; a new one is minted at the next get%s",
			 failure);
	} else if (remaining <= 0) {
		/* dead since the earlier of what the two clocks say */
		long long ago = now.wall - rec.expires_at;
		long long ago_by_boot =
			now.boot - rec.obtained_boot - (rec.expires_at - rec.obtained_at);
		if (rec.boot_id[0] != '\0' && ago_by_boot > ago)
			ago = ago_by_boot;
		output_duration(ago, left, sizeof(left));
		output_rfc3339(now.wall - ago, until, sizeof(until));
		snprintf(out, size, "expired %s ago (%s)%s", left, until, failure);
	} else if (cache_is_fresh(&rec, &now, p->refresh_margin, -1))
		snprintf(out, size, "valid for %s (until %s)%s", left, until, failure);
	else
		snprintf(out, size, "refresh due, valid for %s (until %s)%s", left, until, failure);
	cache_record_free(&rec);
}

static void
print_profile_status(const struct profile *p, int selected)
{
	char secret[4300], token[1200];
	size_t i;

	describe_secret(p, secret, sizeof(secret));
	describe_token(p, token, sizeof(token));
	printf("profile %s%s%s\n", p->name,
	       p->in_file			? ""
	       : strcmp(p->name, "aspose") == 0 ? " (built in)"
						: " (from the environment)",
	       selected ? " [default]" : "");
	if (p->issuer)
		printf("  issuer        %s\n", p->issuer);
	printf("  token_url     %s\n", p->token_url ? p->token_url
				       : p->issuer  ? "(from the issuer's discovery document)"
						    : "(not set)");
	if (p->jwks_url)
		printf("  jwks_url      %s\n", p->jwks_url);
	printf("  client_id     %s\n", p->client_id ? p->client_id : "(not set)");
	if (p->scope)
		printf("  scope         %s\n", p->scope);
	if (p->audience)
		printf("  audience      %s\n", p->audience);
	if (p->resource)
		printf("  resource      %s\n", p->resource);
	printf("  auth_method   %s\n", config_auth_method_name(p->auth_method));
	printf("  urls         ");
	for (i = 0; i < p->url_count; i++)
		printf(" %s", p->urls[i]);
	printf("%s\n", p->url_count ? "" : " (none)");
	printf("  secret        %s\n", secret);
	printf("  token         %s\n", token);
}

static int
cmd_status(int argc, char **argv, struct error *err)
{
	struct options opts;
	struct config cfg;
	struct error ignored = { 0 };
	const struct profile *chosen, *fallback;
	size_t i;
	int rc;

	rc = parse_options(argc, argv, "profile", &opts, err);
	if (rc != 0)
		return rc;
	if (config_load(&cfg, err) != 0)
		return -1;
	chosen = opts.profile != NULL ? config_select(&cfg, opts.profile, err) : NULL;
	if (opts.profile != NULL && chosen == NULL) {
		config_free(&cfg);
		return -1;
	}
	printf("config file     %s\n", cfg.path ? cfg.path : "(none)");
	if (chosen != NULL) {
		print_profile_status(chosen, 1);
	} else {
		fallback = config_select(&cfg, NULL, &ignored);
		for (i = 0; i < cfg.count; i++)
			print_profile_status(&cfg.profiles[i], &cfg.profiles[i] == fallback);
	}
	config_free(&cfg);
	return 0;
}

static int
print_inspection(const char *token, const struct cache_record *cached, struct error *err)
{
	struct json_object *header, *claims, *report;
	char when[32], span[48], *text;
	long long expires_at, left;
	time_t now = time(NULL);
	int rc;

	if (jwt_decode(token, &header, &claims) != 0)
		return error_set(err, KB_EXIT_DATA,
				 "the token is not a JWT (it is opaque: only its issuer can read "
				 "it) — nothing to inspect");
	report = json_object_new_object();
	json_object_object_add(report, "header", header);
	json_object_object_add(report, "claims", claims);
	if (cached != NULL)
		expires_at = cached->expires_at;
	else if (jwt_claim_time(claims, "exp", &expires_at) != 0)
		expires_at = 0;
	if (expires_at > 0) {
		left = expires_at - (long long)now;
		output_rfc3339(expires_at, when, sizeof(when));
		output_duration(left, span, sizeof(span));
		json_object_object_add(report, "expires_at", json_object_new_string(when));
		if (left > 0) {
			char phrase[64];
			snprintf(phrase, sizeof(phrase), "in %s", span);
			json_object_object_add(report, "expires", json_object_new_string(phrase));
		} else {
			char phrase[64];
			snprintf(phrase, sizeof(phrase), "expired %s ago", span);
			json_object_object_add(report, "expires", json_object_new_string(phrase));
		}
	} else {
		json_object_object_add(report, "expires", json_object_new_string("never (no exp)"));
	}
	text = NULL;
	if (asprintf(&text, "%s\n",
		     json_object_to_json_string_ext(
			     report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					     JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		text = NULL;
	rc = output_answer(text, err);
	free(text);
	json_object_put(report);
	return rc;
}

/* inspect --verify: keybearer-fetch checks the token, as it links libcurl and libcrypto.
 * The token reaches its stdin in a memory file (a pipe may hold as little as a page when
 * the user's pipe quota is spent), never its argv; returns only on failure. */
static int
verify_in_fetch(const struct options *opts, const char *token, struct error *err)
{
	char *args[6] = { "verify" };
	size_t len = strlen(token);
	int fd, n = 1;

	fd = memfd_create("keybearer-token", MFD_CLOEXEC);
	if (fd < 0 || output_write_all(fd, token, len) != 0 || output_write_all(fd, "\n", 1) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, STDIN_FILENO) < 0) {
		error_set(err, KB_EXIT_INTERNAL, "cannot hand the token over: %s — retry",
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (opts->profile != NULL) {
		args[n++] = "--profile";
		args[n++] = (char *)opts->profile;
	}
	if (opts->audience != NULL) {
		args[n++] = "--audience";
		args[n++] = (char *)opts->audience;
	}
	args[n] = NULL;
	return obtain_exec_fetch("verify", n, args, err);
}

static int
cmd_inspect(int argc, char **argv, struct error *err)
{
	struct options opts;
	struct config cfg;
	const struct profile *p;
	struct cache_record rec = { 0 };
	char *token = NULL;
	int rc;

	rc = parse_options(argc, argv, "profile verify audience", &opts, err);
	if (rc != 0)
		return rc;
	if (opts.from_stdin) {
		if (read_stdin_token(&token, err) != 0)
			return -1;
		rc = print_inspection(token, NULL, err);
		if (rc == 0 && opts.verify)
			rc = verify_in_fetch(&opts, token, err);
		free(token);
		return rc;
	}
	if (load_profile(opts.profile, &cfg, &p, err) != 0)
		return -1;
	rc = cache_lookup(p, &rec, err);
	if (rc == 1)
		rc = error_set(err, KB_EXIT_NOINPUT,
			       "no cached token for profile %s — run keybearer get --profile %s "
			       "first",
			       p->name, p->name);
	if (rc == 0)
		rc = print_inspection(rec.access_token, &rec, err);
	if (rc == 0 && opts.verify) {
		opts.profile = p->name; /* the profile selected here, not chosen again */
		rc = verify_in_fetch(&opts, rec.access_token, err);
	}
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}

/* login and logout talk to the keyring and maybe a terminal: keybearer-fetch's work. */
static int
cmd_keyring(int argc, char **argv, struct error *err)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return obtain_exec_fetch(argv[0], argc, argv, err);
}

static const struct command *
command_find(const char *name)
{
	size_t i;

	for (i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* Runs a host tool's protocol; "--help" right after its name prints its help instead. */
static int
run_plugin(const struct plugin *plugin, int argc, char **argv, struct error *err)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(plugin->help, stdout);
		return 0;
	}
	argv[0] = (char *)plugin->name;
	return plugin->run(argc, argv, err) < 0 ? -1 : 0;
}

/* Runs the command line; 0, or -1 with err set. */
static int
dispatch(int argc, char **argv, struct error *err)
{
	const struct command *cmd;
	const struct plugin *plugin;
	int rc;

	if (strcmp(argv[1], "--version") == 0) {
		printf("keybearer %s\n", KEYBEARER_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cmd = argc > 2 ? command_find(argv[2]) : NULL;
		plugin = argc > 2 ? plugin_find(argv[2], NULL) : NULL;
		if (cmd != NULL)
			fputs(cmd->help, stdout);
		else if (plugin != NULL)
			fputs(plugin->help, stdout);
		else
			print_usage(stdout);
		return 0;
	}
	plugin = plugin_find(argv[1], NULL);
	if (plugin != NULL)
		return run_plugin(plugin, argc - 1, argv + 1, err);
	cmd = command_find(argv[1]);
	if (cmd == NULL)
		return error_set(err, KB_EXIT_USAGE,
				 "unknown command \"%.64s\" — run keybearer --help", argv[1]);
	rc = cmd->run(argc - 1, argv + 1, err);
	if (rc == 1)
		fputs(cmd->help, stdout);
	return rc < 0 ? -1 : 0;
}

int
main(int argc, char **argv)
{
	struct error err = { 0 };
	const struct plugin *plugin = NULL;
	const char *slash;
	int rc;

	umask(077);
	output_keep_standard_fds();
	/* A SIGCHLD our caller ignores would reap keybearer-fetch and curl before waitpid. */
	signal(SIGCHLD, SIG_DFL);
	/* Host tools run us under the names they look for: git-credential-keybearer, ... */
	if (argc > 0) {
		slash = strrchr(argv[0], '/');
		plugin = plugin_find(NULL, slash != NULL ? slash + 1 : argv[0]);
	}
	if (plugin != NULL) {
		rc = run_plugin(plugin, argc, argv, &err);
	} else if (argc < 2) {
		print_usage(stderr);
		return KB_EXIT_USAGE;
	} else {
		rc = dispatch(argc, argv, &err);
	}
	if (rc != 0)
		return error_print(&err);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		error_set(&err, KB_EXIT_IO,
			  "cannot write to standard output — check where it goes");
		return error_print(&err);
	}
	return 0;
}
