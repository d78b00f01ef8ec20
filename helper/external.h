/* Tokens someone else issued, that a mint sends on: the client assertion of auth_method =
 * client_assertion (RFC 7523 section 2.2: the CI's or the cluster's own OIDC identity) and
 * the subject token of grant_type = token_exchange (RFC 8693). Each is fetched or read
 * anew at every mint (a projected token file rotates under us), checked before it is sent
 * (a JWT past its exp would only be refused), and never cached, printed or passed on.
 * Only keybearer-fetch resolves them. */
#ifndef KEYBEARER_EXTERNAL_H
#define KEYBEARER_EXTERNAL_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "error.h"
#include "redaction.h"
#include "secret.h"
#include "token.h"

#define ASSERTION_MAX (16 * 1024)
/* A JWT with less than this left could expire on its way, or by a server clock that is
 * ahead of ours: it is not sent. */
#define ASSERTION_EXPIRY_SKEW 30

/* What a token is to the mint: how messages name it and what it must be. */
struct external_use {
	const char *what; /* "assertion", "subject token" */
	const char *key;  /* the profile key that names its source */
	const struct token_source *source;
	int must_be_jwt; /* a JWT whose exp is checked; else any b64token-like text */
};

/* The uses of the profile's client assertion and of its subject token. */
void external_use_assertion(const struct profile *p, struct external_use *use);
void external_use_subject_token(const struct profile *p, struct external_use *use);

/* The audience keybearer asks GitHub's ID-token endpoint for: assertion_audience, else the
 * token endpoint's URL (as RFC 7523 would have the aud of a client assertion). */
const char *assertion_github_audience(const struct profile *p);

/* Reads a source from this machine — env:NAME, file:PATH (re-read, following a kubelet's
 * ..data link swap), command:CMD — into out, checked. For github-actions nothing is read:
 * returns 1 with out->origin naming the request (it is fetched later, once the recorded
 * answers allow it). 0, or -1 with err set (78 for a missing, unreadable or expired one). */
int external_token_read(const struct profile *p, const struct external_use *use, struct secret *out,
			struct error *err);

/* Fetches a token from GitHub's ID-token endpoint ($ACTIONS_ID_TOKEN_REQUEST_URL with
 * &audience=, Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN) within the profile's
 * timeout, transient failures retried with backoff. *retry_after: the longest Retry-After
 * seen, or -1. */
int external_token_fetch_github(const struct profile *p, const struct external_use *use,
				struct secret *out, int *retry_after, struct error *err);

/* The ID-token endpoint's reply: a 200 JSON object whose "value" is a JWT. *value is a new
 * string (safefile_free_string). redaction (may be NULL) is blanked from every excerpt. */
int github_reply_parse(const struct token_reply *reply, const struct redaction *redaction,
		       const struct external_use *use, char **value, struct error *err);

/* Whether a token may be sent as use says, at now: a text of at most ASSERTION_MAX bytes
 * of b64token characters; for a JWT, decodable and with more than ASSERTION_EXPIRY_SKEW s
 * left by its exp. origin names where it came from in messages. */
int external_token_check(const char *token, size_t len, const struct external_use *use,
			 const struct profile *p, const char *origin, time_t now,
			 struct error *err);

#endif
