#include "discovery.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "http.h"
#include "safefile.h"
#include "sha256.h"
#include "strictjson.h"
#include "url.h"

#define DISCOVERY_FORMAT     "keybearer-oidc/1"
#define DISCOVERY_WELL_KNOWN "/.well-known/openid-configuration"

void
discovery_free(struct discovery *d)
{
	free(d->token_endpoint);
	free(d->jwks_uri);
	memset(d, 0, sizeof(*d));
}

/* An endpoint the document names: a string that passes the rules a configured one must. */
static int
take_endpoint(struct json_object *doc, const char *name, int required, const char *issuer,
	      char **out, struct error *err)
{
	struct json_object *value;
	struct url endpoint, origin;
	char what[600];

	*out = NULL;
	if (!json_object_object_get_ex(doc, name, &value))
		return required ? error_set(err, KB_EXIT_PROTOCOL,
					    "the discovery document of %s has no %s — check "
					    "issuer",
					    issuer, name)
				: 0;
	/* a string with a NUL byte would be read, as a C string, only up to it */
	if (strictjson_string(value) == NULL)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the discovery document of %s has a %s that is not a string "
				 "without NUL bytes — check issuer",
				 issuer, name);
	snprintf(what, sizeof(what), "%s in the discovery document of %s", name, issuer);
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
	if (take_endpoint(doc, "token_endpoint", 1, issuer, &d->token_endpoint, err) != 0 ||
	    take_endpoint(doc, "jwks_uri", 0, issuer, &d->jwks_uri, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		discovery_free(d);
	json_object_put(doc);
	return rc;
}

static void
cache_name(const char *issuer, char out[64])
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

/* The cached copy: {"format", "fetched_at", "document"}, the document as the server sent
 * it, so it is checked exactly as a fresh one. 0 when usable, 1 when not. */
static int
read_cached(const struct cache *c, const char *name, const char *issuer, struct discovery *d)
{
	struct error ignored = { 0 };
	struct json_object *record = NULL, *fetched;
	const char *format, *document;
	char *text = NULL;
	size_t len;
	long long age;
	int rc = 1;

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

static void
write_cached(const struct cache *c, const char *name, const char *document)
{
	struct error ignored = { 0 };
	struct json_object *record = json_object_new_object();
	const char *text;

	if (record == NULL)
		return;
	json_object_object_add(record, "format", json_object_new_string(DISCOVERY_FORMAT));
	json_object_object_add(record, "fetched_at", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(record, "document", json_object_new_string(document));
	text = json_object_to_json_string_ext(record, JSON_C_TO_STRING_PLAIN);
	if (text != NULL && cache_write_file(c, name, text, &ignored) != 0)
		error_warn("%s", ignored.message); /* the next mint asks again: no harm */
	json_object_put(record);
}

static int
fetch_document(const struct profile *p, struct http_response *resp, struct error *err)
{
	char url[4200];
	size_t len = strlen(p->issuer);
	struct http_target target = { url, "OIDC discovery", "issuer" };

	/* issuer + "/.well-known/openid-configuration", without doubling a trailing slash */
	if (len > 0 && p->issuer[len - 1] == '/')
		len--;
	if ((size_t)snprintf(url, sizeof(url), "%.*s%s", (int)len, p->issuer,
			     DISCOVERY_WELL_KNOWN) >= sizeof(url))
		return error_set(err, KB_EXIT_CONFIG, "issuer %.200s is too long — shorten it",
				 p->issuer);
	return http_get_document(p, &target, resp, err);
}

int
discovery_load(const struct profile *p, struct discovery *d, struct error *err)
{
	struct http_response resp = { 0 };
	struct cache c = { .dirfd = -1 };
	char name[64];
	int rc = -1;

	memset(d, 0, sizeof(*d));
	if (p->issuer == NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s has no issuer — set issuer in [profile %s]", p->name,
				 p->name);
	if (cache_open(&c, p, 1, err) != 0)
		return -1;
	cache_name(p->issuer, name);
	if (read_cached(&c, name, p->issuer, d) == 0) {
		rc = 0;
		goto out;
	}
	if (fetch_document(p, &resp, err) != 0 ||
	    discovery_parse(resp.body, resp.body_len, p->issuer, d, err) != 0)
		goto out;
	write_cached(&c, name, resp.body);
	rc = 0;
out:
	http_response_free(&resp);
	cache_close(&c);
	return rc;
}

int
discovery_resolve_token_url(struct profile *p, struct error *err)
{
	struct discovery d;

	if (p->token_url != NULL || p->issuer == NULL)
		return 0;
	if (discovery_load(p, &d, err) != 0)
		return -1;
	error_debug("profile %s: token endpoint %s from the issuer's discovery document", p->name,
		    d.token_endpoint);
	p->token_url = d.token_endpoint;
	d.token_endpoint = NULL;
	discovery_free(&d);
	return 0;
}
