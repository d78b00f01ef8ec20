/* RFC 6749 section 4.4: the client_credentials request we send and the reply we accept.
 * Pure functions over memory, so every rule here is unit-tested without a network. */
#ifndef KEYBEARER_TOKEN_H
#define KEYBEARER_TOKEN_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "error.h"
#include "redaction.h"

#define TOKEN_MAX_LENGTH       (16 * 1024)
#define TOKEN_DEFAULT_LIFETIME 86400	   /* Aspose's default, used when nothing says otherwise */
#define TOKEN_MAX_EXPIRES_IN   315360000LL /* ten years: anything longer is a broken reply */
/* A token with less left than this could die on its way to the server: never handed out,
 * not even as a fallback. */
#define TOKEN_MIN_LIFETIME 10

/* What a request proves the client (and, for token exchange, its subject) with; NULL
 * members are not sent. */
struct mtls_credentials;

struct token_credentials {
	/* client_secret_post, client_secret_basic, client_secret_jwt's HMAC key; the PEM
	 * private key of private_key_jwt (for the redaction only) */
	const char *secret;
	/* a JWT, RFC 7523: auth_method = client_assertion's, or the one keybearer signed */
	const char *client_assertion;
	const char *subject_token; /* grant_type = token_exchange, RFC 8693 */
	/* mutual-TLS client authentication: the certificate and key the TLS connection
	 * presents (the request then carries client_id only); NULL for the other methods */
	const struct mtls_credentials *mtls;
};

/* Every member holds the secret: token_request_free wipes them. */
struct token_request {
	char *body;	     /* application/x-www-form-urlencoded */
	char *authorization; /* "Authorization: Basic ..." header line, or NULL */
	/* the secret in every form this request carried it, or a reply could echo it */
	struct redaction redaction;
};

/* What came back over HTTP, as the transport saw it. */
struct token_reply {
	long status;
	const char *content_type;     /* may be NULL */
	const char *retry_after;      /* may be NULL */
	const char *location;	      /* may be NULL */
	long long server_date;	      /* the Date header as Unix time, 0 when absent */
	enum auth_method auth_method; /* how the request authenticated the client */
	/* key-based client authentication: how the assertion was signed, for a refusal */
	const char *signing_alg; /* "ES256", or NULL */
	const char *key_id;	 /* the kid sent, or NULL */
	/* federated assertions and token exchange */
	int token_exchange;		  /* an RFC 8693 reply: issued_token_type is checked */
	const char *requested_token_type; /* what the request asked for, or NULL */
	const char *body;
	size_t body_len;
};

enum token_expiry_source {
	EXPIRY_FROM_EXPIRES_IN,
	EXPIRY_FROM_JWT,
	EXPIRY_DEFAULT,
};

struct token_result {
	char *access_token;
	long long obtained_at;
	long long expires_at;
	enum token_expiry_source expiry_source;
};

/* application/x-www-form-urlencoded (RFC 6749 appendix B): ALPHA DIGIT - . _ ~ as they are,
 * space as '+', every other byte as %XX. Returns a new string or NULL. */
char *token_form_encode(const char *value);

/* The request for the profile's grant (client_credentials, or token exchange with creds's
 * subject_token and the profile's subject_token_type and requested_token_type), the client
 * authenticated by its auth_method with what creds holds: the secret (client_secret_post,
 * client_secret_basic), a client assertion (client_assertion, and the one keybearer signed
 * for client_secret_jwt and private_key_jwt). Everything creds holds goes into req's
 * redaction, the private key of private_key_jwt too, which is never sent. */
int token_request_build(const struct profile *p, const struct token_credentials *creds,
			struct token_request *req, struct error *err);
void token_request_free(struct token_request *req);

/* What no message about a request authenticated by client_id and secret may show: the
 * secret as it is, form-encoded and JSON-escaped (a reply decodes its own escapes on top of
 * those), and the base64 of both client_secret_basic pairs, form(id):form(secret) as RFC
 * 6749 2.3.1 sends it and id:secret as servers that skip the encoding expect it, padded or
 * not. An empty or NULL secret leaves r empty. 0, or -1 when out of memory. */
int token_redaction_build(const char *client_id, const char *secret, struct redaction *r);

/* Accepts only an HTTP 200 JSON object with a b64token access_token of at most 16 KiB and
 * token_type Bearer (for token exchange, also issued_token_type access_token or jwt, the
 * one asked for when one was; token_type N_A only for a jwt explicitly asked for); everything else
 * becomes an error of the right class. What redaction describes (may be NULL: nothing to hide) is
 * blanked out of every excerpt of the reply quoted in a message. */
int token_reply_parse(const struct token_reply *reply, const struct redaction *redaction,
		      time_t received_at, struct token_result *out, struct error *err);
void token_result_free(struct token_result *result);

/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
int token_is_b64token(const char *s, size_t len);

/* A printable one-line excerpt of an untrusted text: tags dropped, whitespace collapsed,
 * bytes outside printable ASCII as '?', every spelling of what redaction describes (may be
 * NULL) and every run of 32 or more token characters blanked, at most max characters. */
void token_excerpt(const char *text, size_t len, const struct redaction *redaction, char *out,
		   size_t max);

#endif
