/* libFuzzer: a private key as PEM text (what private_key = file:, the keyring or login
 * --private-key hand over), and everything done with a key once it loads: the algorithm
 * pick, the RFC 7638 thumbprint, the public JWK and PEM keygen prints, the private PKCS#8
 * PEM it stores, and a signature of a fixed input. A refused key must say so with exit 78
 * and never show the key's own text; a loaded one must give a 43-character thumbprint, a
 * JWK that starts with its canonical members and names it, and a signature of the
 * algorithm's size. */
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safefile.h"
#include "signkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIGNED_INPUT "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJmdXp6In0"

/* The key's base64 body (its first line after BEGIN) must not reach a message. */
static void
check_message_hides_key(const char *pem, size_t len, const char *message)
{
	const char *begin = memmem(pem, len, "-----\n", 6), *end;
	size_t body;

	if (begin == NULL)
		return;
	begin += 6;
	end = memchr(begin, '\n', len - (size_t)(begin - pem));
	body = end != NULL ? (size_t)(end - begin) : len - (size_t)(begin - pem);
	if (body >= 24 && memmem(message, strlen(message), begin, 24) != NULL)
		abort();
}

static void
use_key(const struct signkey *k, const char *configured)
{
	static const size_t sizes[] = { [SIGN_ES256] = 64, [SIGN_EDDSA] = 64 };
	char thumbprint[SIGNKEY_THUMBPRINT_LEN + 1], *jwk, *pub, *priv = NULL;
	unsigned char sig[SIGNKEY_SIGNATURE_MAX];
	size_t sig_len = 0, priv_len = 0;
	struct error err = { 0 };
	enum sign_alg alg;

	if (signkey_pick_alg(k, configured, "fuzz", &alg, &err) != 0) {
		if (err.code != KB_EXIT_CONFIG || configured == NULL)
			abort();
		return;
	}
	if (signkey_thumbprint(k, thumbprint) != 0 || strlen(thumbprint) != SIGNKEY_THUMBPRINT_LEN)
		abort();
	jwk = signkey_public_jwk(k, alg, thumbprint);
	pub = signkey_public_pem(k);
	if (jwk == NULL || pub == NULL || strstr(jwk, thumbprint) == NULL ||
	    strncmp(pub, "-----BEGIN PUBLIC KEY-----\n", 27) != 0 || strstr(pub, "PRIVATE") != NULL)
		abort();
	free(jwk);
	free(pub);
	if (signkey_private_pem(k, &priv, &priv_len, &err) != 0 ||
	    strncmp(priv, "-----BEGIN PRIVATE KEY-----\n", 28) != 0)
		abort();
	safefile_free_secret(priv, priv_len + 1);
	if (signkey_sign(k, alg, NULL, SIGNED_INPUT, strlen(SIGNED_INPUT), sig, &sig_len, &err) !=
		    0 ||
	    sig_len == 0 || sig_len > SIGNKEY_SIGNATURE_MAX)
		abort();
	if (alg == SIGN_ES256 || alg == SIGN_EDDSA ? sig_len != sizes[alg]
						   : sig_len != (size_t)(k->bits + 7) / 8)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const configured[] = { NULL,	   "RS256", "PS256", "ES256",
						  "EdDSA", "HS256", "none" };
	struct signkey k;
	struct error err = { 0 };

	if (size == 0)
		return 0;
	if (signkey_load_pem((const char *)data + 1, size - 1, "fuzz", &k, &err) != 0) {
		if (err.code != KB_EXIT_CONFIG || k.pkey != NULL)
			abort();
		check_message_hides_key((const char *)data + 1, size - 1, err.message);
		return 0;
	}
	use_key(&k, configured[data[0] % (sizeof(configured) / sizeof(configured[0]))]);
	signkey_free(&k);
	return 0;
}
