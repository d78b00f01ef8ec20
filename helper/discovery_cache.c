/* The part of OIDC discovery both binaries need: a document checked, and the copy
 * keybearer-fetch keeps in the cache directory read back (status shows the token endpoint
 * it names). No network here: keybearer links this. */
#include "discovery.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "strictjson.h"
#include "sha256.h"
#include "url.h"

void
discovery_free(struct discovery *d)
{
	free(d->token_endpoint);
	free(d->jwks_uri);
	free(d->mtls_token_endpoint);
	memset(d, 0, sizeof(*d));
}

/* An endpoint the document names: a string that passes the rules a configured one must.
 * label names it in messages (a member of a member: "mtls_endpoint_aliases.x"). */
static int
take_endpoint(struct json_object *doc, const char *name, const char *label, int required,
	      const char *issuer, char **out, struct error *err)
{
	struct json_object *value;
	struct url endpoint, origin;
	char what[600];

	*out = NULL;
	if (!json_object_object_get_ex(doc, name, &value))
		return required ? error_set(err, KB_EXIT_PROTOCOL,
					    "the discovery document of %s has no %s — check "
					    "issuer",
					    issuer, label)
				: 0;
	/* a string with a NUL byte would be read, as a C string, only up to it */
	if (strictjson_string(value) == NULL)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the discovery document of %s has a %s that is not a string "
				 "without NUL bytes — check issuer",
				 issuer, label);
	snprintf(what, sizeof(what), "%s in the discovery document of %s", label, issuer);
	if (url_check_endpoint(json_object_get_string(value), what, err) != 0) {
		err->code = KB_EXIT_PROTOCOL;
		return -1;
	}
	/* Plain http is for an issuer on this machine, not for one elsewhere to point us at a
	 * local port any user could open. */
	if (url_parse(json_object_get_string(value), &endpoint) == 0 &&
	    strcmp(endpoint.scheme, "https") != 0 &&
	    (url_parse(issuer, &origin) != 0 || !url_host_is_loopback(origin.host)))
		return error_set(err, KB_EXIT_PROTOCOL,
				 "%s names plain http, which only an issuer on this machine may "
				 "— check issuer",
				 what);
	*out = strdup(json_object_get_string(value));
	return *out != NULL ? 0
			    : error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
}

/* mutual-TLS client authentication: RFC 8705 section 5's aliases, an object whose
 * token_endpoint (the only one we use) passes the rules the plain one must. */
static int
take_mtls_aliases(struct json_object *doc, const char *issuer, struct discovery *d,
		  struct error *err)
{
	struct json_object *aliases;

	if (!json_object_object_get_ex(doc, "mtls_endpoint_aliases", &aliases))
		return 0;
	if (!json_object_is_type(aliases, json_type_object))
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the discovery document of %s has an mtls_endpoint_aliases that "
				 "is not a JSON object — check issuer",
				 issuer);
	return take_endpoint(aliases, "token_endpoint", "mtls_endpoint_aliases.token_endpoint", 0,
			     issuer, &d->mtls_token_endpoint, err);
}

int
discovery_parse(const char *text, size_t len, const char *issuer, struct discovery *d,
		struct error *err)
{
	struct json_object *doc = strictjson_parse(text, len);
	const char *claimed;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	if (doc == NULL || !json_object_is_type(doc, json_type_object)) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "the discovery document of %s is not a JSON object — check issuer",
			  issuer);
		goto out;
	}
	/* OIDC Discovery 4.3: the document must be the issuer's own, exactly. */
	claimed = strictjson_get_string(doc, "issuer");
	if (claimed == NULL || strcmp(claimed, issuer) != 0) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "the discovery document of %s names issuer \"%.200s\" — set issuer "
			  "to exactly the issuer the server names",
			  issuer, claimed != NULL ? claimed : "(none)");
		goto out;
	}
	if (take_endpoint(doc, "token_endpoint", "token_endpoint", 1, issuer, &d->token_endpoint,
			  err) != 0 ||
	    take_endpoint(doc, "jwks_uri", "jwks_uri", 0, issuer, &d->jwks_uri, err) != 0 ||
	    take_mtls_aliases(doc, issuer, d, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		discovery_free(d);
	json_object_put(doc);
	return rc;
}

char **
discovery_token_endpoint(const struct profile *p, struct discovery *d)
{
	/* mutual-TLS client authentication: RFC 8705 section 5, where the server takes
	 * certificates (often another host or port than its plain endpoint) */
	if (config_auth_is_mtls(p->auth_method) && d->mtls_token_endpoint != NULL)
		return &d->mtls_token_endpoint;
	return &d->token_endpoint;
}

void
discovery_cache_name(const char *issuer, char out[64])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct sha256 ctx;
	int i;

	sha256_init(&ctx);
	sha256_update(&ctx, issuer, strlen(issuer));
	sha256_final(&ctx, digest);
	memcpy(out, "oidc-", 5);
	for (i = 0; i < 16; i++) {
		out[5 + 2 * i] = hex[digest[i] >> 4];
		out[6 + 2 * i] = hex[digest[i] & 15];
	}
	memcpy(out + 37, ".json", 6);
}

int
discovery_read_cached(const struct cache *c, const char *issuer, struct discovery *d)
{
	char name[64];
	struct error ignored = { 0 };
	struct json_object *record = NULL, *fetched;
	const char *format, *document;
	char *text = NULL;
	size_t len;
	long long age;
	int rc = 1;

	memset(d, 0, sizeof(*d));
	discovery_cache_name(issuer, name);
	if (cache_read_file(c, name, &text, &len, &ignored) != 0)
		return 1;
	record = strictjson_parse(text, len);
	format = record != NULL ? strictjson_get_string(record, "format") : NULL;
	document = record != NULL ? strictjson_get_string(record, "document") : NULL;
	if (format == NULL || strcmp(format, DISCOVERY_FORMAT) != 0 || document == NULL ||
	    !json_object_object_get_ex(record, "fetched_at", &fetched) ||
	    !json_object_is_type(fetched, json_type_int))
		goto out;
	age = (long long)time(NULL) - json_object_get_int64(fetched);
	if (age < 0 || age >= DISCOVERY_MAX_AGE)
		goto out;
	rc = discovery_parse(document, strlen(document), issuer, d, &ignored) == 0 ? 0 : 1;
out:
	json_object_put(record);
	free(text);
	return rc;
}

int
discovery_cached(const struct profile *p, struct discovery *d)
{
	struct error ignored = { 0 };
	struct cache c;
	int rc;

	memset(d, 0, sizeof(*d));
	if (p->issuer == NULL || cache_open(&c, p, 0, &ignored) != 0)
		return 1;
	rc = discovery_read_cached(&c, p->issuer, d);
	cache_close(&c);
	return rc;
}
