/* Everything a mint proves itself with, resolved for one mint and wiped after it: the
 * client secret (when the auth_method uses one), the client assertion and the subject
 * token of token exchange. What is on this machine is read first, so that a recorded
 * rejection can be compared with it; what must be fetched (github-actions) only once no
 * recorded answer stands in the way. */
#ifndef KEYBEARER_CREDENTIALS_H
#define KEYBEARER_CREDENTIALS_H

#include "config.h"
#include "error.h"
#include "lockstate.h"
#include "mtls.h"
#include "secret.h"
#include "token.h"

struct credentials {
	struct secret secret;			  /* value NULL: not used */
	struct secret assertion;		  /* value NULL: not used, or not fetched yet */
	struct secret subject_token;		  /* value NULL: not used, or not fetched yet */
	int fetch_assertion, fetch_subject_token; /* github-actions: still to be fetched */
	/* mutual-TLS client authentication: client_cert and client_key, checked together */
	struct mtls_credentials mtls;
	/* what tells these apart from others without showing them (fingerprint.h) */
	struct secret identity;
};

/* Reads the local credentials; *source names where a failure happened (for the record). */
int credentials_read(const struct profile *p, struct credentials *c, enum lockstate_source *source,
		     struct error *err);

/* Fetches what credentials_read left to fetch (GitHub's ID tokens). */
int credentials_fetch(const struct profile *p, struct credentials *c, int *retry_after,
		      struct error *err);

/* The credentials as token_request_build takes them. */
void credentials_view(const struct credentials *c, struct token_credentials *view);

/* Where each credential comes from, for check's words: "secret file:/x, assertion
 * github-actions". */
void credentials_describe(const struct profile *p, char *out, size_t size);

void credentials_free(struct credentials *c);

#endif
