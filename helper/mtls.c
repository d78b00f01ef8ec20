#include "mtls.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "safefile.h"
#include "signkey.h"

/* A passphrase would have to come from somewhere we could not keep it as safe: an encrypted
 * key is refused, not prompted for. */
static int
no_passphrase(char *buf, int size, int rwflag, void *user)
{
	(void)buf, (void)size, (void)rwflag, (void)user;
	return 0;
}

static X509 *
first_certificate(const char *pem, size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	return cert;
}

static int
cert_thumbprint(X509 *cert, char out[MTLS_THUMBPRINT_SIZE])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (X509_digest(cert, EVP_sha256(), digest, &len) != 1 || len != 32)
		return -1;
	signkey_base64url(digest, len, out);
	return 0;
}

int
mtls_thumbprint(const char *pem, size_t len, char out[MTLS_THUMBPRINT_SIZE])
{
	X509 *cert = first_certificate(pem, len);
	int rc = cert != NULL ? cert_thumbprint(cert, out) : -1;

	X509_free(cert);
	return rc;
}

/* The certificate is public, but whoever can change it (with its key) decides whom the
 * token endpoint takes us for: the rules of the config file and ca_file. */
static int
read_cert(const struct profile *p, struct mtls_credentials *m, struct error *err)
{
	static const struct safefile_rules rules = {
		.what = "client_cert file",
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 022,
		.max_size = MTLS_CERT_MAX,
		.code = KB_EXIT_CONFIG,
		.check_parents = 1,
	};
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = safefile_read(AT_FDCWD, p->client_cert, &rules, &text, &len, err);
	if (rc == 1)
		return error_set(err, KB_EXIT_CONFIG,
				 "client_cert file %s of profile %s does not exist — create it or "
				 "fix client_cert = file:",
				 p->client_cert, p->name);
	if (rc != 0)
		return -1;
	m->cert.size = len + 1;
	m->cert.value = text;
	safefile_identity(p->client_cert, "cert", m->cert.origin, sizeof(m->cert.origin));
	return 0;
}

/* client_cert read into m, and its first certificate (the leaf) parsed into *cert. */
static int
read_leaf(const struct profile *p, struct mtls_credentials *m, X509 **cert, struct error *err)
{
	if (read_cert(p, m, err) != 0)
		return -1;
	*cert = first_certificate(m->cert.value, m->cert.size - 1);
	if (*cert == NULL)
		return error_set(
			err, KB_EXIT_CONFIG,
			"client_cert file %s of profile %s holds no PEM certificate — give "
			"the certificate (-----BEGIN CERTIFICATE-----), then its chain",
			p->client_cert, p->name);
	return 0;
}

static int
check_validity(const struct profile *p, X509 *cert, struct error *err)
{
	if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "client_cert %s of profile %s has expired — renew the certificate",
				 p->client_cert, p->name);
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "client_cert %s of profile %s is not valid yet — check the clock, "
				 "or wait until it is",
				 p->client_cert, p->name);
	return 0;
}

/* Whether key (len bytes of PEM) is the private key of cert: MTLS_PAIR_OK, or why not. */
static int
key_of_cert(X509 *cert, const char *key, size_t len)
{
	BIO *bio;
	EVP_PKEY *pkey;
	int rc;

	signkey_secure_heap();
	bio = BIO_new_mem_buf(key, (int)len);
	pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	rc = pkey == NULL			       ? MTLS_PAIR_NO_KEY
	     : X509_check_private_key(cert, pkey) != 1 ? MTLS_PAIR_OTHER_KEY
						       : MTLS_PAIR_OK;

	/* OpenSSL wipes a private key's numbers as it frees them */
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

int
mtls_check_pair(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len)
{
	X509 *cert = first_certificate(cert_pem, cert_len);
	int rc = cert != NULL ? key_of_cert(cert, key_pem, key_len) : MTLS_PAIR_NO_CERT;

	X509_free(cert);
	return rc;
}

static int
check_key(const struct profile *p, X509 *cert, const struct secret *key, struct error *err)
{
	char source[4200];
	int pair = key_of_cert(cert, key->value, key->size - 1);

	config_describe_client_key_source(p, source, sizeof(source));
	if (pair == MTLS_PAIR_NO_KEY)
		return error_set(
			err, KB_EXIT_CONFIG,
			"the client key of profile %s (client_key = %s) is no unencrypted "
			"PEM private key — store the key itself (openssl pkey -in KEY -out "
			"PLAIN)",
			p->name, source);
	if (pair == MTLS_PAIR_OTHER_KEY)
		return error_set(err, KB_EXIT_CONFIG,
				 "the client key of profile %s (client_key = %s) is not the key of "
				 "client_cert %s — give the key the certificate was issued for",
				 p->name, source, p->client_cert);
	return 0;
}

int
mtls_load(const struct profile *p, struct mtls_credentials *m, struct error *err)
{
	X509 *cert = NULL;
	int rc = -1;

	memset(m, 0, sizeof(*m));
	if (read_leaf(p, m, &cert, err) != 0)
		goto out;
	if (check_validity(p, cert, err) != 0 || cert_thumbprint(cert, m->thumbprint) != 0 ||
	    secret_resolve_client_key(p, &m->key, err) != 0 ||
	    check_key(p, cert, &m->key, err) != 0)
		goto out;
	rc = 0;
out:
	X509_free(cert);
	if (rc != 0)
		mtls_free(m);
	return rc;
}

int
mtls_check_key(const struct profile *p, const struct secret *key, struct error *err)
{
	struct mtls_credentials m = { 0 };
	X509 *cert = NULL;
	int rc = -1;

	if (read_leaf(p, &m, &cert, err) == 0)
		rc = check_key(p, cert, key, err);
	X509_free(cert);
	mtls_free(&m);
	return rc;
}

void
mtls_free(struct mtls_credentials *m)
{
	secret_free(&m->cert);
	secret_free(&m->key);
	memset(m, 0, sizeof(*m));
}
