#include "credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "external.h"
#include "safefile.h"
#include "sha256.h"

/* The identity a rejection is recorded against. With the secret alone, the secret itself
 * (as before there were other credentials). Else every credential read from this machine,
 * one after the other, and the origins of all (a fetched ID token's origin names its
 * request, not its bytes: the same job asking again is the same identity). */
static int
build_identity(const struct credentials *c, struct secret *id)
{
	const struct secret *parts[] = { &c->secret, &c->assertion, &c->subject_token };
	const struct secret *alone = c->mtls.cert.value != NULL ? &c->mtls.cert : &c->secret;
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct sha256 ctx;
	size_t i, len = 0, used = 0;
	char hex[65];

	memset(id, 0, sizeof(*id));
	if (c->assertion.origin[0] == '\0' && c->subject_token.origin[0] == '\0' &&
	    c->assertion.value == NULL && c->subject_token.value == NULL) {
		/* the secret, or the client certificate of mTLS, alone */
		if (alone->value == NULL)
			return 0;
		id->size = strlen(alone->value) + 1;
		id->value = malloc(id->size);
		if (id->value == NULL)
			return -1;
		mlock(id->value, id->size);
		memcpy(id->value, alone->value, id->size);
		snprintf(id->origin, sizeof(id->origin), "%s", alone->origin);
		return 0;
	}
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		len += (parts[i]->value != NULL ? strlen(parts[i]->value) : 0) + 1;
	id->size = len + 1;
	id->value = malloc(id->size);
	if (id->value == NULL)
		return -1;
	mlock(id->value, id->size);
	sha256_init(&ctx);
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *v = parts[i]->value != NULL ? parts[i]->value : "";
		used += (size_t)snprintf(id->value + used, id->size - used, "%s\n", v);
		sha256_update(&ctx, parts[i]->origin, strlen(parts[i]->origin) + 1);
	}
	sha256_final(&ctx, digest);
	sha256_hex(digest, sizeof(digest), hex);
	snprintf(id->origin, sizeof(id->origin), "credentials %s", hex);
	return 0;
}

static int
read_external(const struct profile *p, const struct external_use *use, struct secret *out,
	      int *fetch_later, struct error *err)
{
	int rc = external_token_read(p, use, out, err);

	if (rc == 1) {
		*fetch_later = 1;
		return 0;
	}
	return rc;
}

int
credentials_read(const struct profile *p, struct credentials *c, enum lockstate_source *source,
		 struct error *err)
{
	struct external_use use;

	memset(c, 0, sizeof(*c));
	/* mutual-TLS client authentication: the certificate stands for the secret; a new one
	 * is tried at once after a rejection, as a new secret is */
	if (config_auth_is_mtls(p->auth_method)) {
		*source = p->client_key_kind == SECRET_KEYRING	 ? LOCKSTATE_KEYRING
			  : p->client_key_kind == SECRET_COMMAND ? LOCKSTATE_SECRET_COMMAND
								 : LOCKSTATE_ENDPOINT;
		if (mtls_load(p, &c->mtls, err) != 0)
			return -1;
	}
	/* the secret, or private_key_jwt's private key, from wherever the profile keeps it */
	if (config_uses_secret(p) || p->auth_method == AUTH_PRIVATE_KEY_JWT) {
		struct credential_source src;
		credential_source_of(p, credential_for_method(p), &src);
		*source = src.kind == SECRET_KEYRING   ? LOCKSTATE_KEYRING
			  : src.kind == SECRET_COMMAND ? LOCKSTATE_SECRET_COMMAND
						       : LOCKSTATE_ENDPOINT;
		if (secret_resolve(p, &c->secret, err) != 0)
			return -1;
	}
	/* a token read here fails as configuration: nothing worth recording */
	*source = LOCKSTATE_ENDPOINT;
	if (p->auth_method == AUTH_CLIENT_ASSERTION) {
		external_use_assertion(p, &use);
		if (read_external(p, &use, &c->assertion, &c->fetch_assertion, err) != 0)
			return -1;
	}
	if (p->grant_type == GRANT_TOKEN_EXCHANGE) {
		external_use_subject_token(p, &use);
		if (read_external(p, &use, &c->subject_token, &c->fetch_subject_token, err) != 0)
			return -1;
	}
	if (build_identity(c, &c->identity) != 0)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	return 0;
}

int
credentials_fetch(const struct profile *p, struct credentials *c, int *retry_after,
		  struct error *err)
{
	struct external_use use;

	*retry_after = -1;
	if (c->fetch_assertion) {
		external_use_assertion(p, &use);
		if (external_token_fetch_github(p, &use, &c->assertion, retry_after, err) != 0)
			return -1;
		c->fetch_assertion = 0;
	}
	if (c->fetch_subject_token) {
		external_use_subject_token(p, &use);
		if (external_token_fetch_github(p, &use, &c->subject_token, retry_after, err) != 0)
			return -1;
		c->fetch_subject_token = 0;
	}
	return 0;
}

void
credentials_view(const struct credentials *c, struct token_credentials *view)
{
	view->secret = c->secret.value;
	view->client_assertion = c->assertion.value;
	view->subject_token = c->subject_token.value;
	view->mtls = c->mtls.cert.value != NULL ? &c->mtls : NULL;
}

void
credentials_describe(const struct profile *p, char *out, size_t size)
{
	char source[4200];
	size_t used = 0;

	out[0] = '\0';
	if (config_uses_secret(p)) {
		config_describe_secret_source(p, source, sizeof(source));
		used += (size_t)snprintf(out + used, size - used, "secret from %s", source);
	} else if (p->auth_method == AUTH_PRIVATE_KEY_JWT) {
		config_describe_private_key_source(p, source, sizeof(source));
		used += (size_t)snprintf(out + used, size - used, "private key from %s", source);
	} else if (config_auth_is_mtls(p->auth_method)) {
		config_describe_client_key_source(p, source, sizeof(source));
		used += (size_t)snprintf(out + used, size - used, "certificate %s, its key from %s",
					 p->client_cert, source);
	}
	if (p->auth_method == AUTH_CLIENT_ASSERTION && used < size) {
		config_describe_token_source(&p->assertion, source, sizeof(source));
		used += (size_t)snprintf(out + used, size - used, "%sassertion from %s",
					 used ? ", " : "", source);
	}
	if (p->grant_type == GRANT_TOKEN_EXCHANGE && used < size) {
		config_describe_token_source(&p->subject_token, source, sizeof(source));
		used += (size_t)snprintf(out + used, size - used, "%ssubject token from %s",
					 used ? ", " : "", source);
	}
	if (used == 0)
		snprintf(out, size, "no client credential (auth_method = none)");
}

void
credentials_free(struct credentials *c)
{
	secret_free(&c->secret);
	secret_free(&c->assertion);
	secret_free(&c->subject_token);
	secret_free(&c->identity);
	mtls_free(&c->mtls);
	memset(c, 0, sizeof(*c));
}
