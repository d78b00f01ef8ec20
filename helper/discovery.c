/* OIDC discovery, the fetching half: read the issuer's document over HTTPS within the
 * profile's timeout, and keep a copy in the cache directory. keybearer-fetch only. */
#include "discovery.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "http.h"
#include "safefile.h"

#define DISCOVERY_WELL_KNOWN "/.well-known/openid-configuration"

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
	struct http_target target = { url, "OIDC discovery", "issuer", NULL };

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
	discovery_cache_name(p->issuer, name);
	if (discovery_read_cached(&c, p->issuer, d) == 0) {
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
	char **endpoint;

	if (p->token_url != NULL || p->issuer == NULL)
		return 0;
	if (discovery_load(p, &d, err) != 0)
		return -1;
	endpoint = discovery_token_endpoint(p, &d);
	error_debug("profile %s: token endpoint %s from the issuer's discovery document", p->name,
		    *endpoint);
	p->token_url = *endpoint;
	*endpoint = NULL;
	discovery_free(&d);
	return 0;
}
