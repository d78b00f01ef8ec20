/* Profiles: the built-in presets, the INI file, then the environment's overrides. */
#ifndef KEYBEARER_CONFIG_H
#define KEYBEARER_CONFIG_H

#include <stddef.h>

#include "error.h"
#include "nameindex.h"

#define CONFIG_DEFAULT_TIMEOUT	       30  /* total deadline of a token request, seconds */
#define CONFIG_CONNECT_TIMEOUT	       10  /* connect deadline, never above the total */
#define CONFIG_DEFAULT_REFRESH_MARGIN  300 /* refresh when less than this remains */
#define CONFIG_DEFAULT_KEYRING_TIMEOUT 5   /* a Secret Service call, not D-Bus's 25 s */
#define CONFIG_KEYRING_PROMPT_SECONDS  120 /* an unlock prompt waits for a person */
#define CONFIG_MAX_URLS		       16
#define CONFIG_KEY_ID_MAX	       256 /* key_id: a kid is a name, not a document */

enum auth_method {
	AUTH_CLIENT_SECRET_POST,
	AUTH_CLIENT_SECRET_BASIC,
	/* key-based client authentication */
	AUTH_CLIENT_SECRET_JWT, /* an HS256 client assertion keyed with the secret */
	AUTH_PRIVATE_KEY_JWT,	/* a client assertion signed with the client's private key */
	/* federated assertions and token exchange */
	AUTH_CLIENT_ASSERTION, /* a JWT someone else issued: the CI's or the cluster's */
	AUTH_NONE,	       /* client_id at most: a public client exchanging a token */
	/* mutual-TLS client authentication (RFC 8705 section 2) */
	AUTH_TLS_CLIENT_AUTH,
	AUTH_SELF_SIGNED_TLS_CLIENT_AUTH,
};

/* federated assertions and token exchange */
enum grant_type {
	GRANT_CLIENT_CREDENTIALS,
	GRANT_TOKEN_EXCHANGE, /* RFC 8693 */
};

/* Where a token someone else issued comes from (assertion, subject_token): fetched or read
 * anew at every mint, never cached. */
enum token_source_kind {
	TOKEN_SOURCE_NONE,
	TOKEN_SOURCE_GITHUB_ACTIONS, /* GitHub's ID-token endpoint, as the runner names it */
	TOKEN_SOURCE_ENV,
	TOKEN_SOURCE_FILE,
	TOKEN_SOURCE_COMMAND,
};

struct token_source {
	enum token_source_kind kind;
	char *arg; /* variable name, file path or command; NULL for none and github-actions */
};

#define GRANT_TYPE_TOKEN_EXCHANGE     "urn:ietf:params:oauth:grant-type:token-exchange"
#define TOKEN_TYPE_JWT		      "urn:ietf:params:oauth:token-type:jwt"
#define TOKEN_TYPE_ACCESS_TOKEN	      "urn:ietf:params:oauth:token-type:access_token"
#define TOKEN_TYPE_ID_TOKEN	      "urn:ietf:params:oauth:token-type:id_token"
#define CLIENT_ASSERTION_TYPE_JWT     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define GITHUB_REQUEST_URL_VARIABLE   "ACTIONS_ID_TOKEN_REQUEST_URL"
#define GITHUB_REQUEST_TOKEN_VARIABLE "ACTIONS_ID_TOKEN_REQUEST_TOKEN"

/* Where the client secret comes from; the OS keyring unless the profile says otherwise. */
enum secret_kind {
	SECRET_KEYRING,
	SECRET_ENV,
	SECRET_FILE,
	SECRET_COMMAND,
};

struct profile {
	char *name;
	char *token_url; /* NULL with an issuer: keybearer-fetch discovers it */
	char *issuer;	 /* OIDC issuer: its discovery document names the token endpoint */
	char *jwks_url;	 /* the keys inspect --verify checks against; default: the issuer's */
	char *client_id;
	char *scope;
	char *audience;
	char *resource;
	enum auth_method auth_method;
	char **urls; /* url_count prefixes this profile's token may be sent to */
	size_t url_count;
	enum secret_kind secret_kind;
	char *secret_arg; /* variable name, file path or command; NULL for the keyring */
	char *ca_file;
	int timeout;
	int refresh_margin;
	int keyring_timeout;
	char *git_username; /* git's username for this profile's token; NULL: the client id */
	int in_file;	    /* a section of the config file defines it */
	/* key-based client authentication */
	enum secret_kind private_key_kind; /* keyring (default), file or command; never env */
	char *private_key_arg;		   /* file path or command; NULL for the keyring */
	char *signing_alg;		   /* "RS256", ...; NULL: the key's default */
	char *key_id;			   /* the kid header; NULL: the key's RFC 7638 thumbprint */
	/* aud of a client assertion keybearer signs, and of an ID token it asks GitHub for;
	 * NULL: the token endpoint */
	char *assertion_audience;
	/* federated assertions and token exchange */
	struct token_source assertion;	   /* auth_method = client_assertion */
	enum grant_type grant_type;	   /* client_credentials unless token_exchange */
	struct token_source subject_token; /* grant_type = token_exchange */
	char *subject_token_type;	   /* NULL: TOKEN_TYPE_JWT */
	char *requested_token_type;	   /* NULL: none asked for */
	/* mutual-TLS client authentication */
	char *client_cert;		  /* client_cert = file:PATH: PEM, the chain may follow */
	enum secret_kind client_key_kind; /* client_key = keyring | file:PATH | command:CMD */
	char *client_key_arg;		  /* the path or command; NULL for the keyring */
	/* one client, many APIs: inherit = BASE takes BASE's client identity */
	char *inherit;		     /* the base this profile names; NULL: none */
	char *identity;		     /* the end of the inherit chain, whose keyring item it uses */
	unsigned long long set_keys; /* a bit per key the file (or a preset) gave this profile */
};

/* federated assertions and token exchange */
/* Whether the client authenticates with a client secret (whose source is resolved). */
int config_uses_secret(const struct profile *p);
/* subject_token_type as sent: the profile's, else TOKEN_TYPE_JWT. */
const char *config_subject_token_type(const struct profile *p);
const char *config_grant_type_name(enum grant_type grant);
/* "github-actions", "env:NAME", "file:PATH" or "command:CMD", as the config file says it. */
void config_describe_token_source(const struct token_source *src, char *out, size_t size);

struct config {
	char *path; /* the file that was read, NULL when none exists */
	struct profile *profiles;
	size_t count, capacity;
	struct name_index by_name; /* of profiles[]: config_find costs the same at any count */
	char *other_names;	   /* "a, b": profiles of the file config_load_selected dropped */
	/* not every profile of the file is here: config_load_selected, config_load_for_url */
	int partial;
	/* the env:NAME variables of the profiles a filtered load dropped: secret all the same */
	struct name_set dropped_variables;
};

/* The config file config_load reads: $KEYBEARER_CONFIG, else
 * $XDG_CONFIG_HOME/keybearer/config, else ~/.config/keybearer/config — only the first that
 * applies is looked at. *path is malloc'ed (NULL when none applies: HOME is not set);
 * returns the variable it came from ("KEYBEARER_CONFIG", "XDG_CONFIG_HOME", "HOME"), or
 * NULL. */
const char *config_default_path(char **path);

/* Reads $KEYBEARER_CONFIG, else $XDG_CONFIG_HOME/keybearer/config, else
 * ~/.config/keybearer/config (a missing default file is fine), and adds the "env" profile
 * the KEYBEARER_* variables describe. */
int config_load(struct config *cfg, struct error *err);

/* The endpoint that names a profile's tokens and its keyring item: the issuer when one is
 * set (its token endpoint is only known after discovery), else token_url. */
const char *config_endpoint_identity(const struct profile *p);

/* config_load for one profile, when one is named (flag_name, else $KEYBEARER_PROFILE): the
 * file's other profiles are checked as strictly, then dropped, so a cached get does not
 * grow with them. Only for callers that need no other profile (not for scrubbing secret
 * variables, matching URLs or listing profiles). */
int config_load_selected(struct config *cfg, const char *flag_name, struct error *err);

/* config_load keeping only the profiles that may claim a URL of url's origin (and those they
 * inherit from, and the built-in and env profiles): what config_match_url,
 * config_match_url_also and config_claim_on_origin answer is as with config_load, and a
 * git get costs the same with ten thousand profiles as with ten. Not for config_select;
 * config_explain_unclaimed reads the whole file again. */
int config_load_for_url(struct config *cfg, const char *url, struct error *err);
/* What a request that may name its profile needs: config_load_selected when name is given
 * (not NULL), else config_load_for_url. */
int config_load_named_or_for_url(struct config *cfg, const char *name, const char *url,
				 struct error *err);
/* Parses INI text as if it came from path, keeping only the profile named only (NULL: all);
 * for tests and for config_load. */
int config_load_text(struct config *cfg, const char *path, const char *text, const char *only,
		     struct error *err);

/* The profile to use: the flag, else $KEYBEARER_PROFILE, else the "env" profile, else the
 * only profile in the file, else the built-in aspose profile. */
const struct profile *config_select(const struct config *cfg, const char *flag_name,
				    struct error *err);

/* config_select, saying in *why how it chose, in words: "chosen with --profile", "the only
 * profile of the config file", ... */
const struct profile *config_select_why(const struct config *cfg, const char *flag_name,
					const char **why, struct error *err);

const struct profile *config_find(const struct config *cfg, const char *name);

/* A new profile (as login makes one) with the defaults; NULL with err set. */
struct profile *config_add_profile(struct config *cfg, const char *name, struct error *err);

/* The value of a key that holds one string (or the auth method's name), as the profile
 * has it now; NULL when unset or not such a key. */
const char *config_key_value(const struct profile *p, const char *key);

/* Sets one key as a config line would, with the same checks; where names the source. */
int config_set_key(struct profile *p, const char *key, const char *value, const char *where,
		   struct error *err);

/* Appends "[profile NAME]" with the given keys (NULL values skipped) to the config file,
 * creating it (mode 600) and its directory (mode 700) when needed. The rest of the file is
 * left as it is: a second section of the same name adds to the first. */
int config_append_section(const struct config *cfg, const char *name, const char *const keys[],
			  const char *const values[], size_t count, struct error *err);

/* The profile whose urls claim url: the longest prefix with the same scheme, host and port
 * (default ports spelled or not). NULL when no profile claims it: then no token goes there. */
const struct profile *config_match_url(const struct config *cfg, const char *url);

/* A profile with a urls entry on url's origin (same scheme, host and port), whatever its
 * path, and that entry: for telling a user why a URL of that host got nothing. */
const struct profile *config_claim_on_origin(const struct config *cfg, const char *url,
					     const char **entry);

/* Whether one of p's urls is a prefix of url (same scheme, host and port). */
int config_profile_claims(const struct profile *p, const char *url);

/* Another profile whose claim on url is as long as best's (config_match_url's pick, the
 * first in the file of those), or NULL: which names it, as best wins only by its place. */
const struct profile *config_match_url_also(const struct config *cfg, const char *url,
					    const struct profile *best);

/* The urls entry of p that claims url (the longest), or NULL. */
const char *config_profile_claim(const struct profile *p, const char *url);

/* Why no token goes to url, as one message "<what failed>: <why> — <what to do>": with
 * chosen NULL, "no profile claims URL: ..."; else "profile P does not claim URL: ...". It
 * names what refuses url itself (a dot segment, a user name, plain http to another host),
 * else the claims on url's host or, with none, every profile and its urls, and the urls
 * line that would claim it. as_given is the word url was read from when a scheme was
 * added (NULL or url: none). Never cuts a name or a URL: what does not fit in size is left
 * out whole. The plugins and keybearer which use it, so their rules are told one way. */
void config_explain_unclaimed(const struct config *cfg, const struct profile *chosen,
			      const char *url, const char *as_given, char *out, size_t size);

/* The variables that hold client secrets: KEYBEARER_CLIENT_SECRET and every profile's
 * env:NAME (secret, assertion, subject_token), and ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
int config_is_secret_variable(const struct config *cfg, const char *name, size_t len);

/* environ without the secret variables and those that would log TLS session keys
 * (SSLKEYLOGFILE), for a child that is not keybearer-fetch (curl, a command keybearer exec
 * runs: both send the token): a malloc'ed array of environ's own strings. */
char **config_environment_without_secrets(const struct config *cfg);

/* Unsets the secret variables in this process (the client secrets, the assertions and
 * subject tokens of env:NAME, GitHub's ID-token request token), but those the profile keep
 * reads itself (when not NULL): for keybearer-fetch, before it runs a secret command. */
void config_scrub_secret_variables(const struct config *cfg, const struct profile *keep);

/* A profile can mint only with a token_url and a client_id. */
int config_check_mintable(const struct config *cfg, const struct profile *p, struct error *err);

const char *config_auth_method_name(enum auth_method method);

/* Whether the method sends a client assertion that we sign (client_secret_jwt,
 * private_key_jwt). */
int config_auth_signs_assertion(enum auth_method method);

/* "keyring", "file:PATH" or "command:CMD" of private_key, as the config file would say it. */
void config_describe_private_key_source(const struct profile *p, char *out, size_t size);
/* Whether the method authenticates the client with its TLS certificate (RFC 8705): no
 * secret, client_cert and client_key instead. */
int config_auth_is_mtls(enum auth_method method);

/* "keyring", "file:PATH" or "command:CMD": the profile's client_key source. */
void config_describe_client_key_source(const struct profile *p, char *out, size_t size);

/* "keyring", "env:NAME", "file:PATH" or "command:CMD", as the config file would say it. */
void config_describe_secret_source(const struct profile *p, char *out, size_t size);

/* one client, many APIs */
/* The profile whose keyring item holds p's credentials: the end of p's inherit chain, or
 * p itself. */
const char *config_keyring_profile(const struct profile *p);

/* login, logout and keygen work on the profile that owns the keyring item: for one that
 * inherits, an error naming the command (and why, in words) to run for that profile; 0 for
 * any other. */
int config_refuse_inheriting(const struct profile *p, const char *command, const char *why,
			     struct error *err);

/* The profile p inherits from (its inherit = line), or NULL. */
const struct profile *config_base(const struct config *cfg, const struct profile *p);

/* Names the keys p takes from another profile, one call per key, in key-table order:
 * name is the key, from the profile whose file section (or built-in preset) gave the value.
 * Keys no profile of the chain sets (their defaults) are not named. */
void config_each_inherited(const struct config *cfg, const struct profile *p,
			   void (*fn)(const char *key, const char *from, void *ctx), void *ctx);

void config_free(struct config *cfg);

#endif
