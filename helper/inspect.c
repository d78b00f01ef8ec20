/* keybearer inspect: the header and claims of the cached (or stdin) JWT, decoded, never
 * its signature; with --verify, keybearer-fetch checks it as a resource server would. */
#include "inspect.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "cli.h"
#include "config.h"
#include "jwt.h"
#include "obtain.h"
#include "output.h"
#include "safefile.h"

/* RFC 8705 section 3.1: a token bound to a client certificate names its thumbprint in
 * cnf; said apart from the claims, as a resource will ask for that certificate. */
static void
add_binding(struct json_object *report, struct json_object *claims)
{
	struct json_object *cnf, *thumbprint;

	if (json_object_object_get_ex(claims, "cnf", &cnf) &&
	    json_object_is_type(cnf, json_type_object) &&
	    json_object_object_get_ex(cnf, "x5t#S256", &thumbprint) &&
	    json_object_is_type(thumbprint, json_type_string))
		json_object_object_add(report, "bound_to_certificate",
				       json_object_new_string(json_object_get_string(thumbprint)));
}

static int
print_inspection(const char *token, const struct cache_record *cached, struct error *err)
{
	struct json_object *header, *claims, *report;
	char when[32], span[48];
	long long expires_at, left;
	time_t now = time(NULL);
	int rc;

	if (jwt_decode(token, &header, &claims) != 0)
		return error_set(err, KB_EXIT_DATA,
				 "the token is not a JWT (it is opaque: only its issuer can read "
				 "it) — nothing to inspect");
	report = json_object_new_object();
	json_object_object_add(report, "header", header);
	json_object_object_add(report, "claims", claims);
	add_binding(report, claims);
	if (cached != NULL)
		expires_at = cached->expires_at;
	else if (jwt_claim_time(claims, "exp", &expires_at) != 0)
		expires_at = 0;
	if (expires_at > 0) {
		left = expires_at - (long long)now;
		output_rfc3339(expires_at, when, sizeof(when));
		output_duration(left, span, sizeof(span));
		json_object_object_add(report, "expires_at", json_object_new_string(when));
		if (left > 0) {
			char phrase[64];
			snprintf(phrase, sizeof(phrase), "in %s", span);
			json_object_object_add(report, "expires", json_object_new_string(phrase));
		} else {
			char phrase[64];
			snprintf(phrase, sizeof(phrase), "expired %s ago", span);
			json_object_object_add(report, "expires", json_object_new_string(phrase));
		}
	} else {
		json_object_object_add(report, "expires", json_object_new_string("never (no exp)"));
	}
	rc = output_answer_json(report, err);
	json_object_put(report);
	return rc;
}

/* inspect --verify: keybearer-fetch checks the token, as it links libcurl and libcrypto.
 * The token reaches its stdin in a memory file (a pipe may hold as little as a page when
 * the user's pipe quota is spent), never its argv; returns only on failure. */
static int
verify_in_fetch(const struct cli_options *opts, const char *token, struct error *err)
{
	char *args[6] = { "verify" };
	size_t len = strlen(token);
	int fd, n = 1;

	fd = memfd_create("keybearer-token", MFD_CLOEXEC);
	if (fd < 0 || output_write_all(fd, token, len) != 0 || output_write_all(fd, "\n", 1) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, STDIN_FILENO) < 0) {
		error_set(err, KB_EXIT_INTERNAL, "cannot hand the token over: %s — retry",
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (opts->profile != NULL) {
		args[n++] = "--profile";
		args[n++] = (char *)opts->profile;
	}
	if (opts->audience != NULL) {
		args[n++] = "--audience";
		args[n++] = (char *)opts->audience;
	}
	args[n] = NULL;
	return obtain_exec_fetch("verify", n, args, err);
}

int
inspect_run(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	const struct profile *p;
	struct cache_record rec = { 0 };
	char *token = NULL;
	int rc;

	rc = cli_parse_options(argc, argv, "profile verify audience", &opts, err);
	if (rc != 0)
		return rc;
	if (opts.from_stdin) {
		if (cli_read_stdin_token(&token, err) != 0)
			return -1;
		rc = print_inspection(token, NULL, err);
		if (rc == 0 && opts.verify)
			rc = verify_in_fetch(&opts, token, err);
		safefile_free_string(token);
		return rc;
	}
	if (cli_load_profile(opts.profile, &cfg, &p, err) != 0)
		return -1;
	rc = cache_lookup(p, &rec, err);
	if (rc == 1)
		rc = error_set(err, KB_EXIT_NOINPUT,
			       "no cached token for profile %s — run keybearer get --profile %s "
			       "first",
			       p->name, p->name);
	if (rc == 0)
		rc = print_inspection(rec.access_token, &rec, err);
	if (rc == 0 && opts.verify) {
		opts.profile = p->name; /* the profile selected here, not chosen again */
		rc = verify_in_fetch(&opts, rec.access_token, err);
	}
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}
