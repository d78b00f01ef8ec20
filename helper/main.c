/* keybearer: the hot path. Reads the config and the token cache and prints; runs
 * keybearer-fetch only when the cache cannot answer. Links libc, json-c and inih only.
 * This file is the command table and dispatch, and the commands that fit in a screen;
 * status.c, check.c and inspect.c hold the others. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cache.h"
#include "check.h"
#include "cli.h"
#include "config.h"
#include "error.h"
#include "inspect.h"
#include "lockstate.h"
#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "status.h"
#include "url.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv, struct error *err);
	const char *summary;
	const char *help;
};

static int cmd_get(int argc, char **argv, struct error *err);
static int cmd_invalidate(int argc, char **argv, struct error *err);
static int cmd_profiles(int argc, char **argv, struct error *err);
static int cmd_which(int argc, char **argv, struct error *err);
static int cmd_keyring(int argc, char **argv, struct error *err);

/* Every command's help ends with the options they all take. */
#define COMMON_HELP                                                                                \
	"  -v, --verbose      timings, attempts and decisions on stderr, keybearer-fetch's\n"      \
	"                     too (as KEYBEARER_DEBUG=1)\n"                                        \
	"  -h, --help         this help\n"

static const struct command commands[] = {
	{ "get", cmd_get, "print a valid token (from the cache, or freshly minted)",
	  "usage: keybearer get [--profile P | --url URL] [--format F] [--min-ttl SECONDS]\n"
	  "\n"
	  "Prints a token with enough life left, minting a new one only when the cached one\n"
	  "is missing or due for refresh.\n"
	  "\n"
	  "  -p, --profile P    the profile to use (default: KEYBEARER_PROFILE, the env\n"
	  "                     profile, the only profile in the config, or aspose)\n"
	  "      --url URL      the token of the profile whose urls claim URL, as the host\n"
	  "                     tools pick it (see keybearer which); with --profile, that\n"
	  "                     profile must claim URL. None does: exit 78, saying why\n"
	  "  -f, --format F     header (default): Authorization: Bearer <token>\n"
	  "                     token:  the token alone\n"
	  "                     curl:   a line for curl -K\n"
	  "                     wget:   a line for wget --config\n"
	  "                     json:   {access_token, token_type, expires_at, expires_in}\n"
	  "      --min-ttl S    the token must stay valid at least S more seconds\n" COMMON_HELP },
	{ "invalidate", cmd_invalidate, "drop the cached token",
	  "usage: keybearer invalidate [--profile P] [--token-stdin]\n"
	  "\n"
	  "Drops the profile's cached token, so the next get mints a new one.\n"
	  "\n"
	  "  -p, --profile P    the profile\n"
	  "      --token-stdin  drop it only if it is the token on stdin (the one a server\n"
	  "                     just refused), so a token already replaced by another\n"
	  "                     process survives\n" COMMON_HELP },
	{ "status", status_run, "show profiles, secret sources and token lifetimes",
	  "usage: keybearer status [--profile P] [--json]\n"
	  "\n"
	  "Shows the config file (or where it was looked for), each profile (or one), where\n"
	  "its secret would come from and whether it is there, the state of its cached token\n"
	  "by both clocks, and a refresh that failed. Never prints a token or a secret.\n"
	  "\n"
	  "  -p, --profile P    only this profile\n"
	  "      --json         the same facts as one JSON object with stable field names\n"
	  "                     (man keybearer lists them)\n" COMMON_HELP },
	{ "profiles", cmd_profiles, "list the profile names, one a line",
	  "usage: keybearer profiles\n"
	  "\n"
	  "Prints the name of every profile --profile takes, one a line: the built-in aspose,\n"
	  "those of the config file, and env when the KEYBEARER_* variables describe it.\n"
	  "\n" COMMON_HELP },
	{ "which", cmd_which, "show the profile whose urls claim a URL",
	  "usage: keybearer which URL\n"
	  "\n"
	  "Prints \"PROFILE ENTRY\": the profile that gets a token for URL and the entry of its\n"
	  "urls that claims it, as the host tools match (the longest prefix with the same\n"
	  "scheme, host and port; a path with a dot segment or an encoded dot, slash or\n"
	  "backslash is nobody's; of equal claims the first in keybearer profiles wins, and\n"
	  "stderr names the other). A URL without a scheme is read as http://URL, as curl\n"
	  "reads it, and stderr says so. When no profile claims URL it exits 78 and says\n"
	  "why: the claims on its host, or every profile's urls, and the urls line that\n"
	  "would claim it.\n"
	  "\n" COMMON_HELP },
	{ "check", check_run, "check the setup step by step: config, secret, one mint",
	  "usage: keybearer check [--profile P]\n"
	  "\n"
	  "A doctor. Checks, in order: the config file (nobody else can change it or a\n"
	  "directory above it), the profile selected, its token endpoint, the cache\n"
	  "directory; then, in keybearer-fetch, the profile's lock, the issuer's discovery\n"
	  "document, the secret (resolved, never shown), one token request that bypasses the\n"
	  "cache, the cache write, and the new token's expiry and claims. Prints a line a\n"
	  "step (ok, FAIL or note; what it found; its time), then \"check: ok\" or \"check:\n"
	  "FAILED at STEP (exit N)\", and exits with the first failing step's code. It mints\n"
	  "even while a recorded failure holds other callers off, and says so; its failure\n"
	  "is recorded like any refresh's, its success clears the record. Never prints the\n"
	  "secret or the token.\n"
	  "\n"
	  "  -p, --profile P    the profile (default: as for get)\n" COMMON_HELP },
	{ "inspect", inspect_run, "decode the cached (or stdin) JWT",
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
	  "                     --verify, the profile whose keys to verify against\n" COMMON_HELP },
	{ "login", cmd_keyring, "store a client secret in the OS keyring (rotation too)",
	  "usage: keybearer login [--profile P] [--client-id ID] [--token-url URL | --issuer URL]\n"
	  "                       [--auth-method M] [--scope S] [--audience A] [--resource R]\n"
	  "                       [--ca-file PATH] [--no-verify]\n"
	  "       keybearer login [--profile P] --private-key FILE|-\n"
	  "       keybearer login [--profile P] --client-key FILE|-\n"
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
	  "      --no-verify    store without minting a token first\n"
	  "      --private-key FILE  store this PEM private key (- reads it from stdin) for a\n"
	  "                     private_key_jwt profile instead of a secret: it must read as a\n"
	  "                     private key; stderr names its kid and type\n"
	  "      --client-key FILE  store this PEM key (- reads it from stdin) of the\n"
	  "                     client_cert of an mTLS profile (tls_client_auth) instead\n"
	  "                     of a secret: it must be that certificate's key\n" COMMON_HELP },
	{ "keygen", cmd_keyring, "make a key pair for private_key_jwt, keep the private key",
	  "usage: keybearer keygen [--profile P] [--type ec|rsa] [--out FILE]\n"
	  "\n"
	  "Makes a key pair for a profile with auth_method = private_key_jwt: EC P-256 (the\n"
	  "default) or RSA 3072. The private key goes into the OS keyring, or into FILE\n"
	  "(created with mode 0600; an existing file is never overwritten; a profile with\n"
	  "private_key = file:PATH gets it there). stdout: the public key as one JWK line\n"
	  "(kid = its RFC 7638 thumbprint unless key_id says otherwise, alg, use sig), then as\n"
	  "PEM, ready to register with the provider. The private key is never printed.\n"
	  "\n"
	  "  -p, --profile P    the profile\n"
	  "      --type T       ec (P-256, ES256) or rsa (3072 bits, RS256)\n"
	  "      --out FILE     keep the private key in FILE instead of the "
	  "keyring\n" COMMON_HELP },
	{ "logout", cmd_keyring, "remove a stored client secret and the cached token",
	  "usage: keybearer logout [--profile P]\n"
	  "\n"
	  "Removes the profile's client secret (or, for private_key_jwt, its private key) from\n"
	  "the OS keyring and its cached token.\n"
	  "\n"
	  "  -p, --profile P    the profile\n" COMMON_HELP },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static const char exit_codes_help[] =
	"exit codes: 0 ok, 64 usage, 65 bad input, 66 nothing to inspect, 70 internal error,\n"
	"  74 local file problem, 75 endpoint unreachable or failing (try again later),\n"
	"  76 invalid reply from the endpoint, 77 credentials rejected,\n"
	"  78 configuration or secret missing, or no profile claims the URL\n";

static void
print_usage(FILE *out)
{
	size_t i;

	fputs("usage: keybearer [-v | --verbose] <command> [options]\n\ncommands:\n", out);
	for (i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
	fputs("\nhost tools (also installed as the links their tools look for):\n", out);
	for (i = 0; i < plugin_count; i++)
		fprintf(out, "  %-11s %s\n", plugins[i].name, plugins[i].summary);
	fputs("\nkeybearer <command> --help describes a command.\n\n", out);
	fputs("options:\n"
	      "  -v, --verbose  before any command (keybearer -v curl ...) or after one of\n"
	      "                 keybearer's own: timings, attempts and decisions on stderr,\n"
	      "                 keybearer-fetch's too (as KEYBEARER_DEBUG=1, which it sets)\n"
	      "  -h, --help     this list; keybearer help COMMAND describes one\n"
	      "      --version  the version\n\n",
	      out);
	fputs(exit_codes_help, out);
}

/* The profile --url names: the one whose urls claim it, as the plugins pick it; with
 * --profile, that profile, which must claim it. A URL without a scheme is curl's http://;
 * *matched is the URL matched, malloc'ed. */
static int
profile_for_url(const struct cli_options *opts, struct config *cfg, const struct profile **p,
		char **matched, struct error *err)
{
	char why[ERROR_MESSAGE_MAX], *url;
	int added, found;

	if (*opts->url == '\0')
		return cli_usage_error(err, opts->operand != NULL ? "which" : "get", "an empty URL",
				       NULL);
	url = url_with_default_scheme(opts->url, &added);
	if (url == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	if (config_load_named_or_for_url(cfg, opts->profile, url, err) != 0) {
		free(url);
		return -1;
	}
	found = plugin_match_url(cfg, url, opts->profile, p, err);
	if (found == 1) {
		config_explain_unclaimed(cfg, opts->profile != NULL ? *p : NULL, url,
					 added ? opts->url : NULL, why, sizeof(why));
		error_set(err, KB_EXIT_CONFIG, "%s", why);
	}
	if (found != 0) {
		free(url);
		config_free(cfg);
		return -1;
	}
	*matched = url;
	return 0;
}

static int
cmd_get(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	const struct profile *p;
	struct cache_record rec = { 0 };
	char *text = NULL, *url = NULL;
	int rc;

	rc = cli_parse_options(argc, argv, "profile format min-ttl url", &opts, err);
	if (rc != 0)
		return rc;
	if (opts.url != NULL ? profile_for_url(&opts, &cfg, &p, &url, err) != 0
			     : cli_load_profile(opts.profile, &cfg, &p, err) != 0)
		return -1;
	free(url); /* the profile is what counts from here */
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

static int
cmd_invalidate(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	const struct profile *p;
	char *refused = NULL;
	int rc;

	rc = cli_parse_options(argc, argv, "profile token-stdin", &opts, err);
	if (rc != 0)
		return rc;
	if (opts.token_stdin && cli_read_stdin_token(&refused, err) != 0)
		return -1;
	rc = cli_load_profile(opts.profile, &cfg, &p, err);
	if (rc == 0) {
		rc = lockstate_drop(p, refused, err) < 0 ? -1 : 0;
		config_free(&cfg);
	}
	safefile_free_string(refused);
	return rc;
}

/* The names, one a line, written in one piece. */
static int
cmd_profiles(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	char *text = NULL;
	size_t i, len = 0;
	FILE *out;
	int rc;

	rc = cli_parse_options(argc, argv, "", &opts, err);
	if (rc != 0)
		return rc;
	if (config_load(&cfg, err) != 0)
		return -1;
	out = open_memstream(&text, &len);
	for (i = 0; out != NULL && i < cfg.count; i++)
		fprintf(out, "%s\n", cfg.profiles[i].name);
	rc = out == NULL || fclose(out) != 0
		     ? error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory")
		     : output_answer(text, err);
	free(text);
	config_free(&cfg);
	return rc;
}

static int
cmd_which(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	const struct profile *p, *also;
	char *url = NULL, *answer = NULL;
	int rc;

	rc = cli_parse_options(argc, argv, "URL", &opts, err);
	if (rc != 0)
		return rc;
	opts.url = opts.operand;
	if (profile_for_url(&opts, &cfg, &p, &url, err) != 0)
		return -1;
	if (strcmp(url, opts.url) != 0)
		error_warn("%s has no scheme: read as %s, as curl reads it", opts.url, url);
	also = config_match_url_also(&cfg, url, p);
	if (also != NULL)
		error_warn("profile %s claims it as well (with %s): %s comes first in keybearer "
			   "profiles, so its token goes there",
			   also->name, config_profile_claim(also, url), p->name);
	if (asprintf(&answer, "%s %s\n", p->name, config_profile_claim(p, url)) < 0)
		rc = error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	else
		rc = output_answer(answer, err);
	free(answer);
	free(url);
	config_free(&cfg);
	return rc;
}

/* Whether a login or logout option takes the next word as its value (login.c's table). */
static int
takes_value(const char *word)
{
	static const char *const options[] = {
		"-p",
		"--profile",
		"--client-id",
		"--token-url",
		"--issuer",
		"--auth-method",
		"--scope",
		"--audience",
		"--resource",
		"--ca-file",
		/* key-based client authentication */
		"--private-key",
		"--type",
		/* mutual-TLS client authentication */
		"--client-key",
		"--out",
	};
	size_t i;

	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strcmp(word, options[i]) == 0)
			return 1;
	}
	return 0;
}

/* login and logout talk to the keyring and maybe a terminal: keybearer-fetch's work.
 * --verbose is ours: it goes into the environment keybearer-fetch inherits. */
static int
cmd_keyring(int argc, char **argv, struct error *err)
{
	int i, kept = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[kept++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
		if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
			cli_set_verbose();
			continue;
		}
		argv[kept++] = argv[i];
		if (takes_value(argv[i]) && i + 1 < argc)
			argv[kept++] = argv[++i];
	}
	argv[kept] = NULL;
	return obtain_exec_fetch(argv[0], kept, argv, err);
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

static int
print_help(int argc, char **argv)
{
	const struct command *cmd = argc > 2 ? command_find(argv[2]) : NULL;
	const struct plugin *plugin = argc > 2 ? plugin_find(argv[2], NULL) : NULL;

	if (cmd != NULL)
		fputs(cmd->help, stdout);
	else if (plugin != NULL)
		fputs(plugin->help, stdout);
	else
		print_usage(stdout);
	return 0;
}

/* Runs the command line; 0, or -1 with err set. */
static int
dispatch(int argc, char **argv, struct error *err)
{
	const struct command *cmd;
	const struct plugin *plugin;
	int rc;

	/* -v before the command counts for any, a host tool's protocol too */
	while (argc > 1 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0)) {
		cli_set_verbose();
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (argc < 2) {
		print_usage(stderr);
		return error_set(err, KB_EXIT_USAGE, "no command — run keybearer --help");
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("keybearer %s\n", KEYBEARER_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return print_help(argc, argv);
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
	const char *slash, *program = NULL;
	int rc;

	plugin_note_caller_umask(umask(077));
	output_keep_standard_fds();
	/* A SIGCHLD our caller ignores would reap keybearer-fetch and curl before waitpid. */
	signal(SIGCHLD, SIG_DFL);
	/* Host tools run us under the names they look for: git-credential-keybearer, ... */
	if (argc > 0) {
		slash = strrchr(argv[0], '/');
		program = slash != NULL ? slash + 1 : argv[0];
		plugin = plugin_find(NULL, program);
	}
	if (plugin == NULL && program != NULL && plugin_pnpm_link_profile(program) != NULL) {
		/* pnpm's tokenHelper takes no arguments: the link's name carries the profile */
		rc = plugin_pnpm_named(plugin_pnpm_link_profile(program), argc, argv, &err);
	} else if (plugin != NULL) {
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
