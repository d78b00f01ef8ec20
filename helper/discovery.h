/* OIDC discovery (OpenID Connect Discovery 1.0): a profile may name its issuer instead of
 * its token endpoint. The issuer's /.well-known/openid-configuration is read once, checked,
 * and kept in the cache directory for a day. keybearer-fetch only. */
#ifndef KEYBEARER_DISCOVERY_H
#define KEYBEARER_DISCOVERY_H

#include "config.h"
#include "error.h"

#define DISCOVERY_MAX_AGE (24 * 3600)

struct discovery {
	char *token_endpoint;
	char *jwks_uri; /* NULL when the document names none */
};

/* The profile's discovery document, from the cache when it is younger than a day, else
 * fetched (within the profile's timeout) and cached. Its issuer must be the profile's,
 * character for character, and its endpoints must pass the token_url rules. */
int discovery_load(const struct profile *p, struct discovery *d, struct error *err);

/* Parses a discovery document for issuer; for discovery_load and the fuzz harness. */
int discovery_parse(const char *text, size_t len, const char *issuer, struct discovery *d,
		    struct error *err);

void discovery_free(struct discovery *d);

/* With an issuer and no token_url, sets p->token_url from discovery (the config is the
 * caller's own copy). */
int discovery_resolve_token_url(struct profile *p, struct error *err);

#endif
