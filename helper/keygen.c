#include "keygen.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "assertion.h"
#include "keyring.h"
#include "mtls.h"
#include "output.h"
#include "safefile.h"
#include "secret.h"
#include "signkey.h"

static int
usage(struct error *err, const char *what)
{
	return error_set(err, KB_EXIT_USAGE, "keygen arguments: %s — see keybearer keygen --help",
			 what);
}

/* The profile the key is for: it must name its client, as the keyring item does. */
static const struct profile *
key_profile(const struct config *cfg, const char *name, struct error *err)
{
	const struct profile *p = config_select(cfg, name, err);

	if (p == NULL || config_refuse_inheriting(p, "keygen",
						  "its key serves every profile that "
						  "inherits it",
						  err) != 0)
		return NULL;
	if (p->auth_method != AUTH_PRIVATE_KEY_JWT) {
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s does not use auth_method = private_key_jwt — set it in "
			  "[profile %s] (with token_url or issuer and client_id) first",
			  p->name, p->name);
		return NULL;
	}
	if (config_endpoint_identity(p) == NULL || p->client_id == NULL) {
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s has no token_url (or issuer) and client_id, which name its "
			  "key — set them in [profile %s] first",
			  p->name, p->name);
		return NULL;
	}
	return p;
}

/* A new file of mode 0600 that was not there (O_EXCL) and is no symlink's target. */
static int
write_new_file(const char *path, const char *pem, size_t len, struct error *err)
{
	/* as private_key = file: will read it: a directory others may change lets them swap it */
	static const struct safefile_rules parents = {
		.what = "key file",
		.code = KB_EXIT_IO,
		.check_parents = 1,
	};
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return error_set(err, KB_EXIT_IO, "cannot create the key file %s: %s — %s", path,
				 strerror(errno),
				 errno == EEXIST
					 ? "keygen never overwrites a key: remove it first, "
					   "or give another --out"
					 : "check the directory");
	/* checked once the file exists, and before the key is in it */
	if (safefile_check_parents(path, &parents, err) != 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	if (output_write_all(fd, pem, len) != 0 || fsync(fd) != 0) {
		error_set(err, KB_EXIT_IO, "cannot write the key file %s: %s — check the disk",
			  path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* The public half, ready to register: a JWK (kid, alg, use) and the PEM. */
static int
print_public(const struct signkey *k, const char *kid, enum sign_alg alg, struct error *err)
{
	char *jwk = signkey_public_jwk(k, alg, kid), *pem = signkey_public_pem(k);
	int rc = -1;

	if (jwk == NULL || pem == NULL)
		error_set(err, KB_EXIT_INTERNAL, "cannot write the public key — report this bug");
	else if (printf("%s\n%s", jwk, pem) < 0 || fflush(stdout) != 0)
		error_set(err, KB_EXIT_IO, "cannot write to stdout: %s", strerror(errno));
	else
		rc = 0;
	free(jwk);
	free(pem);
	return rc;
}

int
keygen_run(int argc, char **argv, struct error *err)
{
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "type", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *type = "ec", *out = NULL;
	const struct profile *p;
	struct signkey k = { 0 };
	struct config cfg;
	enum sign_alg alg;
	char *kid = NULL, *pem = NULL;
	size_t len = 0;
	int opt, rc = -1;

	opterr = 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, ":p:", options, NULL)) != -1) {
		if (opt == 'p')
			name = optarg;
		else if (opt == 't')
			type = optarg;
		else if (opt == 'o')
			out = optarg;
		else
			return usage(err, "unknown option or missing value");
	}
	if (optind != argc)
		return usage(err, "unexpected argument");
	if (config_load(&cfg, err) != 0)
		return -1;
	p = key_profile(&cfg, name, err);
	if (p == NULL)
		goto out;
	/* a profile that reads its key from a file gets it there */
	if (out == NULL && p->private_key_kind == SECRET_FILE)
		out = p->private_key_arg;
	if (out == NULL && p->private_key_kind != SECRET_KEYRING) {
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s takes its key from a command — give --out FILE, and have "
			  "the command print it",
			  p->name);
		goto out;
	}
	if (signkey_generate(type, &k, err) != 0 || signkey_private_pem(&k, &pem, &len, err) != 0 ||
	    signkey_pick_alg(&k, p->signing_alg, p->name, &alg, err) != 0)
		goto out;
	if (assertion_key_id(p, &k, &kid) != 0) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	if (out != NULL ? write_new_file(out, pem, len, err) != 0
			: keyring_store_item(p, CREDENTIAL_PRIVATE_KEY, pem, err) != 0)
		goto out;
	if (print_public(&k, kid, alg, err) != 0)
		goto out;
	fprintf(stderr,
		"keybearer: made an %s key for profile %s, kept in %s%s (kid %s): register the "
		"public key above with the provider for client %s\n",
		k.describe, p->name, out != NULL ? "file " : "the keyring", out != NULL ? out : "",
		kid, p->client_id);
	rc = 0;
out:
	if (pem != NULL)
		safefile_free_secret(pem, len + 1);
	free(kid);
	signkey_free(&k);
	config_free(&cfg);
	return rc;
}

/* The key of path, or of stdin for "-", into s (locked, wiped). */
static int
read_key(const struct profile *p, enum credential_item item, const char *path, struct secret *s,
	 struct error *err)
{
	struct credential_source src;
	char *buf;
	ssize_t n;
	int rc;

	credential_source_of(p, item, &src);
	if (strcmp(path, "-") != 0) {
		src.kind = SECRET_FILE;
		src.arg = path;
		return credential_resolve(p, &src, s, err);
	}
	buf = malloc(SECRET_MAX + 1);
	if (buf == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	mlock(buf, SECRET_MAX + 1);
	n = safefile_read_up_to(STDIN_FILENO, buf, SECRET_MAX + 1);
	rc = n < 0 ? error_set(err, KB_EXIT_IO, "cannot read stdin: %s", strerror(errno))
		   : credential_take(s, buf, (size_t)n, p, &src, "stdin", err);
	safefile_free_secret(buf, SECRET_MAX + 1);
	return rc;
}

int
keygen_store_existing(const struct profile *p, const char *path, struct error *err)
{
	struct secret s = { 0 };
	struct signkey k = { 0 };
	enum sign_alg alg;
	char *kid = NULL, origin[4200];
	int rc = -1;

	snprintf(origin, sizeof(origin), "%s%s", strcmp(path, "-") == 0 ? "" : "file ",
		 strcmp(path, "-") == 0 ? "stdin" : path);
	if (p->auth_method != AUTH_PRIVATE_KEY_JWT || p->private_key_kind != SECRET_KEYRING) {
		error_set(err, KB_EXIT_CONFIG,
			  "profile %s does not keep a private_key_jwt key in the keyring — set "
			  "auth_method = private_key_jwt (and no private_key line) in [profile %s]",
			  p->name, p->name);
		return -1;
	}
	if (read_key(p, CREDENTIAL_PRIVATE_KEY, path, &s, err) != 0 ||
	    signkey_load_pem(s.value, strlen(s.value), origin, &k, err) != 0 ||
	    signkey_pick_alg(&k, p->signing_alg, p->name, &alg, err) != 0)
		goto out;
	if (assertion_key_id(p, &k, &kid) != 0) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	if (keyring_store_item(p, CREDENTIAL_PRIVATE_KEY, s.value, err) != 0)
		goto out;
	fprintf(stderr,
		"keybearer: stored the %s private key of profile %s in the keyring (kid %s)\n",
		k.describe, p->name, kid);
	rc = 0;
out:
	free(kid);
	signkey_free(&k);
	secret_free(&s);
	return rc;
}

/* mutual-TLS client authentication: the key of client_cert, checked against it first */
int
keygen_store_client_key(const struct profile *p, const char *path, struct error *err)
{
	struct secret s = { 0 };
	int rc = -1;

	if (!config_auth_is_mtls(p->auth_method) || p->client_key_kind != SECRET_KEYRING)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s does not keep a client key in the keyring — set "
				 "auth_method = tls_client_auth (or self_signed_tls_client_auth), "
				 "client_cert, and no client_key line in [profile %s]",
				 p->name, p->name);
	if (read_key(p, CREDENTIAL_CLIENT_KEY, path, &s, err) != 0 ||
	    mtls_check_key(p, &s, err) != 0 ||
	    keyring_store_item(p, CREDENTIAL_CLIENT_KEY, s.value, err) != 0)
		goto out;
	fprintf(stderr,
		"keybearer: stored the client key of profile %s in the keyring (the key of %s)\n",
		p->name, p->client_cert);
	rc = 0;
out:
	secret_free(&s);
	return rc;
}

/* "KID<TAB>TYPE" of the profile's key, or "missing", "locked", "unreadable: why",
 * "not-checked" (a command is not run for status). */
int
keygen_key_status(int argc, char **argv, struct error *err)
{
	struct config cfg;
	const struct profile *p;
	struct credential_source src;
	struct secret s = { 0 };
	struct signkey k = { 0 };
	struct error key_err = { 0 };
	char *kid = NULL;

	if (argc != 4 || strcmp(argv[2], "--profile") != 0)
		return usage(err, "key-status --profile NAME");
	if (config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, argv[3], err);
	if (p == NULL) {
		config_free(&cfg);
		return -1;
	}
	credential_source_of(p, CREDENTIAL_PRIVATE_KEY, &src);
	if (src.kind == SECRET_COMMAND) {
		printf("not-checked\n");
	} else if (credential_resolve(p, &src, &s, &key_err) != 0 ||
		   signkey_load_pem(s.value, strlen(s.value), "its source", &k, &key_err) != 0 ||
		   assertion_key_id(p, &k, &kid) != 0) {
		const char *advice = strstr(key_err.message, " — ");
		printf("%s: %.*s\n",
		       strstr(key_err.message, "no private key stored") ? "missing" : "unreadable",
		       advice ? (int)(advice - key_err.message) : (int)strlen(key_err.message),
		       key_err.message);
	} else {
		printf("%s\t%s\n", kid, k.describe);
	}
	free(kid);
	signkey_free(&k);
	secret_free(&s);
	config_free(&cfg);
	return 0;
}
