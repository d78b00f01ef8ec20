#include "config.h"
#include "config_internal.h"
#include "config_index.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "safefile.h"
#include "url.h"

/* A file is read in pieces of CONFIG_CHUNK bytes, so memory does not grow with its size: a
 * generated config of ten thousand profiles (1.3 MiB) loads, and 8 MiB is a mistake. */
#define CONFIG_FILE_MAX (8 * 1024 * 1024)
#define CONFIG_CHUNK	(64 * 1024)
/* inih keeps at most 49 characters of a section header: "profile " and 40 more. */
#define SECTION_MAX	 49
#define PROFILE_NAME_MAX 40
#define WHERE_MAX	 4200

enum key_type {
	KEY_STRING,
	KEY_ENDPOINT,
	KEY_PATH,
	KEY_AUTH_METHOD,
	KEY_URL_LIST,
	KEY_SECRET,
	KEY_SECONDS,
	/* key-based client authentication */
	KEY_PRIVATE_KEY,
	KEY_SIGNING_ALG,
	KEY_KEY_ID,
	/* federated assertions and token exchange */
	KEY_TOKEN_SOURCE,
	KEY_GRANT_TYPE,
	KEY_TOKEN_TYPE,
	/* mutual-TLS client authentication */
	KEY_CLIENT_CERT,
	KEY_CLIENT_KEY,
	/* one client, many APIs */
	KEY_INHERIT,
};

/* one client, many APIs: what inherit = BASE does with each key */
enum key_class {
	KEY_IDENTITY,	 /* the client: always the base's; a profile that inherits may not set it */
	KEY_OWN,	 /* what the token is for: never inherited; unset in the child is unset */
	KEY_OPERATIONAL, /* how keybearer behaves: the base's unless the child sets it */
};

struct key_rule {
	const char *name;
	enum key_type type;
	size_t offset; /* of the field in struct profile */
	int min, max;  /* for KEY_SECONDS */
	enum key_class cls;
};

#define KEY_SLOT(type, field) type, offsetof(struct profile, field)

static const struct key_rule key_rules[] = {
	{ "token_url", KEY_SLOT(KEY_ENDPOINT, token_url), 0, 0, KEY_IDENTITY },
	{ "issuer", KEY_SLOT(KEY_ENDPOINT, issuer), 0, 0, KEY_IDENTITY },
	{ "jwks_url", KEY_SLOT(KEY_ENDPOINT, jwks_url), 0, 0, KEY_IDENTITY },
	{ "client_id", KEY_SLOT(KEY_STRING, client_id), 0, 0, KEY_IDENTITY },
	{ "scope", KEY_SLOT(KEY_STRING, scope), 0, 0, KEY_OWN },
	{ "audience", KEY_SLOT(KEY_STRING, audience), 0, 0, KEY_OWN },
	{ "resource", KEY_SLOT(KEY_STRING, resource), 0, 0, KEY_OWN },
	{ "auth_method", KEY_SLOT(KEY_AUTH_METHOD, auth_method), 0, 0, KEY_IDENTITY },
	{ "urls", KEY_URL_LIST, 0, 0, 0, KEY_OWN },
	{ "secret", KEY_SECRET, 0, 0, 0, KEY_IDENTITY },
	{ "ca_file", KEY_SLOT(KEY_PATH, ca_file), 0, 0, KEY_IDENTITY },
	{ "timeout", KEY_SLOT(KEY_SECONDS, timeout), 1, 600, KEY_OPERATIONAL },
	{ "refresh_margin", KEY_SLOT(KEY_SECONDS, refresh_margin), 0, 604800, KEY_OPERATIONAL },
	{ "keyring_timeout", KEY_SLOT(KEY_SECONDS, keyring_timeout), 1, 120, KEY_OPERATIONAL },
	{ "git_username", KEY_SLOT(KEY_STRING, git_username), 0, 0, KEY_OPERATIONAL },
	/* key-based client authentication */
	{ "private_key", KEY_PRIVATE_KEY, 0, 0, 0, KEY_IDENTITY },
	{ "signing_alg", KEY_SLOT(KEY_SIGNING_ALG, signing_alg), 0, 0, KEY_IDENTITY },
	{ "key_id", KEY_SLOT(KEY_KEY_ID, key_id), 0, 0, KEY_IDENTITY },
	/* the aud of an assertion keybearer signs, or of the ID token it asks GitHub for */
	{ "assertion_audience", KEY_SLOT(KEY_STRING, assertion_audience), 0, 0, KEY_IDENTITY },
	/* federated assertions and token exchange */
	{ "assertion", KEY_SLOT(KEY_TOKEN_SOURCE, assertion), 0, 0, KEY_IDENTITY },
	{ "grant_type", KEY_SLOT(KEY_GRANT_TYPE, grant_type), 0, 0, KEY_IDENTITY },
	{ "subject_token", KEY_SLOT(KEY_TOKEN_SOURCE, subject_token), 0, 0, KEY_IDENTITY },
	{ "subject_token_type", KEY_SLOT(KEY_TOKEN_TYPE, subject_token_type), 0, 0, KEY_IDENTITY },
	{ "requested_token_type", KEY_SLOT(KEY_TOKEN_TYPE, requested_token_type), 0, 0,
	  KEY_OPERATIONAL },
	/* mutual-TLS client authentication */
	{ "client_cert", KEY_SLOT(KEY_CLIENT_CERT, client_cert), 0, 0, KEY_IDENTITY },
	{ "client_key", KEY_CLIENT_KEY, 0, 0, 0, KEY_IDENTITY },
	/* one client, many APIs */
	{ "inherit", KEY_SLOT(KEY_INHERIT, inherit), 0, 0, KEY_OWN },
};

#define KEY_COUNT (sizeof(key_rules) / sizeof(key_rules[0]))

/* A [profile NAME] of the file, and the keys it gave already: a repeated key is an error,
 * not a surprise, even when the profile comes back in a later section. Kept for every
 * section of the file, so it stays small: its name is in parse_state's section_names at
 * the same position. */
struct section {
	unsigned long long seen; /* a bit per key rule */
	/* one client, many APIs: checked once the whole file is read, since a base may come
	 * after the profile that names it */
	uint32_t inherit;	    /* position + 1 in inherit_names of its inherit line; 0: none */
	int inherit_line;	    /* the line of that inherit = */
	int identity_line;	    /* the line of the first identity key it sets */
	unsigned char identity_key; /* that key's place in key_rules */
	unsigned char dropped;	    /* keys of a visit went to scratch and were dropped */
	unsigned char indexed;	    /* a visit of it is in the index being written */
	unsigned char has_urls;	    /* its urls line listed an entry (kept for the index) */
};

/* A string that grows, for what the index says of a visit. */
struct words {
	char *text;
	size_t len, cap;
};

struct parse_state {
	struct config *cfg;
	const char *path;
	/* The text: all of it (config_load_text), or a window of the file refilled from fd. */
	const char *text;      /* the whole text, or NULL for a file */
	const char *pos, *end; /* next unread byte, and the end of what is read */
	int fd;		       /* -1: the text is all there */
	size_t file_size;      /* as fstat saw it: a file read beyond it changed */
	char *chunk;	       /* the window, chunk_size bytes (and one for a NUL) */
	size_t chunk_size;     /* CONFIG_CHUNK, or less for a smaller file */
	size_t file_read;      /* bytes of the file read so far */
	int file_done;
	int lineno;
	int error_line;	    /* the line of the error in err; lines are read in order */
	int continued;	    /* the line being parsed is indented: inih continues the last key */
	int key_in_section; /* a key line came since the last section header */
	struct error *err;
	struct section *sections;
	size_t section_count, section_cap;
	struct name_set section_names; /* the name of sections[i] at position i */
	struct name_set inherit_names; /* the values of inherit lines */
	struct section *current;       /* the section of the last key */
	/* Keep only the profiles named here, or those with a claim on want's origin, or
	 * (keep_all) every one. The keys of the others are checked in scratch and dropped, so
	 * memory grows with the profiles kept (and the bases they inherit from), not with
	 * the file's count. */
	int keep_all;
	const char *const *keep;
	size_t keep_count;
	const struct url *want; /* keep the profiles that may claim a URL of its origin */
	int revisited_claim;	/* a kept claim came in a later visit of its section */
	int skip_others;	/* a second pass: the other sections were checked in the first */
	struct profile scratch;
	int scratch_used; /* the current visit's keys are in scratch */
	/* The index written as the file is read (config_index.h): the visit being read, from
	 * its header line on, and what it may claim and the variables it reads. */
	struct config_index_writer *index;
	long long visit_start;
	struct section *visit_section;
	struct words visit_claims, visit_variables;
};

static int valid_profile_name(const char *name);
static void profile_defaults(struct profile *p);

/* "PATH:LINE", as every message about a line starts: written for every key line read, so
 * without printf. */
static void
format_where(char *out, size_t size, const char *path, int line)
{
	size_t len = strlen(path), digits = 0;
	char reversed[16];
	unsigned value = line > 0 ? (unsigned)line : 0;

	do {
		reversed[digits++] = (char)('0' + value % 10);
		value /= 10;
	} while (value != 0 && digits < sizeof(reversed));
	if (len + 1 + digits + 1 > size) {
		snprintf(out, size, "%s:%d", path, line);
		return;
	}
	memcpy(out, path, len);
	out[len++] = ':';
	while (digits > 0)
		out[len++] = reversed[--digits];
	out[len] = '\0';
}

/* a bit per key rule in the sections' seen masks */
_Static_assert(sizeof(key_rules) / sizeof(key_rules[0]) <= 64, "more key rules than seen bits");

static unsigned long long
key_bit(const struct key_rule *rule)
{
	return 1ull << (unsigned)(rule - key_rules);
}

static const char *const auth_method_names[] = {
	[AUTH_CLIENT_SECRET_POST] = "client_secret_post",
	[AUTH_CLIENT_SECRET_BASIC] = "client_secret_basic",
	/* key-based client authentication */
	[AUTH_CLIENT_SECRET_JWT] = "client_secret_jwt",
	[AUTH_PRIVATE_KEY_JWT] = "private_key_jwt",
	/* federated assertions and token exchange */
	[AUTH_CLIENT_ASSERTION] = "client_assertion",
	[AUTH_NONE] = "none",
	/* mutual-TLS client authentication */
	[AUTH_TLS_CLIENT_AUTH] = "tls_client_auth",
	[AUTH_SELF_SIGNED_TLS_CLIENT_AUTH] = "self_signed_tls_client_auth",
};

#define AUTH_METHOD_COUNT (sizeof(auth_method_names) / sizeof(auth_method_names[0]))

/* mutual-TLS client authentication */
int
config_auth_is_mtls(enum auth_method method)
{
	return method == AUTH_TLS_CLIENT_AUTH || method == AUTH_SELF_SIGNED_TLS_CLIENT_AUTH;
}

const char *
config_auth_method_name(enum auth_method method)
{
	return (size_t)method < AUTH_METHOD_COUNT && auth_method_names[method] != NULL
		       ? auth_method_names[method]
		       : "client_secret_post";
}

/* federated assertions and token exchange */
int
config_uses_secret(const struct profile *p)
{
	return p->auth_method == AUTH_CLIENT_SECRET_POST ||
	       p->auth_method == AUTH_CLIENT_SECRET_BASIC ||
	       p->auth_method == AUTH_CLIENT_SECRET_JWT;
}

const char *
config_subject_token_type(const struct profile *p)
{
	return p->subject_token_type != NULL ? p->subject_token_type : TOKEN_TYPE_JWT;
}

const char *
config_grant_type_name(enum grant_type grant)
{
	return grant == GRANT_TOKEN_EXCHANGE ? "token_exchange" : "client_credentials";
}

void
config_describe_token_source(const struct token_source *src, char *out, size_t size)
{
	static const char *const prefixes[] = {
		[TOKEN_SOURCE_NONE] = "(none)",
		[TOKEN_SOURCE_GITHUB_ACTIONS] = "github-actions",
		[TOKEN_SOURCE_ENV] = "env:",
		[TOKEN_SOURCE_FILE] = "file:",
		[TOKEN_SOURCE_COMMAND] = "command:",
	};

	snprintf(out, size, "%s%s", prefixes[src->kind], src->arg != NULL ? src->arg : "");
}

int
config_auth_signs_assertion(enum auth_method method)
{
	return method == AUTH_CLIENT_SECRET_JWT || method == AUTH_PRIVATE_KEY_JWT;
}

static const char *const source_prefixes[] = {
	[SECRET_KEYRING] = "keyring",
	[SECRET_ENV] = "env:",
	[SECRET_FILE] = "file:",
	[SECRET_COMMAND] = "command:",
};

void
config_describe_secret_source(const struct profile *p, char *out, size_t size)
{
	snprintf(out, size, "%s%s", source_prefixes[p->secret_kind],
		 p->secret_arg != NULL ? p->secret_arg : "");
}

void
config_describe_private_key_source(const struct profile *p, char *out, size_t size)
{
	snprintf(out, size, "%s%s", source_prefixes[p->private_key_kind],
		 p->private_key_arg != NULL ? p->private_key_arg : "");
}

void
config_describe_client_key_source(const struct profile *p, char *out, size_t size)
{
	snprintf(out, size, "%s%s", source_prefixes[p->client_key_kind],
		 p->client_key_arg != NULL ? p->client_key_arg : "");
}

static int
out_of_memory(struct error *err)
{
	return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory and retry");
}

static void
profile_free(struct profile *p)
{
	size_t i;

	free(p->name);
	free(p->token_url);
	free(p->issuer);
	free(p->jwks_url);
	free(p->client_id);
	free(p->scope);
	free(p->audience);
	free(p->resource);
	for (i = 0; i < p->url_count; i++)
		free(p->urls[i]);
	free(p->urls);
	free(p->secret_arg);
	free(p->ca_file);
	free(p->git_username);
	/* key-based client authentication */
	free(p->private_key_arg);
	free(p->signing_alg);
	free(p->key_id);
	free(p->assertion_audience);
	/* federated assertions and token exchange */
	free(p->assertion.arg);
	free(p->subject_token.arg);
	free(p->subject_token_type);
	free(p->requested_token_type);
	free(p->client_cert);
	free(p->client_key_arg);
	free(p->inherit);
	free(p->identity);
	memset(p, 0, sizeof(*p));
}

void
config_free(struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->count; i++)
		profile_free(&cfg->profiles[i]);
	free(cfg->profiles);
	free(cfg->path);
	free(cfg->other_names);
	name_index_free(&cfg->by_name);
	name_set_free(&cfg->dropped_variables);
	memset(cfg, 0, sizeof(*cfg));
}

static const char *
profile_name_at(const void *profiles, size_t position)
{
	return ((const struct profile *)profiles)[position].name;
}

const struct profile *
config_find(const struct config *cfg, const char *name)
{
	size_t i;

	/* a config not built by profile_add (a test's) has no index: looked through */
	if (cfg->by_name.count == cfg->count && cfg->count > 0) {
		i = name_index_find(&cfg->by_name, name, profile_name_at, cfg->profiles);
		return i == NAME_INDEX_NONE ? NULL : &cfg->profiles[i];
	}
	for (i = 0; i < cfg->count; i++) {
		if (strcmp(cfg->profiles[i].name, name) == 0)
			return &cfg->profiles[i];
	}
	return NULL;
}

struct profile *
config_add_profile(struct config *cfg, const char *name, struct error *err)
{
	if (!valid_profile_name(name) || strcmp(name, ENV_PROFILE_NAME) == 0) {
		error_set(err, KB_EXIT_USAGE,
			  "bad profile name \"%.64s\" — use up to %d letters, digits, '.', '_' or "
			  "'-' (env is reserved)",
			  name, PROFILE_NAME_MAX);
		return NULL;
	}
	return config_profile_add(cfg, name, err);
}

struct profile *
config_profile_add(struct config *cfg, const char *name, struct error *err)
{
	struct profile *grown, *p;

	if (cfg->count == cfg->capacity) {
		/* doubling: a thousand profiles are not a thousand copies of the array */
		grown = realloc(cfg->profiles, (cfg->count ? cfg->count * 2 : 4) * sizeof(*grown));
		if (grown == NULL) {
			out_of_memory(err);
			return NULL;
		}
		cfg->profiles = grown;
		cfg->capacity = cfg->count ? cfg->count * 2 : 4;
	}
	p = &cfg->profiles[cfg->count];
	memset(p, 0, sizeof(*p));
	p->name = strdup(name);
	if (p->name == NULL || name_index_add(&cfg->by_name, p->name, cfg->count) != 0) {
		free(p->name);
		p->name = NULL;
		out_of_memory(err);
		return NULL;
	}
	profile_defaults(p);
	cfg->count++;
	return p;
}

int
config_replace_string(char **field, const char *value, struct error *err)
{
	char *copy = NULL;

	if (*value != '\0') {
		copy = strdup(value);
		if (copy == NULL)
			return out_of_memory(err);
	}
	free(*field);
	*field = copy;
	return 0;
}

/* "~/x" means $HOME/x; anything else must be absolute, since the working directory of a
 * credential helper is whatever its host tool's happens to be. */
static int
set_path(char **field, const char *value, const char *where, const char *key, struct error *err)
{
	const char *home = getenv("HOME");
	char *path;

	if (strncmp(value, "~/", 2) == 0 && home != NULL && *home == '/') {
		size_t len = strlen(home) + strlen(value);
		path = malloc(len);
		if (path == NULL)
			return out_of_memory(err);
		snprintf(path, len, "%s%s", home, value + 1);
	} else if (*value == '/') {
		path = strdup(value);
		if (path == NULL)
			return out_of_memory(err);
	} else {
		return error_set(
			err, KB_EXIT_CONFIG,
			"%s: %s \"%s\" is not an absolute path — write /full/path or ~/path", where,
			key, value);
	}
	free(*field);
	*field = path;
	return 0;
}

/* Sets (or, for an indented continuation line, extends) the urls list. */
/* The list holds what the profile gives: a few prefixes, not room for CONFIG_MAX_URLS. */
int
config_profile_add_url(struct profile *p, const char *url, struct error *err)
{
	char **grown = realloc(p->urls, (p->url_count + 1) * sizeof(*grown));

	if (grown == NULL)
		return out_of_memory(err);
	p->urls = grown;
	p->urls[p->url_count] = strdup(url);
	if (p->urls[p->url_count] == NULL)
		return out_of_memory(err);
	p->url_count++;
	return 0;
}

static int
set_url_list(struct profile *p, const char *value, int append, const char *where, struct error *err)
{
	char *copy, *token, *saveptr = NULL;
	size_t i;
	int rc = 0;

	for (i = 0; i < p->url_count && !append; i++)
		free(p->urls[i]);
	if (!append)
		p->url_count = 0;
	copy = strdup(value);
	if (copy == NULL)
		return out_of_memory(err);
	for (token = strtok_r(copy, " ,", &saveptr); token != NULL && rc == 0;
	     token = strtok_r(NULL, " ,", &saveptr)) {
		char what[WHERE_MAX];
		snprintf(what, sizeof(what), "%s: urls entry", where);
		if (url_check_endpoint(token, what, err) != 0) {
			rc = -1;
		} else if (p->url_count == CONFIG_MAX_URLS) {
			rc = error_set(err, KB_EXIT_CONFIG,
				       "%s: urls lists more than %d prefixes — shorten the list",
				       where, CONFIG_MAX_URLS);
		} else {
			rc = config_profile_add_url(p, token, err);
		}
	}
	free(copy);
	return rc;
}

/* A credential's source: keyring, env:NAME (when allow_env), file:PATH or command:CMD. */
static int
set_source(enum secret_kind *kind, char **arg, int allow_env, const char *key, const char *value,
	   const char *where, struct error *err)
{
	char what[64];

	if (allow_env && strncmp(value, "env:", 4) == 0) {
		const char *name = value + 4;
		size_t i;
		if (*name == '\0' || isdigit((unsigned char)*name))
			goto bad_env;
		for (i = 0; name[i] != '\0'; i++) {
			if (!isalnum((unsigned char)name[i]) && name[i] != '_')
				goto bad_env;
		}
		*kind = SECRET_ENV;
		return config_replace_string(arg, name, err);
	}
	if (strncmp(value, "file:", 5) == 0) {
		*kind = SECRET_FILE;
		snprintf(what, sizeof(what), "%s file",
			 strcmp(key, "secret") == 0 ? "secret" : key);
		return set_path(arg, value + 5, where, what, err);
	}
	if (strncmp(value, "command:", 8) == 0 && value[8 + strspn(value + 8, " \t")] != '\0') {
		*kind = SECRET_COMMAND;
		return config_replace_string(arg, value + 8 + strspn(value + 8, " \t"), err);
	}
	if (strcmp(value, "keyring") == 0) {
		*kind = SECRET_KEYRING;
		free(*arg);
		*arg = NULL;
		return 0;
	}
	if (allow_env)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s: unknown %s source \"%s\" — use keyring, env:VARIABLE, "
				 "file:/path or command:CMD",
				 where, key, value);
	return error_set(err, KB_EXIT_CONFIG,
			 "%s: unknown %s source \"%s\" — use keyring, file:/path or command:CMD "
			 "(a key is no environment variable's to hold)",
			 where, key, value);
bad_env:
	return error_set(err, KB_EXIT_CONFIG,
			 "%s: \"%s\" does not name an environment variable — use env:NAME with "
			 "letters, digits and _",
			 where, value);
}

/* federated assertions and token exchange */
/* env:NAME's NAME: letters, digits and _, not starting with a digit. */
static int
is_variable_name(const char *name)
{
	size_t i;

	if (*name == '\0' || isdigit((unsigned char)*name))
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			return 0;
	}
	return 1;
}

/* assertion = and subject_token =: github-actions, env:NAME, file:PATH or command:CMD. There
 * is no keyring: a token someone else issued lives minutes, not in a keyring. */
static int
set_token_source(struct token_source *src, const struct key_rule *rule, const char *value,
		 const char *where, struct error *err)
{
	const char *command = value + 8 + strspn(value + 8, " \t");

	if (strcmp(value, "github-actions") == 0) {
		src->kind = TOKEN_SOURCE_GITHUB_ACTIONS;
		free(src->arg);
		src->arg = NULL;
		return 0;
	}
	if (strncmp(value, "env:", 4) == 0) {
		if (!is_variable_name(value + 4))
			return error_set(err, KB_EXIT_CONFIG,
					 "%s: \"%s\" does not name an environment variable — use "
					 "env:NAME with letters, digits and _",
					 where, value);
		src->kind = TOKEN_SOURCE_ENV;
		return config_replace_string(&src->arg, value + 4, err);
	}
	if (strncmp(value, "file:", 5) == 0) {
		src->kind = TOKEN_SOURCE_FILE;
		return set_path(&src->arg, value + 5, where, rule->name, err);
	}
	if (strncmp(value, "command:", 8) == 0 && *command != '\0') {
		src->kind = TOKEN_SOURCE_COMMAND;
		return config_replace_string(&src->arg, command, err);
	}
	return error_set(err, KB_EXIT_CONFIG,
			 "%s: unknown %s source \"%s\" — use github-actions, env:VARIABLE, "
			 "file:/path or command:CMD",
			 where, rule->name, value);
}

/* An RFC 8693 token type is an absolute URI (RFC 3986: scheme ":" ...), sent as given. */
static int
set_token_type(char **field, const struct key_rule *rule, const char *value, const char *where,
	       struct error *err)
{
	size_t scheme =
		strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");

	if (!isalpha((unsigned char)value[0]) || value[scheme] != ':' ||
	    value[scheme + 1] == '\0' || strpbrk(value, " \t\"<>\\^`{|}") != NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s: %s \"%s\" is not a token type URI — use one such as %s",
				 where, rule->name, value, TOKEN_TYPE_JWT);
	return config_replace_string(field, value, err);
}

static int
set_secret_source(struct profile *p, const char *value, const char *where, struct error *err)
{
	return set_source(&p->secret_kind, &p->secret_arg, 1, "secret", value, where, err);
}

/* key-based client authentication */
static int
set_signing_alg(struct profile *p, const char *value, const char *where, struct error *err)
{
	static const char *const known[] = { "RS256", "PS256", "ES256", "EdDSA", "HS256" };
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(value, known[i]) == 0)
			return config_replace_string(&p->signing_alg, value, err);
	}
	return error_set(err, KB_EXIT_CONFIG,
			 "%s: unknown signing_alg \"%s\" — use RS256, PS256, ES256 or EdDSA (for "
			 "private_key_jwt), HS256 (for client_secret_jwt), or leave it out",
			 where, value);
}

/* mutual-TLS client authentication: the certificate is no secret, but only a file names
 * it (a chain in PEM); the key comes from where a secret may, but for the environment. */
static int
set_client_cert(struct profile *p, const char *value, const char *where, struct error *err)
{
	if (strncmp(value, "file:", 5) != 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s: client_cert \"%s\" names no file — write client_cert = "
				 "file:/path/to/cert.pem",
				 where, value);
	return set_path(&p->client_cert, value + 5, where, "client_cert file", err);
}

static int
set_client_key(struct profile *p, const char *value, const char *where, struct error *err)
{
	return set_source(&p->client_key_kind, &p->client_key_arg, 0, "client_key", value, where,
			  err);
}

static int
set_seconds(int *field, const char *value, const struct key_rule *rule, const char *where,
	    struct error *err)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*value))
		goto bad;
	n = strtol(value, &end, 10);
	if (*end != '\0' || n < rule->min || n > rule->max)
		goto bad;
	*field = (int)n;
	return 0;
bad:
	return error_set(err, KB_EXIT_CONFIG,
			 "%s: %s must be a whole number of seconds from %d to %d, not \"%s\" — "
			 "fix the value",
			 where, rule->name, rule->min, rule->max, value);
}

static int
set_auth_method(struct profile *p, const char *value, const char *where, struct error *err)
{
	char names[512] = "";
	size_t i, used = 0;

	for (i = 0; i < AUTH_METHOD_COUNT; i++) {
		if (auth_method_names[i] != NULL && strcmp(value, auth_method_names[i]) == 0) {
			p->auth_method = (enum auth_method)i;
			return 0;
		}
	}
	/* "a, b, c or d", from the table, so a new method is named where it is added */
	for (i = 0; i < AUTH_METHOD_COUNT && used < sizeof(names); i++)
		used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
					 i == 0			      ? ""
					 : i + 1 == AUTH_METHOD_COUNT ? " or "
								      : ", ",
					 auth_method_names[i]);
	return error_set(err, KB_EXIT_CONFIG, "%s: unknown auth_method \"%s\" — use %s", where,
			 value, names);
}

static int
profile_set(struct profile *p, const struct key_rule *rule, const char *value, const char *where,
	    struct error *err)
{
	char *base = (char *)p;
	const char *v;
	char what[WHERE_MAX];

	for (v = value; *v != '\0'; v++) {
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return error_set(err, KB_EXIT_CONFIG,
					 "%s: %s contains a control character — remove it", where,
					 rule->name);
	}
	if (*value == '\0' && rule->type != KEY_STRING)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s: %s is empty — give a value or remove "
				 "the line",
				 where, rule->name);
	switch (rule->type) {
	case KEY_STRING:
		return config_replace_string((char **)(base + rule->offset), value, err);
	case KEY_ENDPOINT:
		snprintf(what, sizeof(what), "%s: %s", where, rule->name);
		if (url_check_endpoint(value, what, err) != 0)
			return -1;
		return config_replace_string((char **)(base + rule->offset), value, err);
	case KEY_PATH:
		return set_path((char **)(base + rule->offset), value, where, rule->name, err);
	case KEY_AUTH_METHOD:
		return set_auth_method(p, value, where, err);
	/* federated assertions and token exchange */
	case KEY_TOKEN_SOURCE:
		return set_token_source((struct token_source *)(base + rule->offset), rule, value,
					where, err);
	case KEY_GRANT_TYPE:
		if (strcmp(value, "client_credentials") == 0)
			p->grant_type = GRANT_CLIENT_CREDENTIALS;
		else if (strcmp(value, "token_exchange") == 0 ||
			 strcmp(value, GRANT_TYPE_TOKEN_EXCHANGE) == 0)
			p->grant_type = GRANT_TOKEN_EXCHANGE;
		else
			return error_set(err, KB_EXIT_CONFIG,
					 "%s: unknown grant_type \"%s\" — use client_credentials "
					 "or token_exchange",
					 where, value);
		return 0;
	case KEY_TOKEN_TYPE:
		return set_token_type((char **)(base + rule->offset), rule, value, where, err);
	case KEY_URL_LIST:
		return set_url_list(p, value, 0, where, err);
	case KEY_SECRET:
		return set_secret_source(p, value, where, err);
	case KEY_SECONDS:
		return set_seconds((int *)(base + rule->offset), value, rule, where, err);
	/* key-based client authentication */
	case KEY_PRIVATE_KEY:
		return set_source(&p->private_key_kind, &p->private_key_arg, 0, "private_key",
				  value, where, err);
	case KEY_SIGNING_ALG:
		return set_signing_alg(p, value, where, err);
	case KEY_KEY_ID:
		if (strlen(value) > CONFIG_KEY_ID_MAX)
			return error_set(err, KB_EXIT_CONFIG,
					 "%s: key_id is longer than %d characters — give the kid "
					 "the provider has registered",
					 where, CONFIG_KEY_ID_MAX);
		return config_replace_string(&p->key_id, value, err);
	/* mutual-TLS client authentication */
	case KEY_CLIENT_CERT:
		return set_client_cert(p, value, where, err);
	case KEY_CLIENT_KEY:
		return set_client_key(p, value, where, err);
	/* one client, many APIs: whether the base exists is known once the file is read */
	case KEY_INHERIT:
		if (!valid_profile_name(value))
			return error_set(err, KB_EXIT_CONFIG,
					 "%s: inherit \"%s\" is no profile name — name the "
					 "[profile NAME] whose client this profile uses",
					 where, value);
		return config_replace_string(&p->inherit, value, err);
	}
	return 0;
}

static const struct key_rule *
key_rule_find(const char *name)
{
	size_t i;

	for (i = 0; i < KEY_COUNT; i++) {
		if (key_rules[i].name[0] == name[0] && strcmp(key_rules[i].name, name) == 0)
			return &key_rules[i];
	}
	return NULL;
}

unsigned long long
config_key_bit(const char *key)
{
	const struct key_rule *rule = key_rule_find(key);

	return rule != NULL ? key_bit(rule) : 0;
}

const char *
config_key_value(const struct profile *p, const char *key)
{
	const struct key_rule *rule = key_rule_find(key);

	if (rule == NULL)
		return NULL;
	switch (rule->type) {
	case KEY_STRING:
	case KEY_ENDPOINT:
	case KEY_PATH:
	case KEY_CLIENT_CERT:
		return *(char *const *)((const char *)p + rule->offset);
	case KEY_AUTH_METHOD:
		return config_auth_method_name(p->auth_method);
	case KEY_SIGNING_ALG:
		return p->signing_alg;
	case KEY_KEY_ID:
		return p->key_id;
	case KEY_GRANT_TYPE:
		return config_grant_type_name(p->grant_type);
	case KEY_TOKEN_TYPE:
	case KEY_INHERIT:
		return *(char *const *)((const char *)p + rule->offset);
	default:
		return NULL;
	}
}

int
config_set_key(struct profile *p, const char *key, const char *value, const char *where,
	       struct error *err)
{
	const struct key_rule *rule = key_rule_find(key);

	if (rule == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "unknown key %s — report this bug", key);
	return profile_set(p, rule, value, where, err);
}

/* Edits (insert, delete, replace, swap two neighbours) from a to b, case aside: enough to
 * tell a typo from another word. Names of 64 bytes or more count as far apart. */
static size_t
edit_distance(const char *a, const char *b)
{
	unsigned char d[64][64];
	size_t la = strlen(a), lb = strlen(b), i, j, v;

	if (la >= 64 || lb >= 64)
		return 64;
	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned char)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned char)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			v = d[i - 1][j - 1] +
			    (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
			if (d[i - 1][j] + 1u < v)
				v = d[i - 1][j] + 1u;
			if (d[i][j - 1] + 1u < v)
				v = d[i][j - 1] + 1u;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1u < v)
				v = d[i - 2][j - 2] + 1u;
			d[i][j] = (unsigned char)v;
		}
	}
	return d[la][lb];
}

/* The known key a mistyped one most likely meant (the closest, at most two edits away and
 * fewer than its length), or NULL. */
static const char *
nearest_key(const char *name)
{
	const char *best = NULL;
	size_t i, distance, best_distance = 3;

	for (i = 0; i < KEY_COUNT; i++) {
		distance = edit_distance(name, key_rules[i].name);
		if (distance < best_distance && distance < strlen(name)) {
			best = key_rules[i].name;
			best_distance = distance;
		}
	}
	return best;
}

static int
valid_profile_name(const char *name)
{
	size_t i;

	if (*name == '\0' || strlen(name) > PROFILE_NAME_MAX)
		return 0;
	for (i = 0; name[i] != '\0'; i++) {
		if (!isalnum((unsigned char)name[i]) && strchr("._-", name[i]) == NULL)
			return 0;
	}
	return 1;
}

/* The error of a "[...]" header line, or 0 when it is "[profile NAME]" with a good name. */
static int
check_section_header(struct parse_state *st, const char *line, size_t len)
{
	const char *close = memchr(line, ']', len), *name;
	char where[WHERE_MAX], header[SECTION_MAX + 16];
	size_t header_len;

	if (close == NULL)
		return 0; /* inih reports the malformed line */
	header_len = (size_t)(close - line - 1);
	/* read for every header: no printf */
	memcpy(header, line + 1, header_len > SECTION_MAX ? SECTION_MAX : header_len);
	strcpy(header + (header_len > SECTION_MAX ? SECTION_MAX : header_len),
	       header_len > SECTION_MAX ? "..." : "");
	format_where(where, sizeof(where), st->path, st->lineno);
	if (strncmp(header, "profile", 7) != 0 || (header[7] != ' ' && header[7] != '\t'))
		return error_set(st->err, KB_EXIT_CONFIG,
				 "%s: unknown section [%s] — sections are written [profile NAME]",
				 where, header);
	for (name = header + 7; *name == ' ' || *name == '\t'; name++)
		;
	if (strcmp(name, ENV_PROFILE_NAME) == 0)
		return error_set(st->err, KB_EXIT_CONFIG,
				 "%s: the profile name env is reserved for the profile the "
				 "KEYBEARER_* variables describe — rename the section",
				 where);
	if (header_len > SECTION_MAX || !valid_profile_name(name))
		return error_set(st->err, KB_EXIT_CONFIG,
				 "%s: bad profile name \"%s\" — use up to %d letters, digits, '.', "
				 "'_' or '-'",
				 where, name, PROFILE_NAME_MAX);
	return 0;
}

static const char *
section_name(const struct parse_state *st, const struct section *sec)
{
	return name_set_at(&st->section_names, (size_t)(sec - st->sections));
}

/* one client, many APIs: the value of sec's inherit line, or NULL */
static const char *
section_inherit(const struct parse_state *st, const struct section *sec)
{
	return sec->inherit != 0 ? name_set_at(&st->inherit_names, sec->inherit - 1) : NULL;
}

static void
profile_defaults(struct profile *p)
{
	p->auth_method = AUTH_CLIENT_SECRET_POST;
	p->timeout = CONFIG_DEFAULT_TIMEOUT;
	p->refresh_margin = CONFIG_DEFAULT_REFRESH_MARGIN;
	p->keyring_timeout = CONFIG_DEFAULT_KEYRING_TIMEOUT;
}

/* The variables a dropped profile reads its secrets from: still secret variables, kept
 * from children and scrubbed, though the profile is not kept. */
static int
note_dropped_variables(struct config *cfg, const struct profile *p)
{
	const char *names[3] = {
		p->secret_kind == SECRET_ENV ? p->secret_arg : NULL,
		p->assertion.kind == TOKEN_SOURCE_ENV ? p->assertion.arg : NULL,
		p->subject_token.kind == TOKEN_SOURCE_ENV ? p->subject_token.arg : NULL,
	};
	size_t i;
	int added;

	for (i = 0; i < 3; i++) {
		if (names[i] != NULL &&
		    name_set_add(&cfg->dropped_variables, names[i], &added) == NAME_INDEX_NONE)
			return -1;
	}
	return 0;
}

/* The end of a visit of the current section. Its keys in scratch are dropped, or, when the
 * load keeps the claims on a URL's origin and they may claim it, become the profile. */
static int
section_leave(struct parse_state *st)
{
	struct section *sec = st->current;
	struct profile *p;
	char *name;

	if (sec == NULL || st->scratch_used == 0)
		goto out;
	if (st->want == NULL || !config_profile_may_claim(&st->scratch, st->want)) {
		sec->dropped = 1;
		if (note_dropped_variables(st->cfg, &st->scratch) != 0)
			return -1;
		goto out;
	}
	if (sec->dropped)
		st->revisited_claim = 1; /* its first visit is gone: read again, keeping all */
	p = config_profile_add(st->cfg, section_name(st, sec), st->err);
	if (p == NULL)
		return -1;
	name = p->name;
	*p = st->scratch;
	p->name = name;
	p->in_file = 1;
	memset(&st->scratch, 0, sizeof(st->scratch));
out:
	profile_free(&st->scratch);
	profile_defaults(&st->scratch);
	st->scratch_used = 0;
	return 0;
}

static int
words_add(struct words *w, const char *word)
{
	size_t len = strlen(word);

	if (w->len + len + 2 > w->cap) {
		size_t cap = (w->len + len + 2) * 2;
		char *grown = realloc(w->text, cap);
		if (grown == NULL)
			return -1;
		w->text = grown;
		w->cap = cap;
	}
	w->text[w->len++] = ' ';
	memcpy(w->text + w->len, word, len + 1);
	w->len += len;
	return 0;
}

static const char *
words_text(const struct words *w)
{
	return w->len > 0 ? w->text : "";
}

/* The visit being read ends at offset (the next header, or the end of the file). */
static void
visit_end(struct parse_state *st, long long offset)
{
	struct section *sec = st->visit_section;

	if (st->index != NULL && sec != NULL) {
		config_index_writer_visit(
			st->index, st->visit_start, (size_t)(offset - st->visit_start),
			section_name(st, sec), !sec->indexed, section_inherit(st, sec),
			words_text(&st->visit_claims), words_text(&st->visit_variables));
		sec->indexed = 1;
	}
	st->visit_section = NULL;
	st->visit_start = offset;
	st->visit_claims.len = st->visit_variables.len = 0;
}

/* An urls entry's origin, or (endpoint) "d:" and the token endpoint's: the default claim
 * of a profile that turns out to have no urls and no inherit. */
static int
add_claim(struct parse_state *st, const char *url, int endpoint)
{
	char origin[URL_HOST_MAX + 34];
	struct url u;

	if (url == NULL || url_parse(url, &u) != 0)
		return 0;
	strcpy(origin, endpoint ? "d:" : "");
	config_index_origin(&u, origin + strlen(origin), sizeof(origin) - strlen(origin));
	return words_add(&st->visit_claims, origin);
}

/* The end of the index's visits: the sections whose default claims hold. Their urls
 * entries count, not the key: "urls = ," lists none, and config_apply_default_urls gives
 * such a profile its endpoint's origin. */
static void
index_default_claimers(struct parse_state *st)
{
	size_t i;

	for (i = 0; st->index != NULL && i < st->section_count; i++) {
		if (!st->sections[i].has_urls && st->sections[i].inherit == 0)
			config_index_writer_default_claimer(st->index,
							    section_name(st, &st->sections[i]));
	}
}

/* What the key just set in p tells the index: a claim, a variable that holds a secret.
 * urls_before: p's url count before the line. */
static int
visit_note(struct parse_state *st, const struct profile *p, const struct key_rule *rule,
	   size_t urls_before)
{
	const struct token_source *src;
	size_t i;

	if (st->index == NULL)
		return 0;
	switch (rule->type) {
	case KEY_URL_LIST:
		for (i = urls_before; i < p->url_count; i++) {
			if (add_claim(st, p->urls[i], 0) != 0)
				return -1;
			st->visit_section->has_urls = 1;
		}
		return 0;
	case KEY_ENDPOINT:
		/* a profile without urls claims its endpoint's origin */
		if (rule->offset == offsetof(struct profile, token_url))
			return add_claim(st, p->token_url, 1);
		if (rule->offset == offsetof(struct profile, issuer))
			return add_claim(st, p->issuer, 1);
		return 0;
	case KEY_SECRET:
		return p->secret_kind == SECRET_ENV ? words_add(&st->visit_variables, p->secret_arg)
						    : 0;
	case KEY_TOKEN_SOURCE:
		src = (const struct token_source *)((const char *)p + rule->offset);
		return src->kind == TOKEN_SOURCE_ENV ? words_add(&st->visit_variables, src->arg)
						     : 0;
	default:
		return 0;
	}
}

/* The section of a header check_section_header has accepted: the one of the same name
 * read before, else a new one. NULL when out of memory. */
static struct section *
section_enter(struct parse_state *st, const char *section)
{
	const char *name = section + 7;
	struct section *grown;
	size_t i;
	int added;

	name += strspn(name, " \t");
	if (st->current != NULL && strcmp(section_name(st, st->current), name) == 0)
		return st->current;
	if (section_leave(st) != 0)
		return NULL;
	i = name_set_find(&st->section_names, name);
	if (i != NAME_INDEX_NONE)
		return st->current = &st->sections[i];
	if (st->section_count == st->section_cap) {
		size_t cap = st->section_cap ? st->section_cap * 2 : 8;
		grown = realloc(st->sections, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		st->sections = grown;
		st->section_cap = cap;
	}
	i = name_set_add(&st->section_names, name, &added);
	if (i == NAME_INDEX_NONE)
		return NULL;
	grown = &st->sections[i];
	memset(grown, 0, sizeof(*grown));
	st->section_count++;
	return st->current = grown;
}

static int
name_listed(const char *name, const char *const *names, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp(names[i], name) == 0)
			return 1;
	}
	return 0;
}

/* Where the keys of a section go: its profile, found or created, or scratch. */
static struct profile *
section_profile(struct parse_state *st, const struct section *sec)
{
	const char *name = section_name(st, sec);
	struct profile *p;

	if (st->want != NULL) {
		/* a profile kept by an earlier visit (or built in) takes its keys */
		p = (struct profile *)config_find(st->cfg, name);
		if (p == NULL)
			return &st->scratch;
		p->in_file = 1;
		return p;
	}
	if (!st->keep_all && !name_listed(name, st->keep, st->keep_count))
		return &st->scratch;
	p = (struct profile *)config_find(st->cfg, name);
	if (p == NULL)
		p = config_profile_add(st->cfg, name, st->err);
	if (p != NULL)
		p->in_file = 1;
	return p;
}

static int
parse_key(struct parse_state *st, const char *section, const char *name, const char *value)
{
	char where[WHERE_MAX];
	const struct key_rule *rule;
	struct section *sec;
	struct profile *p;
	unsigned long long bit;
	size_t urls_before;

	if (*section == '\0') {
		format_where(where, sizeof(where), st->path, st->lineno);
		error_set(st->err, KB_EXIT_CONFIG,
			  "%s: \"%s\" is outside any section — put it under [profile NAME]", where,
			  name);
		return 0;
	}
	if (strncmp(section, "profile", 7) != 0 || (section[7] != ' ' && section[7] != '\t')) {
		/* check_section_header has refused every other header: not reached */
		format_where(where, sizeof(where), st->path, st->lineno);
		error_set(st->err, KB_EXIT_CONFIG,
			  "%s: unknown section [%s] — sections are written [profile NAME]", where,
			  section);
		return 0;
	}
	sec = section_enter(st, section);
	if (sec == NULL) {
		out_of_memory(st->err);
		return 0;
	}
	p = section_profile(st, sec);
	if (p == NULL)
		return 0;
	if (p == &st->scratch && st->skip_others)
		return 1;
	st->scratch_used |= p == &st->scratch;
	format_where(where, sizeof(where), st->path, st->lineno);
	rule = key_rule_find(name);
	if (rule == NULL) {
		const char *nearest = nearest_key(name);
		error_set(st->err, KB_EXIT_CONFIG,
			  "%s: unknown key \"%s\" in [%s] — %s%s%ssee man 5 keybearer-config for "
			  "the keys",
			  where, name, section, nearest ? "did you mean " : "",
			  nearest ? nearest : "", nearest ? "? " : "");
		return 0;
	}
	bit = key_bit(rule);
	urls_before = p->url_count;
	st->visit_section = sec;
	if ((sec->seen & bit) && st->continued && rule->type == KEY_URL_LIST) {
		if (set_url_list(p, value, 1, where, st->err) != 0)
			return 0;
		return visit_note(st, p, rule, urls_before) == 0 || out_of_memory(st->err) == 0;
	}
	if ((sec->seen & bit) && st->continued) {
		error_set(st->err, KB_EXIT_CONFIG,
			  "%s: an indented line continues %s, which takes one value — write it on "
			  "one line (only urls may go on over several)",
			  where, name);
		return 0;
	}
	if (sec->seen & bit) {
		error_set(st->err, KB_EXIT_CONFIG,
			  "%s: %s is given twice for profile %s — keep one", where, name,
			  section_name(st, sec));
		return 0;
	}
	sec->seen |= bit;
	p->set_keys |= bit;
	urls_before = 0; /* an urls line replaces the list (the built-in aspose has one) */
	if (rule->type == KEY_INHERIT) {
		int added;
		size_t at = name_set_add(&st->inherit_names, value, &added);
		if (at == NAME_INDEX_NONE) {
			out_of_memory(st->err);
			return 0;
		}
		sec->inherit = (uint32_t)at + 1;
		sec->inherit_line = st->lineno;
	} else if (rule->cls == KEY_IDENTITY && sec->identity_line == 0) {
		sec->identity_key = (unsigned char)(rule - key_rules);
		sec->identity_line = st->lineno;
	}
	if (profile_set(p, rule, value, where, st->err) != 0)
		return 0;
	return visit_note(st, p, rule, urls_before) == 0 || out_of_memory(st->err) == 0;
}

/* inih calls this for every key; returning 0 marks the line as an error. */
static int
ini_on_key(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *st = user;
	int ok;

	if (st->err->code != KB_EXIT_OK)
		return 1; /* lines come in order: the error we hold is the earliest */
	ok = parse_key(st, section, name, value);
	if (!ok)
		st->error_line = st->lineno;
	return ok;
}

/* What inih's isspace() skips at a line's start, but the newline that ends it. */
#define LINE_BLANKS " \t\v\f\r"

/* Moves what is left of the window to its start and reads the file on behind it, so that
 * the next line is whole in it (or the file ends). 0, or -1 with err set. */
static int
window_refill(struct parse_state *st)
{
	size_t kept = (size_t)(st->end - st->pos);
	ssize_t n;

	if (st->fd < 0 || st->file_done)
		return 0;
	memmove(st->chunk, st->pos, kept);
	st->pos = st->chunk;
	st->end = st->chunk + kept;
	n = safefile_read_up_to(st->fd, st->chunk + kept, st->chunk_size - kept);
	if (n < 0)
		return error_set(st->err, KB_EXIT_CONFIG,
				 "cannot read config file %s: %s — check the file", st->path,
				 strerror(errno));
	st->file_done = (size_t)n < st->chunk_size - kept;
	st->file_read += (size_t)n;
	if (st->file_read > st->file_size)
		return error_set(st->err, KB_EXIT_CONFIG,
				 "config file %s changed while being read — try again", st->path);
	if (memchr(st->end, '\0', (size_t)n) != NULL)
		return error_set(st->err, KB_EXIT_CONFIG,
				 "config file %s contains a NUL byte — save it as text", st->path);
	st->end += n;
	*(char *)st->end = '\0'; /* the window holds one byte more: the scans below stop here */
	return 0;
}

/* The offset in the file (or text) of the next unread byte. */
static long long
text_offset(const struct parse_state *st)
{
	if (st->fd < 0)
		return (long long)(st->pos - st->text);
	return (long long)st->file_read - (long long)(st->end - st->pos);
}

/* fgets over the text, counting lines, so errors can name them. */
static char *
text_reader(char *str, int num, void *stream)
{
	struct parse_state *st = stream;
	size_t line_len, take;
	const char *newline, *line, *start;
	char first;

	newline = memchr(st->pos, '\n', (size_t)(st->end - st->pos));
	if (newline == NULL && window_refill(st) != 0) {
		st->error_line = st->lineno + 1;
		return NULL;
	}
	if (st->pos == st->end) {
		visit_end(st, text_offset(st));
		return NULL;
	}
	newline = memchr(st->pos, '\n', (size_t)(st->end - st->pos));
	line_len = newline != NULL ? (size_t)(newline - st->pos) : (size_t)(st->end - st->pos);
	st->lineno++;
	/* As inih sees it (a BOM skipped on the first line, isspace() for blanks): an indented
	 * line continues the section's last key; after a section header, with no key yet, it
	 * is a key line of its own. */
	line = st->pos;
	if (st->lineno == 1 && st->end - line >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3;
	start = line + strspn(line, LINE_BLANKS);
	st->continued = line[0] != '\0' && strchr(LINE_BLANKS, line[0]) != NULL && *start != '\n' &&
			*start != '\0' && st->key_in_section;
	first = *start;
	if (first == '[') {
		st->key_in_section = 0;
		if (!st->continued) /* inih reads an indented [ after a key as more of its value */
			visit_end(st, text_offset(st));
	} else if (!st->continued && first != ';' && first != '#' && first != '\n' &&
		   first != '\r' && first != '\0')
		st->key_in_section = 1;
	take = line_len;
	if (st->err->code == KB_EXIT_OK) {
		/* A cut line would be read as a shorter value, or a second line: refuse it. */
		if (take > (size_t)num - 2)
			error_set(st->err, KB_EXIT_CONFIG,
				  "%s:%d: line is longer than %d characters — shorten it", st->path,
				  st->lineno, num - 2);
		else if (*start == '[')
			check_section_header(st, start, line_len - (size_t)(start - st->pos));
		if (st->err->code != KB_EXIT_OK)
			st->error_line = st->lineno;
	}
	if (take > (size_t)num - 2)
		take = (size_t)num - 2;
	memcpy(str, st->pos, take);
	str[take] = '\n';
	str[take + 1] = '\0';
	st->pos += line_len + (newline != NULL);
	return str;
}

/* The names of the profiles a filtered load dropped, for "known profiles" in messages. */
static int
keep_other_names(struct config *cfg, const struct parse_state *st)
{
	size_t i, len = 0, used = 0;

	for (i = 0; i < st->section_count; i++)
		len += strlen(section_name(st, &st->sections[i])) + 2;
	if (len == 0)
		return 0;
	cfg->other_names = malloc(len + 1);
	if (cfg->other_names == NULL)
		return -1;
	cfg->other_names[0] = '\0';
	for (i = 0; i < st->section_count; i++) {
		const char *name = section_name(st, &st->sections[i]);
		if (config_find(cfg, name) != NULL)
			continue; /* kept, or built in */
		used += (size_t)sprintf(cfg->other_names + used, "%s%s", used ? ", " : "", name);
	}
	return 0;
}

/* one client, many APIs */
static const struct section *
section_named(const struct parse_state *st, const char *name)
{
	size_t i = name != NULL ? name_set_find(&st->section_names, name) : NAME_INDEX_NONE;

	return i == NAME_INDEX_NONE ? NULL : &st->sections[i];
}

/* "a → b → c → a", the loop through sec's inherit lines, or its length when that does not
 * fit: a message never cuts a name. */
static void
describe_loop(const struct parse_state *st, const struct section *sec, char *out, size_t size)
{
	const struct section *at = sec;
	size_t used = 0, steps = 0;
	int n;

	out[0] = '\0';
	do {
		n = snprintf(out + used, size - used, "%s%s", used ? " → " : "",
			     section_name(st, at));
		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
		at = section_named(st, section_inherit(st, at));
		steps++;
	} while (at != sec && steps <= st->section_count);
	if (at == sec &&
	    snprintf(out + used, size - used, " → %s", section_name(st, sec)) < (int)(size - used))
		return;
	for (steps = 1, at = section_named(st, section_inherit(st, sec)); at != sec; steps++)
		at = section_named(st, section_inherit(st, at));
	snprintf(out, size, "a loop of %zu profiles through %s", steps, section_name(st, sec));
}

/* Whether sec's inherit chain comes back to sec. */
static int
inherit_loops(const struct parse_state *st, const struct section *sec)
{
	const struct section *at = sec;
	size_t steps;

	for (steps = 0; steps <= st->section_count; steps++) {
		at = section_inherit(st, at) != 0 ? section_named(st, section_inherit(st, at))
						  : NULL;
		if (at == NULL)
			return 0;
		if (at == sec)
			return 1;
	}
	return 0;
}

/* The error of sec's inherit line, if any, into err; its line, or 0 for none. */
static int
check_inherit_line(const struct parse_state *st, const struct section *sec, struct error *err)
{
	char where[WHERE_MAX], loop[1024];

	format_where(where, sizeof(where), st->path, sec->inherit_line);
	if (strcmp(section_name(st, sec), "aspose") == 0)
		error_set(err, KB_EXIT_CONFIG,
			  "%s: the built-in profile aspose cannot inherit another — give this "
			  "section a name of its own",
			  where);
	else if (strcmp(section_inherit(st, sec), section_name(st, sec)) == 0)
		error_set(err, KB_EXIT_CONFIG,
			  "%s: profile %s inherits itself — inherit names the profile whose client "
			  "this one uses",
			  where, section_name(st, sec));
	else if (strcmp(section_inherit(st, sec), ENV_PROFILE_NAME) == 0)
		error_set(err, KB_EXIT_CONFIG,
			  "%s: profile %s cannot inherit env: the env profile is what the "
			  "KEYBEARER_* variables describe, where they are set — inherit a [profile "
			  "NAME] of this file (its secret may be env:KEYBEARER_CLIENT_SECRET)",
			  where, section_name(st, sec));
	else if (section_named(st, section_inherit(st, sec)) == NULL &&
		 strcmp(section_inherit(st, sec), "aspose") != 0)
		error_set(err, KB_EXIT_CONFIG,
			  "%s: profile %s inherits %s, but there is no profile %s — add [profile "
			  "%s] with the client's token_url, client_id and secret, or fix the name",
			  where, section_name(st, sec), section_inherit(st, sec),
			  section_inherit(st, sec), section_inherit(st, sec));
	else if (inherit_loops(st, sec)) {
		describe_loop(st, sec, loop, sizeof(loop));
		error_set(err, KB_EXIT_CONFIG,
			  "%s: inherit = %s makes a loop (%s) — a chain of inherit lines must end "
			  "at a profile that inherits none",
			  where, section_inherit(st, sec), loop);
	} else
		return 0;
	return sec->inherit_line;
}

/* The first error of the file's inherit lines, and of identity keys set beside one: the
 * same whatever profile a load keeps, so read from the sections, not the profiles. */
static int
check_inheritance(const struct parse_state *st, struct error *err)
{
	struct error candidate;
	char where[WHERE_MAX];
	size_t i;
	int line, first = 0;

	for (i = 0; i < st->section_count; i++) {
		const struct section *sec = &st->sections[i];
		if (section_inherit(st, sec) == 0)
			continue;
		memset(&candidate, 0, sizeof(candidate));
		line = check_inherit_line(st, sec, &candidate);
		if (line > 0 && (first == 0 || line < first)) {
			*err = candidate;
			first = line;
		}
		if (sec->identity_line == 0 || (first != 0 && sec->identity_line > first))
			continue;
		memset(&candidate, 0, sizeof(candidate));
		format_where(where, sizeof(where), st->path, sec->identity_line);
		error_set(&candidate, KB_EXIT_CONFIG,
			  "%s: %s comes from profile %s (inherit = %s) — remove it here or drop "
			  "inherit",
			  where, key_rules[sec->identity_key].name, section_inherit(st, sec),
			  section_inherit(st, sec));
		*err = candidate;
		first = sec->identity_line;
	}
	return first != 0 ? -1 : 0;
}

static int
copy_string(char **field, const char *value, struct error *err)
{
	char *copy = value != NULL ? strdup(value) : NULL;

	if (value != NULL && copy == NULL)
		return out_of_memory(err);
	free(*field);
	*field = copy;
	return 0;
}

/* Gives p base's value of one key. */
static int
inherit_key(struct profile *p, const struct profile *base, const struct key_rule *rule,
	    struct error *err)
{
	char *to = (char *)p;
	const char *from = (const char *)base;

	switch (rule->type) {
	case KEY_STRING:
	case KEY_ENDPOINT:
	case KEY_PATH:
	case KEY_SIGNING_ALG:
	case KEY_KEY_ID:
	case KEY_TOKEN_TYPE:
	case KEY_CLIENT_CERT:
		return copy_string((char **)(to + rule->offset),
				   *(char *const *)(from + rule->offset), err);
	case KEY_AUTH_METHOD:
		p->auth_method = base->auth_method;
		return 0;
	case KEY_GRANT_TYPE:
		p->grant_type = base->grant_type;
		return 0;
	case KEY_SECONDS:
		*(int *)(to + rule->offset) = *(const int *)(from + rule->offset);
		return 0;
	case KEY_TOKEN_SOURCE:
		((struct token_source *)(to + rule->offset))->kind =
			((const struct token_source *)(from + rule->offset))->kind;
		return copy_string(&((struct token_source *)(to + rule->offset))->arg,
				   ((const struct token_source *)(from + rule->offset))->arg, err);
	case KEY_SECRET:
		p->secret_kind = base->secret_kind;
		return copy_string(&p->secret_arg, base->secret_arg, err);
	case KEY_PRIVATE_KEY:
		p->private_key_kind = base->private_key_kind;
		return copy_string(&p->private_key_arg, base->private_key_arg, err);
	case KEY_CLIENT_KEY:
		p->client_key_kind = base->client_key_kind;
		return copy_string(&p->client_key_arg, base->client_key_arg, err);
	case KEY_URL_LIST:
	case KEY_INHERIT:
		return 0;
	}
	return 0;
}

/* Gives p its base's client identity (the base resolved first: chains end, since
 * check_inheritance refused loops), and the base's operational keys p does not set. */
static int
resolve_profile(struct config *cfg, struct profile *p, size_t depth, struct error *err)
{
	struct profile *base;
	size_t i;

	if (p->inherit == NULL || p->identity != NULL)
		return 0;
	base = (struct profile *)config_find(cfg, p->inherit);
	if (base == NULL || depth > cfg->count)
		return error_set(err, KB_EXIT_INTERNAL,
				 "profile %s inherits %s, which was not loaded — report this bug",
				 p->name, p->inherit);
	if (resolve_profile(cfg, base, depth + 1, err) != 0)
		return -1;
	for (i = 0; i < KEY_COUNT; i++) {
		const struct key_rule *rule = &key_rules[i];
		if (rule->cls == KEY_OWN ||
		    (rule->cls == KEY_OPERATIONAL && (p->set_keys & key_bit(rule))))
			continue;
		if (inherit_key(p, base, rule, err) != 0)
			return -1;
	}
	return copy_string(&p->identity, config_keyring_profile(base), err);
}

static int
resolve_inheritance(struct config *cfg, struct error *err)
{
	size_t i;

	for (i = 0; i < cfg->count; i++) {
		if (resolve_profile(cfg, &cfg->profiles[i], 0, err) != 0)
			return -1;
	}
	return 0;
}

const char *
config_keyring_profile(const struct profile *p)
{
	return p->identity != NULL ? p->identity : p->name;
}

const struct profile *
config_base(const struct config *cfg, const struct profile *p)
{
	return p->inherit != NULL ? config_find(cfg, p->inherit) : NULL;
}

void
config_each_inherited(const struct config *cfg, const struct profile *p,
		      void (*fn)(const char *key, const char *from, void *ctx), void *ctx)
{
	const struct profile *at;
	size_t i, steps;

	for (i = 0; p->inherit != NULL && i < KEY_COUNT; i++) {
		const struct key_rule *rule = &key_rules[i];
		if (rule->cls == KEY_OWN || (p->set_keys & key_bit(rule)))
			continue;
		for (at = config_base(cfg, p), steps = 0; at != NULL && steps <= cfg->count;
		     at = config_base(cfg, at), steps++) {
			if (at->set_keys & key_bit(rule)) {
				fn(rule->name, at->name, ctx);
				break;
			}
		}
	}
}

int
config_refuse_inheriting(const struct profile *p, const char *command, const char *why,
			 struct error *err)
{
	if (p->inherit == NULL)
		return 0;
	return error_set(err, KB_EXIT_USAGE,
			 "profile %s takes its client from profile %s (inherit = %s): its keyring "
			 "item is profile %s's — run keybearer %s --profile %s (%s)",
			 p->name, p->inherit, p->inherit, config_keyring_profile(p), command,
			 config_keyring_profile(p), why);
}

static void
free_sections(struct parse_state *st)
{
	profile_free(&st->scratch);
	free(st->sections);
	st->sections = NULL;
	st->section_count = st->section_cap = 0;
	st->current = NULL;
	name_set_free(&st->section_names);
	name_set_free(&st->inherit_names);
	free(st->visit_claims.text);
	free(st->visit_variables.text);
	memset(&st->visit_claims, 0, sizeof(st->visit_claims));
	memset(&st->visit_variables, 0, sizeof(st->visit_variables));
}

/* To the start of the text, for one more pass. 0, or -1 with err set. */
static int
rewind_text(struct parse_state *st)
{
	st->lineno = 0;
	st->key_in_section = 0;
	if (st->fd < 0) {
		st->pos = st->text;
		st->end = st->text + strlen(st->text);
		return 0;
	}
	if (lseek(st->fd, 0, SEEK_SET) != 0)
		return error_set(st->err, KB_EXIT_CONFIG,
				 "cannot read config file %s: %s — check the file", st->path,
				 strerror(errno));
	st->pos = st->end = st->chunk;
	st->file_read = 0;
	st->file_done = 0;
	return 0;
}

/* One pass of inih over the text, keeping what st says; the first error in err. */
static int
parse_text(struct parse_state *st)
{
	struct error *err = st->err;
	int line;

	if (rewind_text(st) != 0)
		return -1;
	profile_defaults(&st->scratch);
	line = ini_parse_stream(text_reader, st, ini_on_key, st);
	if (err->code == KB_EXIT_OK && section_leave(st) != 0 && err->code == KB_EXIT_OK)
		out_of_memory(err);
	if (err->code == KB_EXIT_OK && line == 0)
		index_default_claimers(st);
	/* inih returns the first line it took as an error, ours included: an earlier one is a
	 * line it could not parse at all. */
	if (line > 0 && (err->code == KB_EXIT_OK || line < st->error_line)) {
		memset(err, 0, sizeof(*err));
		return error_set(err, KB_EXIT_CONFIG,
				 "%s:%d: malformed line — write \"key = value\" lines under a "
				 "[profile NAME] section",
				 st->path, line);
	}
	if (err->code != KB_EXIT_OK)
		return -1;
	if (line < 0)
		return out_of_memory(err);
	return 0;
}

/* A filtered load read only the profiles it keeps: the bases of their inherit chains are read
 * in a second pass (only where there is a chain, so a plain profile's get costs what it
 * did). */
static int
load_bases(struct parse_state *first)
{
	struct parse_state st = {
		.cfg = first->cfg,
		.path = first->path,
		.err = first->err,
		.text = first->text,
		.fd = first->fd,
		.chunk = first->chunk,
		.chunk_size = first->chunk_size,
		.file_size = first->file_size,
		.skip_others = 1,
	};
	struct config *cfg = first->cfg;
	const char **chain;
	size_t count = 0, i;
	int rc;

	chain = malloc(first->section_count * sizeof(*chain) + sizeof(*chain));
	if (chain == NULL)
		return out_of_memory(first->err);
	for (i = 0; i < cfg->count; i++) {
		const struct section *at;
		if (!cfg->profiles[i].in_file)
			continue;
		at = section_named(first, cfg->profiles[i].name);
		/* check_inheritance has refused loops: every chain ends */
		while (at != NULL && at->inherit != 0 && count < first->section_count) {
			const char *base = section_inherit(first, at);
			const struct profile *kept = config_find(cfg, base);
			/* read whole in the first pass; the built-in aspose is not */
			if ((kept != NULL && kept->in_file) || name_listed(base, chain, count))
				break;
			chain[count++] = base;
			at = section_named(first, base);
		}
	}
	rc = 0;
	if (count > 0) {
		st.keep = chain;
		st.keep_count = count;
		rc = parse_text(&st);
		free_sections(&st);
	}
	free(chain);
	return rc;
}

/* The file's profiles st keeps, inheritance resolved; st says where the text is. */
static int
load_profiles(struct config *cfg, struct parse_state *st, const char *only)
{
	struct error *err = st->err;
	int rc;

	if (cfg->count == 0 && config_add_builtin_profiles(cfg, err) != 0)
		return -1;
	rc = parse_text(st);
	if (rc == 0)
		rc = check_inheritance(st, err);
	if (rc == 0 && st->revisited_claim) {
		/* A profile whose claim came in a later section of its name lost the keys of
		 * the first: rare enough to read the file once more, keeping all. */
		char *path = cfg->path;
		cfg->path = NULL;
		config_free(cfg);
		cfg->path = path;
		free_sections(st);
		st->want = NULL;
		st->keep_all = 1;
		st->revisited_claim = 0;
		st->index = NULL; /* the first pass gave it every visit */
		return load_profiles(cfg, st, NULL);
	}
	if (rc == 0 && !st->keep_all)
		rc = load_bases(st);
	if (rc == 0)
		rc = resolve_inheritance(cfg, err);
	if (rc == 0 && only != NULL && keep_other_names(cfg, st) != 0)
		rc = out_of_memory(err);
	cfg->partial = rc == 0 && !st->keep_all;
	free_sections(st);
	return rc;
}

int
config_load_text(struct config *cfg, const char *path, const char *text, const char *only,
		 struct error *err)
{
	struct parse_state st = {
		.cfg = cfg,
		.path = path,
		.err = err,
		.text = text,
		.fd = -1,
		.keep_all = only == NULL,
		.keep = &only,
		.keep_count = only != NULL,
	};

	return load_profiles(cfg, &st, only);
}

const char *
config_default_path(char **path)
{
	const char *explicit_path = getenv("KEYBEARER_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	const char *from;
	char buf[4096];
	int n;

	*path = NULL;
	if (explicit_path != NULL && *explicit_path != '\0') {
		*path = strdup(explicit_path);
		return *path != NULL ? "KEYBEARER_CONFIG" : NULL;
	}
	if (xdg != NULL && *xdg == '/') {
		from = "XDG_CONFIG_HOME";
		n = snprintf(buf, sizeof(buf), "%s/keybearer/config", xdg);
	} else if (home != NULL && *home == '/') {
		from = "HOME";
		n = snprintf(buf, sizeof(buf), "%s/.config/keybearer/config", home);
	} else {
		return NULL;
	}
	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	*path = strdup(buf);
	return *path != NULL ? from : NULL;
}

static char *
default_config_path(void)
{
	char *path;

	config_default_path(&path);
	return path;
}

/* mkdir -p for the config file's directory, private as XDG asks. */
static int
make_parent_dirs(const char *path, struct error *err)
{
	char *copy = strdup(path), *slash;
	int rc = 0;

	if (copy == NULL)
		return out_of_memory(err);
	for (slash = strchr(copy + 1, '/'); slash != NULL && rc == 0;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(copy, 0700) != 0 && errno != EEXIST)
			rc = error_set(err, KB_EXIT_CONFIG,
				       "cannot create %s: %s — create it or set KEYBEARER_CONFIG",
				       copy, strerror(errno));
		*slash = '/';
	}
	free(copy);
	return rc;
}

int
config_append_section(const struct config *cfg, const char *name, const char *const keys[],
		      const char *const values[], size_t count, struct error *err)
{
	char *path = cfg->path != NULL ? strdup(cfg->path) : default_config_path();
	char *text = NULL;
	size_t i, len = 0;
	int fd = -1, rc = -1;
	struct stat st;
	FILE *out;

	if (path == NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "no place for a config file: HOME is not "
				 "set — set KEYBEARER_CONFIG");
	if (cfg->path == NULL && make_parent_dirs(path, err) != 0)
		goto out;
	/* O_APPEND writes through a dotfile manager's symlink and leaves every other byte of
	 * the file where it was. */
	fd = cfg->path != NULL
		     ? open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY)
		     : open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	out = fd >= 0 ? open_memstream(&text, &len) : NULL;
	if (fd >= 0 && out == NULL) {
		rc = out_of_memory(err);
		goto out;
	}
	/* a blank line before the section, unless it is the first thing in the file */
	if (out != NULL) {
		fprintf(out, "%s[profile %s]\n", fstat(fd, &st) == 0 && st.st_size > 0 ? "\n" : "",
			name);
		for (i = 0; i < count; i++) {
			if (values[i] != NULL)
				fprintf(out, "%s = %s\n", keys[i], values[i]);
		}
		if (fclose(out) != 0 || text == NULL) {
			rc = out_of_memory(err);
			goto out;
		}
	}
	if (fd < 0 || output_write_all(fd, text, len) != 0 || fsync(fd) != 0) {
		error_set(err, KB_EXIT_CONFIG,
			  "cannot write the config file %s: %s — add [profile "
			  "%s] by hand",
			  path, strerror(errno), name);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	free(path);
	return rc;
}

/* A load that keeps one profile, or the claimers of a URL, from the sections a current
 * index picks: 0, or 1 to read the file whole (no current index; err untouched). */
static int
load_picked(struct config *cfg, const struct parse_state *file_st, const struct stat *file,
	    const char *only, const struct url *want, struct error *err)
{
	struct config_index_pick pick;
	struct parse_state st = {
		.cfg = cfg,
		.path = file_st->path,
		.err = err,
		.fd = -1,
		.keep_all = 1,
	};
	int rc;

	if (config_index_pick(file_st->fd, file, only, want, &pick) != 0)
		return 1;
	st.text = pick.text;
	rc = load_profiles(cfg, &st, NULL);
	if (rc == 0) {
		cfg->partial = 1;
		cfg->dropped_variables = pick.variables; /* every env:NAME of the file */
		memset(&pick.variables, 0, sizeof(pick.variables));
	} else {
		/* not what the file held when indexed after all: read it whole */
		char *path = cfg->path;
		cfg->path = NULL;
		config_free(cfg);
		cfg->path = path;
		memset(err, 0, sizeof(*err));
		rc = 1;
	}
	config_index_pick_free(&pick);
	return rc;
}

static int
load(struct config *cfg, const char *only, const struct url *want, struct error *err)
{
	/* A writable config could redirect the secret to another endpoint: refuse one that
	 * others can change. Symbolic links are fine: dotfile managers use them. */
	static const struct safefile_rules rules = {
		.what = "config file",
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 022,
		.max_size = CONFIG_FILE_MAX,
		.code = KB_EXIT_CONFIG,
		.check_parents = 1,
	};
	const char *explicit_path = getenv("KEYBEARER_CONFIG");
	struct parse_state st = {
		.cfg = cfg,
		.err = err,
		.fd = -1,
		.keep_all = only == NULL && want == NULL,
		.keep = &only,
		.keep_count = only != NULL,
		.want = want,
	};
	struct config_index_writer writer = { .dirfd = -1 };
	struct timespec before_open;
	struct stat file;
	char *path;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (config_add_builtin_profiles(cfg, err) != 0)
		goto fail;
	path = default_config_path();
	if (path != NULL) {
		clock_gettime(CLOCK_REALTIME, &before_open);
		rc = safefile_open(AT_FDCWD, path, &rules, &st.fd, &file, err);
		if (rc < 0) {
			free(path);
			goto fail;
		}
		if (rc == 1 && explicit_path != NULL && *explicit_path != '\0') {
			error_set(err, KB_EXIT_CONFIG,
				  "config file %s (from KEYBEARER_CONFIG) does not exist — create "
				  "it or unset KEYBEARER_CONFIG",
				  path);
			free(path);
			goto fail;
		}
		if (rc == 0) {
			cfg->path = path;
			st.path = path;
			st.file_size = (size_t)file.st_size;
			/* a file of one piece is read faster than an index */
			if (st.file_size > CONFIG_CHUNK && (only != NULL || want != NULL) &&
			    load_picked(cfg, &st, &file, only, want, err) == 0)
				goto loaded;
			/* a small file in one piece: one byte more than fstat says tells growth */
			st.chunk_size =
				st.file_size < CONFIG_CHUNK ? st.file_size + 1 : CONFIG_CHUNK;
			st.chunk = malloc(st.chunk_size + 1);
			if (st.chunk == NULL) {
				out_of_memory(err);
				goto fail;
			}
			if (st.file_size > CONFIG_CHUNK &&
			    config_index_writer_open(&writer, &file, &before_open) == 0)
				st.index = &writer;
			if (load_profiles(cfg, &st, only) != 0) {
				config_index_writer_abort(&writer);
				goto fail;
			}
			config_index_writer_commit(&writer, st.fd);
		loaded:
			free(st.chunk);
			st.chunk = NULL;
			close(st.fd);
			st.fd = -1;
		} else {
			free(path);
		}
	}
	if (config_add_env_profile(cfg, err) != 0 || config_apply_default_urls(cfg, err) != 0)
		goto fail;
	return 0;
fail:
	free(st.chunk);
	if (st.fd >= 0)
		close(st.fd);
	config_free(cfg);
	return -1;
}

const char *
config_endpoint_identity(const struct profile *p)
{
	return p->issuer != NULL ? p->issuer : p->token_url;
}

int
config_load(struct config *cfg, struct error *err)
{
	return load(cfg, NULL, NULL, err);
}

int
config_load_for_url(struct config *cfg, const char *url, struct error *err)
{
	struct url want;

	/* a URL no profile could claim is told why by the full load's rules */
	if (url_parse(url, &want) != 0)
		return load(cfg, NULL, NULL, err);
	return load(cfg, NULL, &want, err);
}

int
config_load_selected(struct config *cfg, const char *flag_name, struct error *err)
{
	const char *name = flag_name;

	if (name == NULL || *name == '\0')
		name = getenv("KEYBEARER_PROFILE");
	return load(cfg, name != NULL && *name != '\0' ? name : NULL, NULL, err);
}

int
config_load_named_or_for_url(struct config *cfg, const char *name, const char *url,
			     struct error *err)
{
	return name != NULL ? config_load_selected(cfg, name, err)
			    : config_load_for_url(cfg, url, err);
}

/* key-based client authentication: the keys of one method given to another would be
 * ignored without a word, so they are refused. */
static int
check_key_settings(const struct profile *p, const char *file, struct error *err)
{
	const char *method = config_auth_method_name(p->auth_method);
	const char *section = config_keyring_profile(p); /* where the keys are, inherited or not */
	const char *stray = NULL;

	if (p->auth_method != AUTH_PRIVATE_KEY_JWT &&
	    (p->private_key_kind != SECRET_KEYRING || p->private_key_arg != NULL))
		stray = "private_key";
	else if (!config_auth_signs_assertion(p->auth_method) && p->signing_alg != NULL)
		stray = "signing_alg";
	else if (!config_auth_signs_assertion(p->auth_method) && p->key_id != NULL)
		stray = "key_id";
	else if (p->auth_method == AUTH_PRIVATE_KEY_JWT && p->secret_kind != SECRET_KEYRING)
		stray = "secret";
	if (stray != NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s has %s, which auth_method %s does not use — set the "
				 "auth_method that uses it, or remove %s from [profile %s] in %s",
				 p->name, stray, method, stray, section, file);
	if (p->auth_method == AUTH_CLIENT_SECRET_JWT && p->signing_alg != NULL &&
	    strcmp(p->signing_alg, "HS256") != 0)
		return error_set(
			err, KB_EXIT_CONFIG,
			"signing_alg %s of profile %s does not fit client_secret_jwt, "
			"which signs with the secret (HS256) — set signing_alg = HS256, or "
			"auth_method = private_key_jwt for a private key",
			p->signing_alg, p->name);
	if (p->auth_method == AUTH_PRIVATE_KEY_JWT && p->signing_alg != NULL &&
	    strcmp(p->signing_alg, "HS256") == 0)
		return error_set(
			err, KB_EXIT_CONFIG,
			"signing_alg HS256 of profile %s does not fit private_key_jwt, "
			"which signs with a private key — use RS256, PS256, ES256 or EdDSA, "
			"or auth_method = client_secret_jwt",
			p->name);
	return 0;
}

/* federated assertions and token exchange */
/* The keys that only make sense together: a source with nothing to use it, or a method
 * without its source, is a mistake the user wants to hear about, not a silent default. */
static int
check_federated_keys(const struct profile *p, const char *file, struct error *err)
{
	int exchange = p->grant_type == GRANT_TOKEN_EXCHANGE;
	const char *section = config_keyring_profile(p); /* where the keys are, inherited or not */

	if (p->auth_method == AUTH_CLIENT_ASSERTION && p->assertion.kind == TOKEN_SOURCE_NONE)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s uses auth_method = client_assertion but names no "
				 "assertion — set assertion = github-actions, env:NAME, file:PATH "
				 "or command:CMD in [profile %s] in %s",
				 p->name, section, file);
	if (p->auth_method != AUTH_CLIENT_ASSERTION && p->assertion.kind != TOKEN_SOURCE_NONE)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s sets assertion but its auth_method is %s — set "
				 "auth_method = client_assertion in [profile %s] in %s, or remove "
				 "assertion",
				 p->name, config_auth_method_name(p->auth_method), section, file);
	if (exchange && p->subject_token.kind == TOKEN_SOURCE_NONE)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s uses grant_type = token_exchange but names no "
				 "subject_token — set subject_token = github-actions, env:NAME, "
				 "file:PATH or command:CMD in [profile %s] in %s",
				 p->name, section, file);
	if (!exchange && (p->subject_token.kind != TOKEN_SOURCE_NONE ||
			  p->subject_token_type != NULL || p->requested_token_type != NULL))
		return error_set(
			err, KB_EXIT_CONFIG,
			"profile %s sets subject_token, subject_token_type or "
			"requested_token_type without grant_type = token_exchange — set "
			"grant_type = token_exchange in [profile %s] in %s, or remove them",
			p->name, section, file);
	if (!exchange && p->auth_method == AUTH_NONE)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s uses auth_method = none with the client_credentials "
				 "grant, which needs a client that proves who it is — use "
				 "grant_type = token_exchange with a subject_token, or another "
				 "auth_method, in [profile %s] in %s",
				 p->name, section, file);
	if (p->requested_token_type != NULL &&
	    strcmp(p->requested_token_type, TOKEN_TYPE_ACCESS_TOKEN) != 0 &&
	    strcmp(p->requested_token_type, TOKEN_TYPE_JWT) != 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s asks for requested_token_type %s, which is no token a "
				 "Bearer header carries — use %s or %s, or remove it",
				 p->name, p->requested_token_type, TOKEN_TYPE_ACCESS_TOKEN,
				 TOKEN_TYPE_JWT);
	return 0;
}

int
config_check_mintable(const struct config *cfg, const struct profile *p, struct error *err)
{
	const char *file = cfg->path ? cfg->path : "the config file";
	const char *section = config_keyring_profile(p); /* where the keys are, inherited or not */

	if (p->token_url == NULL && p->issuer == NULL && !p->in_file &&
	    strcmp(p->name, ENV_PROFILE_NAME) == 0)
		return error_set(
			err, KB_EXIT_CONFIG,
			"profile env has no token endpoint: KEYBEARER_TOKEN_URL is not set, "
			"and keybearer never guesses where a secret goes — export "
			"KEYBEARER_TOKEN_URL (or KEYBEARER_ISSUER; for Aspose Cloud, "
			"KEYBEARER_PRESET=aspose)");
	if (p->token_url == NULL && p->issuer == NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s has no token_url — set token_url (or an OIDC issuer) "
				 "in [profile %s] in %s or KEYBEARER_TOKEN_URL",
				 p->name, section, file);
	/* a public client exchanging a token may go without one */
	if (p->client_id == NULL && p->auth_method != AUTH_NONE)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s has no client_id — set client_id in [profile %s] in "
				 "%s or KEYBEARER_CLIENT_ID",
				 p->name, section, file);
	if (check_key_settings(p, file, err) != 0 || check_federated_keys(p, file, err) != 0)
		return -1;
	/* mutual-TLS client authentication */
	if (config_auth_is_mtls(p->auth_method) && p->client_cert == NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s uses auth_method = %s but has no client_cert — set "
				 "client_cert = file:/path/to/cert.pem in [profile %s] in %s",
				 p->name, config_auth_method_name(p->auth_method), section, file);
	return 0;
}
