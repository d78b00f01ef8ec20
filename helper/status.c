/* keybearer status [--profile P] [--json]: where the config file is (or where it was looked
 * for), each profile, where its secret would come from and whether it is there, its cached
 * token by both clocks, and a recorded failure. The same facts as text or as JSON with
 * stable field names. Never a token or a secret. */
#include "status.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "config.h"
#include "discovery.h"
#include "lockstate.h"
#include "obtain.h"
#include "output.h"

/* Where the secret would come from, and whether it is there (status never reads it). */
struct secret_view {
	char source[4200]; /* "keyring", "env:NAME", ... */
	const char *state; /* JSON: present, missing, locked, refused, unavailable, unknown,
			      not-checked */
	char words[600];   /* text: what the parentheses say, "" for none */
	char detail[512];  /* JSON: why, when the state needs one; "" none */
};

/* The cached token as both clocks see it. */
struct token_view {
	const char *state;  /* none, valid, refresh-due, expired, not-trusted, unusable */
	const char *reason; /* not-trusted: from-the-future, from-another-boot */
	int cached;
	long long obtained_at, expires_at;
	long long left;	     /* what keybearer goes by: the lesser of the two clocks' */
	long long left_wall; /* by the wall clock; negative once past */
	long long left_boot; /* by this boot's clock */
	int boot_known;	     /* left_boot means something: a record of this boot */
	char words[700];     /* text, without the failure */
	char detail[ERROR_MESSAGE_MAX];
};

/* A failure recorded beside the cache, whatever the token's state. */
struct failure_view {
	int recorded;
	long long failed_at, ago, next_in;
	int code;
	const char *source; /* endpoint, discovery, keyring, secret-command, cache */
	const char *kind;   /* refresh, or uncached-token: a new token the cache did not take */
	char message[ERROR_MESSAGE_MAX];
	char words[700];
};

static const char *const failure_sources[] = {
	[LOCKSTATE_ENDPOINT] = "endpoint", [LOCKSTATE_DISCOVERY] = "discovery",
	[LOCKSTATE_KEYRING] = "keyring",   [LOCKSTATE_SECRET_COMMAND] = "secret-command",
	[LOCKSTATE_CACHE] = "cache",	   [LOCKSTATE_ID_TOKEN] = "id-token",
};

/* Asks keybearer-fetch whether the keyring holds the profile's secret: the keyring is
 * for the heavy process only. Nothing is unlocked and no secret is read. */
static void
keyring_state(const struct profile *p, struct secret_view *v)
{
	const char *args[] = { "keyring-status", "--profile", p->name, NULL };
	struct error err = { 0 };
	char answer[512];
	ssize_t len = 0;

	if (config_endpoint_identity(p) == NULL || p->client_id == NULL) {
		v->state = "missing";
		snprintf(v->words, sizeof(v->words), "nothing stored: no client_id yet");
		snprintf(v->detail, sizeof(v->detail), "no client_id yet");
		return;
	}
	if (obtain_run_fetch(args, -1, answer, sizeof(answer) - 1, &len, &err) != 0 || len <= 0) {
		v->state = "unknown";
		snprintf(v->words, sizeof(v->words), "state unknown");
		return;
	}
	answer[len] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	snprintf(v->words, sizeof(v->words), "%s", answer);
	if (strcmp(answer, "stored") == 0) {
		v->state = "present";
	} else if (strcmp(answer, "not stored") == 0) {
		v->state = "missing";
	} else if (strcmp(answer, "stored, keyring locked") == 0) {
		v->state = "locked";
	} else if (strncmp(answer, "unavailable: ", 13) == 0) {
		v->state = "unavailable";
		snprintf(v->detail, sizeof(v->detail), "%s", answer + 13);
	} else {
		v->state = "unknown";
	}
}

static void
describe_secret(const struct profile *p, struct secret_view *v)
{
	const char *value;
	struct stat st;

	memset(v, 0, sizeof(*v));
	/* federated assertions and token exchange: no secret to look for */
	if (!config_uses_secret(p)) {
		char assertion[200] = "";
		if (p->auth_method == AUTH_CLIENT_ASSERTION)
			config_describe_token_source(&p->assertion, assertion, sizeof(assertion));
		snprintf(v->source, sizeof(v->source), "none");
		v->state = "not-needed";
		snprintf(v->words, sizeof(v->words), "auth_method = %s%s%s",
			 config_auth_method_name(p->auth_method),
			 assertion[0] != '\0' ? ", assertion = " : "", assertion);
		return;
	}
	config_describe_secret_source(p, v->source, sizeof(v->source));
	switch (p->secret_kind) {
	case SECRET_KEYRING:
		keyring_state(p, v);
		break;
	case SECRET_ENV:
		value = getenv(p->secret_arg);
		v->state = value != NULL && *value != '\0' ? "present" : "missing";
		snprintf(v->words, sizeof(v->words), "%s",
			 value != NULL && *value != '\0' ? "set" : "not set");
		break;
	case SECRET_FILE:
		if (stat(p->secret_arg, &st) != 0) {
			v->state = "missing";
			snprintf(v->words, sizeof(v->words), "missing");
		} else if ((st.st_mode & 077) != 0) {
			v->state = "refused";
			snprintf(v->detail, sizeof(v->detail), "mode %04o, must be 600",
				 (unsigned)(st.st_mode & 07777));
			snprintf(v->words, sizeof(v->words), "refused: mode %04o, must be 600",
				 (unsigned)(st.st_mode & 07777));
		} else {
			v->state = "present";
			snprintf(v->words, sizeof(v->words), "present");
		}
		break;
	case SECRET_COMMAND:
		v->state = "not-checked"; /* status runs no command */
		break;
	}
}

static void
describe_failure(const struct profile *p, const struct cache_clock *now, struct failure_view *v)
{
	struct lockstate_failure f;
	char fingerprint[65];

	memset(v, 0, sizeof(*v));
	lockstate_peek(p, &f);
	if (f.failed_at <= 0)
		return;
	cache_profile_fingerprint(p, fingerprint);
	v->recorded = 1;
	v->failed_at = f.failed_at;
	v->ago = now->wall - f.failed_at;
	v->next_in = lockstate_failure_holds(&f, now, fingerprint);
	v->code = (int)f.code;
	v->source = (size_t)f.source < sizeof(failure_sources) / sizeof(failure_sources[0])
			    ? failure_sources[f.source]
			    : "endpoint";
	v->kind = f.source == LOCKSTATE_CACHE ? "uncached-token" : "refresh";
	snprintf(v->message, sizeof(v->message), "%s", f.message);
	if (f.source == LOCKSTATE_CACHE)
		snprintf(v->words, sizeof(v->words),
			 "; the last new token could not be cached %lld s ago: %.300s (it is kept "
			 "beside the lock until the cache takes it)",
			 v->ago, f.message);
	else
		snprintf(v->words, sizeof(v->words),
			 "; last refresh failed %lld s ago: %.300s; next attempt in %lld s%s",
			 v->ago, f.message, v->next_in,
			 v->next_in > 0 && lockstate_failure_is_rejection(&f)
				 ? ", or at once when the secret or the profile changes"
				 : "");
}

/* The words of a record that holds a token, by what both clocks say of it. */
static void
describe_record(const struct profile *p, const struct cache_record *rec,
		const struct cache_clock *now, struct token_view *v)
{
	enum cache_trust trust = cache_record_trust(rec, now);
	char left[48], until[32];

	v->cached = 1;
	v->obtained_at = rec->obtained_at;
	v->expires_at = rec->expires_at;
	v->left = cache_record_left(rec, now);
	v->left_wall = rec->expires_at - now->wall;
	v->boot_known = trust == CACHE_TRUSTED && now->boot_id[0] != '\0';
	v->left_boot = v->boot_known ? rec->expires_at - rec->obtained_at -
					       (now->boot - rec->obtained_boot)
				     : 0;
	output_duration(v->left, left, sizeof(left));
	output_rfc3339(now->wall + v->left, until, sizeof(until));
	if (trust == CACHE_FROM_THE_FUTURE) {
		v->state = "not-trusted";
		v->reason = "from-the-future";
		snprintf(v->words, sizeof(v->words),
			 "not trusted: received %lld s in the future (the clock was set back); a "
			 "new one is minted at the next get",
			 rec->obtained_at - now->wall);
	} else if (trust == CACHE_FROM_ANOTHER_BOOT) {
		v->state = "not-trusted";
		v->reason = "from-another-boot";
		snprintf(v->words, sizeof(v->words),
			 "not trusted: received before this boot, or by a keybearer that did not "
			 "note when; a new one is minted at the next get");
	} else if (v->left <= 0) {
		/* dead since the earlier of what the two clocks say */
		long long ago = now->wall - rec->expires_at;
		long long ago_by_boot =
			now->boot - rec->obtained_boot - (rec->expires_at - rec->obtained_at);
		if (rec->boot_id[0] != '\0' && ago_by_boot > ago)
			ago = ago_by_boot;
		output_duration(ago, left, sizeof(left));
		output_rfc3339(now->wall - ago, until, sizeof(until));
		v->state = "expired";
		snprintf(v->words, sizeof(v->words), "expired %s ago (%s)", left, until);
	} else if (cache_is_fresh(rec, now, p->refresh_margin, -1)) {
		v->state = "valid";
		snprintf(v->words, sizeof(v->words), "valid for %s (until %s)", left, until);
	} else {
		v->state = "refresh-due";
		snprintf(v->words, sizeof(v->words), "refresh due, valid for %s (until %s)", left,
			 until);
	}
}

static void
describe_token(const struct profile *p, const struct cache_clock *now, struct token_view *v)
{
	struct error err = { 0 };
	struct cache_record rec;
	int rc;

	memset(v, 0, sizeof(*v));
	rc = cache_lookup(p, &rec, &err);
	if (rc < 0) {
		v->state = "unusable";
		snprintf(v->detail, sizeof(v->detail), "%s", err.message);
		snprintf(v->words, sizeof(v->words), "cache unusable: %.600s", err.message);
	} else if (rc == 1) {
		v->state = "none";
		snprintf(v->words, sizeof(v->words), "none cached");
	} else {
		describe_record(p, &rec, now, v);
		cache_record_free(&rec);
	}
}

/* "file", "built-in" (aspose, even where the file adds to it) or "environment". */
static const char *
profile_source(const struct profile *p)
{
	if (strcmp(p->name, "aspose") == 0)
		return "built-in";
	return p->in_file ? "file" : "environment";
}

/* The token endpoint an issuer's cached discovery document names, malloc'ed; NULL when
 * none is known yet (or the profile names its token_url). */
static char *
discovered_token_url(const struct profile *p)
{
	struct discovery d;
	char *url;

	if (p->token_url != NULL || discovery_cached(p, &d) != 0)
		return NULL;
	url = *discovery_token_endpoint(p, &d);
	*discovery_token_endpoint(p, &d) = NULL;
	discovery_free(&d);
	return url;
}

/* What status tells of one profile beyond its settings; text and JSON show the same. */
/* key-based client authentication: the private key of private_key_jwt, as keybearer-fetch
 * reads it (its kid and type; never the key). */
struct key_view {
	int used;	   /* the profile's method signs with a private key */
	char source[4200]; /* "keyring", "file:PATH", "command:CMD" */
	const char *state; /* JSON: present, missing, refused, not-checked, unknown */
	char kid[CONFIG_KEY_ID_MAX + 1];
	char type[32]; /* "EC P-256", "RSA 3072", "Ed25519" */
	char detail[1024];
};

struct profile_view {
	struct key_view key;
	struct secret_view secret;
	struct token_view token;
	struct failure_view failure;
	char *discovered; /* the issuer's token endpoint, once known; malloc'ed */
};

static void
describe_key(const struct profile *p, struct key_view *v)
{
	const char *args[] = { "key-status", "--profile", p->name, NULL };
	struct error err = { 0 };
	char answer[1024], *tab;
	ssize_t len = 0;

	memset(v, 0, sizeof(*v));
	v->used = p->auth_method == AUTH_PRIVATE_KEY_JWT;
	if (!v->used)
		return;
	config_describe_private_key_source(p, v->source, sizeof(v->source));
	v->state = "unknown";
	if (obtain_run_fetch(args, -1, answer, sizeof(answer) - 1, &len, &err) != 0 || len <= 0)
		return;
	answer[len] = '\0';
	answer[strcspn(answer, "\n")] = '\0';
	tab = strchr(answer, '\t');
	if (strcmp(answer, "not-checked") == 0) {
		v->state = "not-checked"; /* status runs no command */
	} else if (strncmp(answer, "missing: ", 9) == 0) {
		v->state = "missing";
		snprintf(v->detail, sizeof(v->detail), "%s", answer + 9);
	} else if (strncmp(answer, "unreadable: ", 12) == 0) {
		v->state = "refused";
		snprintf(v->detail, sizeof(v->detail), "%s", answer + 12);
	} else if (tab != NULL && (size_t)(tab - answer) <= CONFIG_KEY_ID_MAX &&
		   strlen(tab + 1) < sizeof(v->type)) {
		/* a kid or type that does not fit is not cut: the state stays unknown */
		v->state = "present";
		*tab = '\0';
		memcpy(v->kid, answer, (size_t)(tab - answer) + 1);
		memcpy(v->type, tab + 1, strlen(tab + 1) + 1);
	}
}

static void
describe_profile(const struct profile *p, const struct cache_clock *now, struct profile_view *v)
{
	describe_key(p, &v->key);
	describe_secret(p, &v->secret);
	describe_token(p, now, &v->token);
	describe_failure(p, now, &v->failure);
	v->discovered = discovered_token_url(p);
}

/* one client, many APIs: "mid, which inherits base", as far as the chain goes. */
static void
print_chain_text(const struct config *cfg, const struct profile *p)
{
	const struct profile *at;
	size_t steps = 0;

	printf("  inherits      %s", p->inherit);
	for (at = config_base(cfg, p); at != NULL && at->inherit != NULL && steps <= cfg->count;
	     at = config_base(cfg, at), steps++)
		printf(", which inherits %s", at->inherit);
	printf("\n");
}

/* "token_url client_id secret from base; timeout from mid": the keys in runs by origin. */
struct inherited_text {
	const char *last_from;
};

static void
print_inherited_key(const char *key, const char *from, void *ctx)
{
	struct inherited_text *t = ctx;

	if (t->last_from != NULL && strcmp(t->last_from, from) != 0)
		printf(" from %s;", t->last_from);
	printf(" %s", key);
	t->last_from = from;
}

static void
print_inheritance_text(const struct config *cfg, const struct profile *p)
{
	struct inherited_text t = { NULL };

	if (p->inherit == NULL)
		return;
	print_chain_text(cfg, p);
	printf("  inherited    ");
	config_each_inherited(cfg, p, print_inherited_key, &t);
	if (t.last_from != NULL)
		printf(" from %s\n", t.last_from);
	else
		printf(" (nothing set)\n");
}

static void
print_profile_text(const struct config *cfg, const struct profile *p, int selected,
		   const struct cache_clock *now)
{
	struct profile_view v;
	size_t i;

	describe_profile(p, now, &v);
	printf("profile %s%s%s\n", p->name,
	       strcmp(p->name, "aspose") == 0
		       ? (p->in_file ? " (built in, and [profile aspose] of the config file)"
				     : " (built in)")
	       : p->in_file ? ""
			    : " (from the environment)",
	       selected ? " [default]" : "");
	print_inheritance_text(cfg, p);
	if (p->issuer)
		printf("  issuer        %s\n", p->issuer);
	if (p->token_url)
		printf("  token_url     %s\n", p->token_url);
	else if (v.discovered != NULL)
		printf("  token_url     %s (from the issuer's discovery document)\n", v.discovered);
	else
		printf("  token_url     %s\n",
		       p->issuer ? "(from the issuer's discovery document)" : "(not set)");
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
	if (v.key.used && strcmp(v.key.state, "present") == 0)
		printf("  private_key   %s (%s, kid %s)\n", v.key.source, v.key.type, v.key.kid);
	else if (v.key.used)
		printf("  private_key   %s (%s%s%s)\n", v.key.source, v.key.state,
		       v.key.detail[0] ? ": " : "", v.key.detail);
	if (config_auth_is_mtls(p->auth_method)) {
		char source[4200];
		config_describe_client_key_source(p, source, sizeof(source));
		printf("  client_cert   %s\n  client_key    %s\n", p->client_cert, source);
	}
	if (p->auth_method != AUTH_PRIVATE_KEY_JWT)
		printf(v.secret.words[0] != '\0' ? "  secret        %s (%s)\n"
						 : "  secret        %s\n",
		       v.secret.source, v.secret.words);
	printf("  token         %s%s\n", v.token.words, v.failure.words);
	free(v.discovered);
}

static struct json_object *
json_string_or_null(const char *value)
{
	return value != NULL ? json_object_new_string(value) : NULL;
}

static struct json_object *
secret_json(const struct secret_view *v)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "source", json_object_new_string(v->source));
	json_object_object_add(obj, "state", json_object_new_string(v->state));
	json_object_object_add(obj, "detail",
			       v->detail[0] ? json_object_new_string(v->detail) : NULL);
	return obj;
}

/* key-based client authentication: null unless the method signs with a private key */
static struct json_object *
key_json(const struct key_view *v)
{
	struct json_object *obj;

	if (!v->used)
		return NULL;
	obj = json_object_new_object();
	json_object_object_add(obj, "source", json_object_new_string(v->source));
	json_object_object_add(obj, "state", json_object_new_string(v->state));
	json_object_object_add(obj, "kid", v->kid[0] ? json_object_new_string(v->kid) : NULL);
	json_object_object_add(obj, "type", v->type[0] ? json_object_new_string(v->type) : NULL);
	json_object_object_add(obj, "detail",
			       v->detail[0] ? json_object_new_string(v->detail) : NULL);
	return obj;
}

static struct json_object *
token_json(const struct token_view *v)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "state", json_object_new_string(v->state));
	if (v->reason != NULL)
		json_object_object_add(obj, "reason", json_object_new_string(v->reason));
	if (v->detail[0] != '\0')
		json_object_object_add(obj, "detail", json_object_new_string(v->detail));
	if (!v->cached)
		return obj;
	json_object_object_add(obj, "obtained_at", json_object_new_int64(v->obtained_at));
	json_object_object_add(obj, "expires_at", json_object_new_int64(v->expires_at));
	json_object_object_add(obj, "seconds_left", json_object_new_int64(v->left));
	json_object_object_add(obj, "seconds_left_wall_clock", json_object_new_int64(v->left_wall));
	json_object_object_add(obj, "seconds_left_boot_clock",
			       v->boot_known ? json_object_new_int64(v->left_boot) : NULL);
	return obj;
}

static struct json_object *
failure_json(const struct failure_view *v)
{
	struct json_object *obj;

	if (!v->recorded)
		return NULL;
	obj = json_object_new_object();
	json_object_object_add(obj, "kind", json_object_new_string(v->kind));
	json_object_object_add(obj, "source", json_object_new_string(v->source));
	json_object_object_add(obj, "failed_at", json_object_new_int64(v->failed_at));
	json_object_object_add(obj, "seconds_ago", json_object_new_int64(v->ago));
	json_object_object_add(obj, "next_attempt_in", json_object_new_int64(v->next_in));
	json_object_object_add(obj, "exit_code", json_object_new_int(v->code));
	json_object_object_add(obj, "message", json_object_new_string(v->message));
	return obj;
}

/* mutual-TLS client authentication: where the certificate and its key are; null for the
 * other methods. status reads neither (the key check is keybearer check's). */
static struct json_object *
certificate_json(const struct profile *p)
{
	struct json_object *obj;
	char source[4200];

	if (!config_auth_is_mtls(p->auth_method))
		return NULL;
	obj = json_object_new_object();
	config_describe_client_key_source(p, source, sizeof(source));
	json_object_object_add(obj, "cert", json_string_or_null(p->client_cert));
	json_object_object_add(obj, "key_source", json_object_new_string(source));
	return obj;
}

static void
add_inherited_json(const char *key, const char *from, void *ctx)
{
	json_object_object_add(ctx, key, json_object_new_string(from));
}

/* one client, many APIs: "inherits": the chain, nearest base first; "inherited": which
 * profile each value came from. Both null for a profile that inherits none. */
static void
inheritance_json(const struct config *cfg, const struct profile *p, struct json_object *obj)
{
	struct json_object *chain, *inherited;
	const struct profile *at = p;
	size_t steps = 0;

	if (p->inherit == NULL) {
		json_object_object_add(obj, "inherits", NULL);
		json_object_object_add(obj, "inherited", NULL);
		return;
	}
	chain = json_object_new_array();
	for (; at != NULL && at->inherit != NULL && steps <= cfg->count;
	     at = config_base(cfg, at), steps++)
		json_object_array_add(chain, json_object_new_string(at->inherit));
	inherited = json_object_new_object();
	config_each_inherited(cfg, p, add_inherited_json, inherited);
	json_object_object_add(obj, "inherits", chain);
	json_object_object_add(obj, "inherited", inherited);
}

static struct json_object *
profile_json(const struct config *cfg, const struct profile *p, int selected,
	     const struct cache_clock *now)
{
	struct json_object *obj = json_object_new_object(), *urls = json_object_new_array();
	struct profile_view v;
	size_t i;

	describe_profile(p, now, &v);
	for (i = 0; i < p->url_count; i++)
		json_object_array_add(urls, json_object_new_string(p->urls[i]));
	json_object_object_add(obj, "name", json_object_new_string(p->name));
	json_object_object_add(obj, "source", json_object_new_string(profile_source(p)));
	json_object_object_add(obj, "in_file", json_object_new_boolean(p->in_file));
	json_object_object_add(obj, "selected", json_object_new_boolean(selected));
	inheritance_json(cfg, p, obj);
	json_object_object_add(obj, "issuer", json_string_or_null(p->issuer));
	json_object_object_add(obj, "token_url", json_string_or_null(p->token_url));
	json_object_object_add(obj, "discovered_token_url", json_string_or_null(v.discovered));
	json_object_object_add(obj, "jwks_url", json_string_or_null(p->jwks_url));
	json_object_object_add(obj, "client_id", json_string_or_null(p->client_id));
	json_object_object_add(obj, "scope", json_string_or_null(p->scope));
	json_object_object_add(obj, "audience", json_string_or_null(p->audience));
	json_object_object_add(obj, "resource", json_string_or_null(p->resource));
	json_object_object_add(obj, "auth_method",
			       json_object_new_string(config_auth_method_name(p->auth_method)));
	json_object_object_add(obj, "urls", urls);
	json_object_object_add(obj, "secret", secret_json(&v.secret));
	json_object_object_add(obj, "private_key", key_json(&v.key));
	json_object_object_add(obj, "client_certificate", certificate_json(p));
	json_object_object_add(obj, "token", token_json(&v.token));
	json_object_object_add(obj, "last_failure", failure_json(&v.failure));
	free(v.discovered);
	return obj;
}

/* Where the config file was looked for: the one place config_load reads. */
static void
print_config_text(const struct config *cfg)
{
	char *path = NULL;
	const char *from;

	if (cfg->path != NULL) {
		printf("config file     %s\n", cfg->path);
		return;
	}
	from = config_default_path(&path);
	if (from == NULL)
		printf("config file     (none: neither KEYBEARER_CONFIG, XDG_CONFIG_HOME nor HOME "
		       "is set)\n");
	else if (strcmp(from, "XDG_CONFIG_HOME") == 0)
		printf("config file     (none) — looked for %s ($XDG_CONFIG_HOME/keybearer/config; "
		       "set KEYBEARER_CONFIG for another file)\n",
		       path);
	else
		printf("config file     (none) — looked for %s (~/.config/keybearer/config, "
		       "XDG_CONFIG_HOME being unset; set KEYBEARER_CONFIG for another file)\n",
		       path);
	free(path);
}

static struct json_object *
config_json(const struct config *cfg, struct json_object *report)
{
	struct json_object *searched = json_object_new_array(), *place;
	char *path = NULL;
	const char *from = config_default_path(&path);

	json_object_object_add(report, "config_file", json_string_or_null(cfg->path));
	if (from != NULL) {
		place = json_object_new_object();
		json_object_object_add(place, "path", json_object_new_string(path));
		json_object_object_add(place, "from", json_object_new_string(from));
		json_object_object_add(place, "exists", json_object_new_boolean(cfg->path != NULL));
		json_object_array_add(searched, place);
	}
	json_object_object_add(report, "config_searched", searched);
	free(path);
	return report;
}

static int
print_json(const struct config *cfg, const struct profile *chosen, const struct profile *fallback,
	   const struct cache_clock *now, struct error *err)
{
	struct json_object *report = json_object_new_object(), *list = json_object_new_array();
	size_t i;
	int rc;

	json_object_object_add(report, "format", json_object_new_string("keybearer-status/1"));
	config_json(cfg, report);
	if (chosen != NULL)
		json_object_array_add(list, profile_json(cfg, chosen, 1, now));
	for (i = 0; chosen == NULL && i < cfg->count; i++)
		json_object_array_add(list, profile_json(cfg, &cfg->profiles[i],
							 &cfg->profiles[i] == fallback, now));
	json_object_object_add(report, "profiles", list);
	rc = output_answer_json(report, err);
	json_object_put(report);
	return rc;
}

int
status_run(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	struct error ignored = { 0 };
	const struct profile *chosen, *fallback;
	struct cache_clock now;
	size_t i;
	int rc;

	rc = cli_parse_options(argc, argv, "profile json", &opts, err);
	if (rc != 0)
		return rc;
	if (config_load(&cfg, err) != 0)
		return -1;
	chosen = opts.profile != NULL ? config_select(&cfg, opts.profile, err) : NULL;
	if (opts.profile != NULL && chosen == NULL) {
		config_free(&cfg);
		return -1;
	}
	fallback = chosen != NULL ? chosen : config_select(&cfg, NULL, &ignored);
	cache_clock_now(&now);
	if (opts.json) {
		rc = print_json(&cfg, chosen, fallback, &now, err);
	} else {
		print_config_text(&cfg);
		if (chosen != NULL)
			print_profile_text(&cfg, chosen, 1, &now);
		for (i = 0; chosen == NULL && i < cfg.count; i++)
			print_profile_text(&cfg, &cfg.profiles[i], &cfg.profiles[i] == fallback,
					   &now);
	}
	config_free(&cfg);
	return rc;
}
