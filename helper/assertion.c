#include "assertion.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "safefile.h"

static int
out_of_memory(struct error *err)
{
	return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory and retry");
}

/* base64url of a JSON object as json-c writes it: compact, '/' unescaped. */
static char *
encode_object(struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = text != NULL ? strlen(text) : 0;
	char *out = text != NULL ? malloc(len * 4 / 3 + 4) : NULL;

	if (out != NULL)
		signkey_base64url((const unsigned char *)text, len, out);
	return out;
}

static struct json_object *
header_object(const struct assertion_params *in)
{
	struct json_object *h = json_object_new_object();

	if (h == NULL)
		return NULL;
	json_object_object_add(h, "alg", json_object_new_string(signkey_alg_name(in->alg)));
	json_object_object_add(h, "typ", json_object_new_string("JWT"));
	if (in->kid != NULL)
		json_object_object_add(h, "kid", json_object_new_string(in->kid));
	return h;
}

static struct json_object *
claims_object(const struct assertion_params *in)
{
	struct json_object *c = json_object_new_object();
	char jti[ASSERTION_JTI_BYTES * 2];

	if (c == NULL)
		return NULL;
	signkey_base64url(in->jti, sizeof(in->jti), jti);
	json_object_object_add(c, "iss", json_object_new_string(in->client_id));
	json_object_object_add(c, "sub", json_object_new_string(in->client_id));
	json_object_object_add(c, "aud", json_object_new_string(in->audience));
	json_object_object_add(c, "jti", json_object_new_string(jti));
	json_object_object_add(c, "iat", json_object_new_int64(in->issued_at));
	/* Entra ID requires nbf; the others accept it */
	json_object_object_add(c, "nbf", json_object_new_int64(in->issued_at));
	json_object_object_add(c, "exp", json_object_new_int64(in->issued_at + ASSERTION_LIFETIME));
	return c;
}

int
assertion_encode(const struct assertion_params *in, struct assertion *out, struct error *err)
{
	struct json_object *header = header_object(in), *claims = claims_object(in);
	char *head64 = NULL, *claims64 = NULL, sig64[SIGNKEY_SIGNATURE_MAX * 4 / 3 + 4];
	unsigned char sig[SIGNKEY_SIGNATURE_MAX];
	size_t sig_len = 0, signed_len, total;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (header == NULL || claims == NULL || (head64 = encode_object(header)) == NULL ||
	    (claims64 = encode_object(claims)) == NULL) {
		out_of_memory(err);
		goto out;
	}
	signed_len = strlen(head64) + 1 + strlen(claims64);
	total = signed_len + sizeof(sig64) + 2;
	out->jwt = malloc(total);
	if (out->jwt == NULL || (in->kid != NULL && (out->kid = strdup(in->kid)) == NULL)) {
		out_of_memory(err);
		goto out;
	}
	snprintf(out->jwt, total, "%s.%s", head64, claims64);
	if (signkey_sign(in->key, in->alg, in->hmac_key, out->jwt, signed_len, sig, &sig_len,
			 err) != 0)
		goto out;
	signkey_base64url(sig, sig_len, sig64);
	snprintf(out->jwt + signed_len, total - signed_len, ".%s", sig64);
	snprintf(out->alg, sizeof(out->alg), "%s", signkey_alg_name(in->alg));
	if (in->key != NULL && in->alg != SIGN_HS256)
		snprintf(out->key_describe, sizeof(out->key_describe), "%s", in->key->describe);
	rc = 0;
out:
	explicit_bzero(sig, sizeof(sig));
	json_object_put(header);
	json_object_put(claims);
	free(head64);
	free(claims64);
	if (rc != 0)
		assertion_free(out);
	return rc;
}

int
assertion_key_id(const struct profile *p, const struct signkey *key, char **kid)
{
	char thumbprint[SIGNKEY_THUMBPRINT_LEN + 1];

	*kid = NULL;
	if (p->key_id != NULL)
		*kid = strdup(p->key_id);
	else if (key != NULL && signkey_thumbprint(key, thumbprint) == 0)
		*kid = strdup(thumbprint);
	return *kid != NULL || key == NULL ? 0 : -1;
}

static int
fresh_jti(unsigned char jti[ASSERTION_JTI_BYTES], struct error *err)
{
	/* blocks only until the kernel's pool is first seeded, once per boot */
	if (getrandom(jti, ASSERTION_JTI_BYTES, 0) != ASSERTION_JTI_BYTES)
		return error_set(err, KB_EXIT_INTERNAL,
				 "no random bytes for the client assertion's jti — check that "
				 "getrandom(2) works here");
	return 0;
}

int
assertion_make(const struct profile *p, const char *credential, const char *origin,
	       const char *token_url, struct assertion *out, struct error *err)
{
	struct assertion_params in = {
		.client_id = p->client_id,
		.audience = p->assertion_audience != NULL ? p->assertion_audience : token_url,
		.issued_at = (long long)time(NULL),
	};
	struct signkey key = { 0 };
	char *kid = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (fresh_jti(in.jti, err) != 0)
		return -1;
	if (p->auth_method == AUTH_CLIENT_SECRET_JWT) {
		in.alg = SIGN_HS256;
		in.hmac_key = credential;
		in.kid = p->key_id;
		rc = assertion_encode(&in, out, err);
		goto out;
	}
	if (signkey_load_pem(credential, strlen(credential), origin, &key, err) != 0 ||
	    signkey_pick_alg(&key, p->signing_alg, p->name, &in.alg, err) != 0)
		goto out;
	if (assertion_key_id(p, &key, &kid) != 0) {
		out_of_memory(err);
		goto out;
	}
	in.key = &key;
	in.kid = kid;
	rc = assertion_encode(&in, out, err);
out:
	explicit_bzero(in.jti, sizeof(in.jti));
	free(kid);
	signkey_free(&key);
	return rc;
}

void
assertion_free(struct assertion *a)
{
	safefile_free_string(a->jwt);
	free(a->kid);
	memset(a, 0, sizeof(*a));
}
