/* OIDC discovery (OpenID Connect Discovery 1.0): a profile may name its issuer instead of
 * its token endpoint. The issuer's /.well-known/openid-configuration is read once, checked,
 * and kept in the cache directory for a day. Fetching is keybearer-fetch's (discovery.c);
 * checking a document and reading the cached copy is both binaries' (discovery_cache.c). */
#ifndef KEYBEARER_DISCOVERY_H
#define KEYBEARER_DISCOVERY_H

#include "cache.h"
#include "config.h"
#include "error.h"

#define DISCOVERY_MAX_AGE (24 * 3600)
#define DISCOVERY_FORMAT  "keybearer-oidc/1"

struct discovery {
	char *token_endpoint;
	char *jwks_uri; /* NULL when the document names none */
	/* mutual-TLS client authentication: mtls_endpoint_aliases.token_endpoint (RFC 8705
	 * section 5), NULL when the document names none */
	char *mtls_token_endpoint;
};

/* The profile's discovery document, from the cache when it is younger than a day, else
 * fetched (within the profile's timeout) and cached. Its issuer must be the profile's,
 * character for character, and its endpoints must pass the token_url rules. */
int discovery_load(const struct profile *p, struct discovery *d, struct error *err);

/* Parses a discovery document for issuer; for discovery_load and the fuzz harness. */
int discovery_parse(const char *text, size_t len, const char *issuer, struct discovery *d,
		    struct error *err);

void discovery_free(struct discovery *d);

/* discovery_cache.c, for both binaries: */

/* The member of d that is p's token endpoint: with a mutual-TLS auth_method, the mTLS
 * alias when the document names one, else token_endpoint. */
char **discovery_token_endpoint(const struct profile *p, struct discovery *d);

/* The cache file name of an issuer's document: "oidc-<32 hex digits>.json". */
void discovery_cache_name(const char *issuer, char out[64]);

/* The cached copy in c's directory, {"format", "fetched_at", "document"} with the document
 * as the server sent it, checked exactly as a fresh one: 0 when it is there, younger than
 * DISCOVERY_MAX_AGE and the issuer's; else 1. */
int discovery_read_cached(const struct cache *c, const char *issuer, struct discovery *d);

/* The same for p's issuer, without creating anything: for status. 0, or 1 (no issuer, no
 * usable copy). */
int discovery_cached(const struct profile *p, struct discovery *d);

/* With an issuer and no token_url, sets p->token_url from discovery (the config is the
 * caller's own copy): with a mutual-TLS auth_method, the mTLS alias when there is one. */
int discovery_resolve_token_url(struct profile *p, struct error *err);

#endif
