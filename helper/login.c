#include "login.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "discovery.h"
#include "http.h"
#include "keygen.h"
#include "keyring.h"
#include "lockstate.h"
#include "monotonic.h"
#include "safefile.h"
#include "secret.h"
#include "token.h"

#define ANSWER_MAX 1024

/* The keys login can set, each from its option: one login writes a whole section. */
static const struct {
	const char *option; /* without "--" */
	const char *key;
} key_options[] = {
	{ "token-url", "token_url" },	  { "issuer", "issuer" },   { "client-id", "client_id" },
	{ "auth-method", "auth_method" }, { "scope", "scope" },	    { "audience", "audience" },
	{ "resource", "resource" },	  { "ca-file", "ca_file" },
};

#define KEY_OPTION_COUNT (sizeof(key_options) / sizeof(key_options[0]))

struct login_options {
	const char *profile;
	const char *values[KEY_OPTION_COUNT]; /* as key_options; NULL: not given */
	int verify;
	const char *private_key; /* --private-key FILE or -: key-based client authentication */
	const char *client_key;	 /* --client-key FILE or -: mutual-TLS client authentication */
};

/* The terminal's settings while the secret is typed without echo, to restore them even
 * when the user gives up with Ctrl-C. */
static struct termios saved_terminal;
static volatile sig_atomic_t echo_is_off;

static void
echo_restore(void)
{
	if (echo_is_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_terminal);
		echo_is_off = 0;
	}
}

static void
echo_restore_and_die(int sig)
{
	echo_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
echo_off(void)
{
	static const int fatal[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM };
	struct termios quiet;
	size_t i;

	if (tcgetattr(STDIN_FILENO, &saved_terminal) != 0)
		return;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], echo_restore_and_die);
	quiet = saved_terminal;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
		echo_is_off = 1;
}

/* One line from stdin, without its line end; on a terminal after a prompt on stderr, and
 * unechoed when secret. Read byte by byte so no copy is left in a stdio buffer. */
static int
read_line(const char *prompt, int secret, char *buf, size_t cap, size_t *len, struct error *err)
{
	int tty = isatty(STDIN_FILENO);
	ssize_t n;
	char c;

	if (tty) {
		/* Echo off before the prompt shows: what is typed after it must never echo. */
		if (secret)
			echo_off();
		fputs(prompt, stderr);
		fflush(stderr);
	}
	*len = 0;
	while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n') {
		if (*len + 1 >= cap) {
			echo_restore();
			return error_set(err, KB_EXIT_DATA,
					 "the answer is longer than %zu bytes — "
					 "check what you typed or piped",
					 cap - 1);
		}
		buf[(*len)++] = c;
	}
	echo_restore();
	if (*len > 0 && buf[*len - 1] == '\r')
		(*len)--;
	buf[*len] = '\0';
	if (*len == 0)
		return error_set(err, KB_EXIT_NOINPUT, "nothing was %s — %s",
				 tty ? "typed" : "read from stdin",
				 tty ? "try again"
				     : "pipe the secret in: printf %s \"$SECRET\" | "
				       "keybearer login");
	return 0;
}

/* A value the config needs and the command line did not give: asked on a terminal, and
 * marked in added (as key_options) to be written to the config file. */
static int
ask(struct profile *p, const char *key, const char *question, const char *option, int added[],
    struct error *err)
{
	char prompt[256], answer[ANSWER_MAX];
	size_t len, i;

	for (i = 0; i < KEY_OPTION_COUNT; i++) {
		if (strcmp(key_options[i].key, key) == 0)
			added[i] = 1;
	}

	if (!isatty(STDIN_FILENO))
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s has no %s — give %s (stdin holds only the secret)",
				 p->name, key, option);
	snprintf(prompt, sizeof(prompt), "%s for profile %s: ", question, p->name);
	if (read_line(prompt, 0, answer, sizeof(answer), &len, err) != 0)
		return -1;
	return config_set_key(p, key, answer, option, err);
}

/* Applies an option to its key: fills a missing value, refuses to change one (that is the
 * config file's to say). *added tells that the key was set. */
static int
apply_option(struct profile *p, const char *key, const char *value, const char *option, int *added,
	     struct error *err)
{
	const char *current = config_key_value(p, key);

	*added = 0;
	if (value == NULL || (current != NULL && strcmp(current, value) == 0))
		return 0;
	/* the auth method always has a value: its default gives way on a profile login makes */
	if (current != NULL && (strcmp(key, "auth_method") != 0 || p->in_file))
		return error_set(err, KB_EXIT_USAGE,
				 "profile %s already has %s %s — edit the config file to change "
				 "it, or leave out --%s",
				 p->name, key, current, option);
	*added = 1;
	return config_set_key(p, key, value, option, err);
}

static int
parse_options(int argc, char **argv, struct login_options *o, const char *allowed,
	      struct error *err)
{
	static const struct option table[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "no-verify", no_argument, NULL, 'n' },
		{ "token-url", required_argument, NULL, 0 },
		{ "issuer", required_argument, NULL, 0 },
		{ "client-id", required_argument, NULL, 0 },
		{ "auth-method", required_argument, NULL, 0 },
		{ "scope", required_argument, NULL, 0 },
		{ "audience", required_argument, NULL, 0 },
		{ "resource", required_argument, NULL, 0 },
		{ "ca-file", required_argument, NULL, 0 },
		{ "private-key", required_argument, NULL, 'k' },
		{ "client-key", required_argument, NULL, 'K' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, index = 0;
	size_t i;

	memset(o, 0, sizeof(*o));
	o->verify = 1;
	opterr = 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, ":p:", table, &index)) != -1) {
		if (opt == '?' || opt == ':' || strstr(allowed, table[index].name) == NULL)
			return error_set(err, KB_EXIT_USAGE,
					 "%s arguments: unknown option or missing value %s — see "
					 "keybearer %s --help",
					 argv[1], argv[optind - 1], argv[1]);
		if (opt == 'p') {
			o->profile = optarg;
		} else if (opt == 'n') {
			o->verify = 0;
		} else if (opt == 'k') {
			o->private_key = optarg;
		} else if (opt == 'K') {
			o->client_key = optarg;
		} else {
			for (i = 0; i < KEY_OPTION_COUNT; i++) {
				if (strcmp(key_options[i].option, table[index].name) == 0)
					o->values[i] = optarg;
			}
		}
		index = 0;
	}
	if (optind != argc)
		return error_set(err, KB_EXIT_USAGE,
				 "%s arguments: unexpected %s — see keybearer %s --help (the "
				 "secret never goes on the command line)",
				 argv[1], argv[optind], argv[1]);
	return 0;
}

/* The profile login works on: an existing one, or a new one named by --profile. */
static struct profile *
login_profile(struct config *cfg, const struct login_options *o, struct error *err)
{
	struct profile *p;
	char source[4200];

	if (o->profile != NULL && config_find(cfg, o->profile) == NULL)
		return config_add_profile(cfg, o->profile, err);
	p = (struct profile *)config_select(cfg, o->profile, err);
	if (p == NULL)
		return NULL;
	if (strcmp(p->name, "env") == 0) {
		error_set(err, KB_EXIT_USAGE,
			  "the env profile takes its secret from KEYBEARER_CLIENT_SECRET — login "
			  "stores secrets of other profiles: give --profile NAME");
		return NULL;
	}
	if (config_refuse_inheriting(p, "login", "one login serves every profile that inherits it",
				     err) != 0)
		return NULL;
	/* mutual-TLS client authentication */
	if (config_auth_is_mtls(p->auth_method)) {
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s authenticates with its client certificate (auth_method = "
			  "%s): it has no secret to store — keybearer login --client-key FILE "
			  "--profile %s stores the certificate's key",
			  p->name, config_auth_method_name(p->auth_method), p->name);
		return NULL;
	}
	/* federated assertions and token exchange (private_key_jwt is told of its key later) */
	if (!config_uses_secret(p) && p->auth_method != AUTH_PRIVATE_KEY_JWT) {
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s authenticates with auth_method = %s: it has no client secret "
			  "to store — keybearer get mints with it as it is",
			  p->name, config_auth_method_name(p->auth_method));
		return NULL;
	}
	if (p->secret_kind != SECRET_KEYRING) {
		config_describe_secret_source(p, source, sizeof(source));
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s takes its secret from %s, not from the keyring — remove its "
			  "secret line to keep the secret in the keyring",
			  p->name, source);
		return NULL;
	}
	return p;
}

/* Drops the cached token (minted with the old secret) and what was recorded of a failure
 * with the old secret, and keeps the new token, if any. */
static int
replace_cached_token(const struct profile *p, const struct token_result *fresh, struct error *err)
{
	struct cache_record rec = { 0 };
	struct cache_clock now;
	struct lockstate st = { 0 };
	struct cache c;
	int lock_fd, rc;

	if (cache_open(&c, p, 1, err) != 0)
		return -1;
	lock_fd = cache_lock(&c, p->name, cache_lock_wait(p), err);
	rc = lock_fd < 0 ? -1 : cache_remove(&c, err);
	if (rc == 0 && lockstate_write(&c, lock_fd, &st) != 0)
		rc = error_set(err, KB_EXIT_IO,
			       "cannot rewrite the lock file %s/%s: %s — remove it by hand", c.dir,
			       c.lock_name, strerror(errno));
	if (rc == 0 && fresh != NULL && fresh->access_token != NULL) {
		rec.access_token = fresh->access_token;
		rec.obtained_at = fresh->obtained_at;
		rec.expires_at = fresh->expires_at;
		cache_clock_now(&now);
		cache_record_stamp(&rec, &now);
		rc = cache_write(&c, &rec, err);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	cache_close(&c);
	return rc;
}

/* one client, many APIs: the profiles whose keyring item is p's ("a, b"), "" for none. */
static void
name_inheritors(const struct config *cfg, const struct profile *p, char *out, size_t size)
{
	size_t i, used = 0;
	int n;

	out[0] = '\0';
	for (i = 0; i < cfg->count; i++) {
		const struct profile *q = &cfg->profiles[i];
		if (q == p || q->inherit == NULL || strcmp(config_keyring_profile(q), p->name) != 0)
			continue;
		n = snprintf(out + used, size - used, "%s%s", used ? ", " : "", q->name);
		if (n < 0 || (size_t)n >= size - used) {
			/* never a cut name: say how many instead */
			snprintf(out, size, "the profiles that inherit it");
			return;
		}
		used += (size_t)n;
	}
}

/* What replace_cached_token does for p, for every profile that inherits p's client too:
 * their tokens were minted with the old secret, their failures recorded with it. */
static int
replace_inheritors_tokens(const struct config *cfg, const struct profile *p, struct error *err)
{
	size_t i;

	for (i = 0; i < cfg->count; i++) {
		const struct profile *q = &cfg->profiles[i];
		if (q != p && q->inherit != NULL &&
		    strcmp(config_keyring_profile(q), p->name) == 0 &&
		    replace_cached_token(q, NULL, err) != 0)
			return -1;
	}
	return 0;
}

/* Writes what the config file lacks: the keys login set, as a section of their own at the
 * end of the file (a second section of the same name adds to the first). */
static int
record_profile(const struct config *cfg, const struct profile *p, const int added[],
	       struct error *err)
{
	const char *keys[KEY_OPTION_COUNT], *values[KEY_OPTION_COUNT];
	size_t i, count = 0;

	for (i = 0; i < KEY_OPTION_COUNT; i++) {
		if (!added[i])
			continue;
		keys[count] = key_options[i].key;
		values[count++] = config_key_value(p, key_options[i].key);
	}
	if (count == 0)
		return 0;
	return config_append_section(cfg, p->name, keys, values, count, err);
}

int
login_run(int argc, char **argv, struct error *err)
{
	struct login_options o;
	struct config cfg;
	struct profile *p;
	struct token_result fresh = { 0 };
	char prompt[256], inheritors[512], *secret = malloc(SECRET_MAX + 2);
	size_t secret_len = 0;
	int rc = -1, retry_after, added[KEY_OPTION_COUNT] = { 0 };
	size_t i;

	if (secret == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	memset(secret, 0, SECRET_MAX + 2);
	mlock(secret, SECRET_MAX + 2);
	if (parse_options(argc, argv, &o,
			  "profile no-verify token-url issuer client-id auth-method scope audience "
			  "resource ca-file private-key client-key",
			  err) != 0)
		goto wipe;
	if (config_load(&cfg, err) != 0)
		goto wipe;
	config_scrub_secret_variables(&cfg, NULL);
	/* a key to keep instead of a secret: private_key_jwt's, or an mTLS certificate's */
	if (o.private_key != NULL || o.client_key != NULL) {
		const struct profile *kp = config_select(&cfg, o.profile, err);
		if (kp == NULL ||
		    config_refuse_inheriting(kp, "login",
					     "one login serves every profile that inherits it",
					     err) != 0)
			rc = -1;
		else if (o.private_key != NULL && o.client_key != NULL)
			rc = error_set(err, KB_EXIT_USAGE,
				       "login takes --private-key or --client-key, not both — a "
				       "profile uses one of them");
		else
			rc = o.private_key != NULL ? keygen_store_existing(kp, o.private_key, err)
						   : keygen_store_client_key(kp, o.client_key, err);
		if (rc == 0 && (replace_cached_token(kp, NULL, err) != 0 ||
				replace_inheritors_tokens(&cfg, kp, err) != 0))
			rc = -1;
		goto out;
	}
	p = login_profile(&cfg, &o, err);
	if (p == NULL)
		goto out;
	if (p->auth_method == AUTH_PRIVATE_KEY_JWT) {
		error_set(err, KB_EXIT_USAGE,
			  "profile %s signs with a private key (private_key_jwt), it has no secret "
			  "to store — run keybearer keygen --profile %s, or keybearer login "
			  "--private-key FILE --profile %s",
			  p->name, p->name, p->name);
		goto out;
	}
	for (i = 0; i < KEY_OPTION_COUNT; i++) {
		if (apply_option(p, key_options[i].key, o.values[i], key_options[i].option,
				 &added[i], err) != 0)
			goto out;
	}
	/* what a profile cannot do without, asked on a terminal */
	if (config_endpoint_identity(p) == NULL &&
	    ask(p, "token_url", "Token URL", "--token-url", added, err) != 0)
		goto out;
	if (p->client_id == NULL &&
	    ask(p, "client_id", "Client id", "--client-id", added, err) != 0)
		goto out;
	snprintf(prompt, sizeof(prompt), "Client secret for profile %s (not shown): ", p->name);
	/* one byte of room for the NUL: the secret itself fits SECRET_MAX, as every source's */
	if (read_line(prompt, 1, secret, SECRET_MAX + 1, &secret_len, err) != 0)
		goto out;
	if (o.verify && (discovery_resolve_token_url(p, err) != 0 ||
			 http_mint(p, &(struct token_credentials){ .secret = secret },
				   monotonic_ms() + (long long)p->timeout * 1000, &fresh,
				   &retry_after, err) != 0)) {
		char why[ERROR_MESSAGE_MAX];
		enum exit_code code = err->code;
		snprintf(why, sizeof(why), "%s", err->message);
		memset(err, 0, sizeof(*err));
		error_set(err, code, "the secret of profile %s was not stored: %s", p->name, why);
		goto out;
	}
	/* the inheritors' first: one asking for what p asks for shares p's file, which then
	 * keeps the fresh token */
	if (keyring_store(p, secret, err) != 0 || record_profile(&cfg, p, added, err) != 0 ||
	    replace_inheritors_tokens(&cfg, p, err) != 0 ||
	    replace_cached_token(p, o.verify ? &fresh : NULL, err) != 0)
		goto out;
	name_inheritors(&cfg, p, inheritors, sizeof(inheritors));
	fprintf(stderr, "keybearer: stored the secret of profile %s in the keyring%s%s%s\n",
		p->name,
		o.verify ? " (checked: the token endpoint accepted it)"
			 : " (not checked: --no-verify)",
		inheritors[0] ? "; it serves " : "", inheritors);
	rc = 0;
out:
	token_result_free(&fresh);
	config_free(&cfg);
wipe:
	explicit_bzero(secret, SECRET_MAX + 2);
	munlock(secret, SECRET_MAX + 2);
	free(secret);
	return rc;
}

int
login_logout(int argc, char **argv, struct error *err)
{
	struct login_options o;
	struct config cfg;
	const struct profile *p;
	int removed = 0, removed_key = 0, removed_client_key = 0, rc = -1;
	char inheritors[512];

	if (parse_options(argc, argv, &o, "profile", err) != 0 || config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, o.profile, err);
	if (p == NULL ||
	    config_refuse_inheriting(p, "logout", "it logs out every profile that inherits it",
				     err) != 0)
		goto out;
	if (p->secret_kind == SECRET_KEYRING && keyring_clear(p, &removed, err) != 0)
		goto out;
	/* key-based client authentication: the key kept in the keyring goes too */
	if (p->private_key_kind == SECRET_KEYRING && p->auth_method == AUTH_PRIVATE_KEY_JWT &&
	    keyring_clear_item(p, CREDENTIAL_PRIVATE_KEY, &removed_key, err) != 0)
		goto out;
	/* mutual-TLS client authentication: the client key kept in the keyring goes too */
	if (p->client_key_kind == SECRET_KEYRING && config_auth_is_mtls(p->auth_method) &&
	    keyring_clear_item(p, CREDENTIAL_CLIENT_KEY, &removed_client_key, err) != 0)
		goto out;
	if (replace_cached_token(p, NULL, err) != 0 || replace_inheritors_tokens(&cfg, p, err) != 0)
		goto out;
	name_inheritors(&cfg, p, inheritors, sizeof(inheritors));
	fprintf(stderr, "keybearer: %s profile %s; its cached token is gone%s%s%s\n",
		removed_client_key ? "removed from the keyring the client key of"
		: removed_key	   ? "removed from the keyring the private key of"
		: removed	   ? "removed from the keyring the secret of"
				   : "the keyring held no secret of",
		p->name, inheritors[0] ? ", and those of " : "", inheritors,
		inheritors[0] ? ", which inherit its client" : "");
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}

int
login_keyring_status(int argc, char **argv, struct error *err)
{
	static const char *const names[] = {
		[KEYRING_STORED] = "stored",
		[KEYRING_MISSING] = "not stored",
		[KEYRING_LOCKED] = "stored, keyring locked",
	};
	struct login_options o;
	struct config cfg;
	const struct profile *p;
	struct error probe_err = { 0 };
	enum keyring_state state;

	if (parse_options(argc, argv, &o, "profile", err) != 0 || config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, o.profile, err);
	if (p == NULL) {
		config_free(&cfg);
		return -1;
	}
	if (keyring_probe(p, &state, &probe_err) == 0) {
		printf("%s\n", names[state]);
	} else {
		/* the why, without the what-to-do: status is a summary */
		const char *advice = strstr(probe_err.message, " — ");
		int len = advice != NULL ? (int)(advice - probe_err.message)
					 : (int)strlen(probe_err.message);
		printf("unavailable: %.*s\n", len, probe_err.message);
	}
	config_free(&cfg);
	return 0;
}
