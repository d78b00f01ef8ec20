/* The HTTP exchanges keybearer makes: POST the token request, and GET the issuer's OIDC
 * discovery document and JWKS; all bounded in time and size, under the same transport
 * rules. */
#ifndef KEYBEARER_HTTP_H
#define KEYBEARER_HTTP_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "error.h"
#include "mtls.h"
#include "token.h"

#define HTTP_REPLY_MAX (1024 * 1024)

struct http_response {
	long status;
	char *body;
	size_t body_len;
	char *content_type;
	char *retry_after;
	char *location;
	long long server_date; /* Date header, 0 when absent or unreadable */
};

/* Where a request goes, and how messages name it. */
struct http_target {
	const char *url;
	const char *what; /* "token endpoint", "OIDC discovery", "JWKS" */
	const char *key;  /* the profile key to check: "token_url", "issuer", "jwks_url" */
	/* mutual-TLS client authentication: the certificate to present, or NULL */
	const struct mtls_credentials *mtls;
};

/* POSTs req to t->url, or GETs it when req or its body is NULL (with req's Authorization
 * header, when it has one): https with verification (plain http
 * only to loopback), the profile's ca_file, no redirects, proxies as libcurl reads them
 * from the environment (never for loopback). Transport failures set err; any HTTP answer
 * is returned to the caller. */
int http_request(const struct profile *p, const struct http_target *t,
		 const struct token_request *req, long timeout_ms, struct http_response *resp,
		 struct error *err);

/* GETs a document (discovery, JWKS) within the profile's timeout: 0 for a 200 answer, else
 * -1 with err set (a 5xx is transient). */
int http_get_document(const struct profile *p, const struct http_target *t,
		      struct http_response *resp, struct error *err);

/* One attempt of the whole exchange: the request built for the profile with creds (with
 * creds->mtls, over a connection that presents the client's certificate), sent, the reply
 * validated into out, all by deadline_ms (monotonic). *retry_after is what the endpoint
 * asked for in Retry-After, in seconds, or -1. */
int http_mint(const struct profile *p, const struct token_credentials *creds, long long deadline_ms,
	      struct token_result *out, int *retry_after, struct error *err);

/* What a Retry-After header asks for, in seconds from now: delta-seconds or an HTTP-date.
 * -1 for none: absent, 0, negative, unreadable, or a date already past. */
int http_retry_after_seconds(const char *value, time_t now);

/* resp as token.c reads it. */
void http_response_view(const struct http_response *resp, struct token_reply *reply);

void http_response_free(struct http_response *resp);

#endif
