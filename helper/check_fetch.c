/* keybearer-fetch check --profile NAME: the half of keybearer check that needs the secret.
 * Under the profile's lock, as every mint: the issuer's discovery document, the secret
 * (resolved, never shown), one token request that bypasses the cache — also while a
 * recorded failure holds everyone else off, which it says — and the new token written to
 * the cache. A failure is recorded as a mint's would be, so other callers give the same
 * answer; a success clears the record. Then the token's expiry and claims (never the token
 * or its signature). */
#include "check.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache.h"
#include "checkstep.h"
#include "config.h"
#include "discovery.h"
#include "fetch.h"
#include "http.h"
#include "jwt.h"
#include "lockstate.h"
#include "monotonic.h"
#include "mtls.h"
#include "output.h"
#include "secret.h"
#include "credentials.h"

#define CLAIM_SHOWN_MAX 120 /* of each claim's value, on a report line */

/* What a check holds while it runs. */
struct check_job {
	struct profile *p;
	struct cache c;
	int lock_fd;
	struct lockstate st;
	char profile_fp[65];
	struct credentials creds;
	struct cache_record fresh;
};

static int
take_lock(struct check_job *job, struct error *err)
{
	struct checkstep step;
	struct cache_clock now;
	long long holds;

	checkstep_start(&step, "lock");
	if (cache_open(&job->c, job->p, 1, err) != 0)
		return checkstep_fail(&step, err);
	job->lock_fd = cache_lock(&job->c, job->p->name, cache_lock_wait(job->p), err);
	if (job->lock_fd < 0)
		return checkstep_fail(&step, err);
	checkstep_ok(&step, "the lock of profile %s, %s/%s", job->p->name, job->c.dir,
		     job->c.lock_name);
	lockstate_read(&job->c, job->lock_fd, &job->st);
	cache_clock_now(&now);
	holds = lockstate_failure_holds(&job->st.failure, &now, job->profile_fp);
	if (holds > 0 && job->st.failure.source != LOCKSTATE_CACHE)
		checkstep_note("hold",
			       "%s failed %lld s ago (%s); every other caller waits %lld s more, "
			       "but check mints once now, as you asked",
			       lockstate_source_name(job->st.failure.source),
			       now.wall - job->st.failure.failed_at, job->st.failure.message,
			       holds);
	return 0;
}

/* A failed step under the lock is recorded as a mint's failure would be. */
static int
fail_recorded(struct check_job *job, const struct checkstep *step, enum lockstate_source source,
	      int retry_after, struct error *err)
{
	fetch_record_failure(&job->c, job->lock_fd, &job->st, job->profile_fp, source, err,
			     retry_after,
			     job->creds.identity.value != NULL ? &job->creds.identity : NULL);
	return checkstep_fail(step, err);
}

static int
discover(struct check_job *job, struct error *err)
{
	struct checkstep step;

	if (job->p->token_url != NULL)
		return 0;
	checkstep_start(&step, "discovery");
	if (discovery_resolve_token_url(job->p, err) != 0)
		return fail_recorded(job, &step, LOCKSTATE_DISCOVERY, -1, err);
	checkstep_ok(&step, "the token endpoint of issuer %s is %s", job->p->issuer,
		     job->p->token_url);
	return 0;
}

static int
resolve_secret(struct check_job *job, struct error *err)
{
	struct checkstep step;
	char source[4200];
	enum lockstate_source where = LOCKSTATE_ENDPOINT;
	int retry_after = -1;

	checkstep_start(&step, config_auth_is_mtls(job->p->auth_method)	     ? "certificate"
			       : job->p->auth_method == AUTH_PRIVATE_KEY_JWT ? "private key"
									     : "secret");
	if (config_uses_secret(job->p)) {
		config_describe_secret_source(job->p, source, sizeof(source));
	} else {
		/* what stands in for the secret: a private key, a certificate, an assertion */
		credentials_describe(job->p, source, sizeof(source));
	}
	if (credentials_read(job->p, &job->creds, &where, err) != 0)
		return fail_recorded(job, &step, where, -1, err);
	if (credentials_fetch(job->p, &job->creds, &retry_after, err) != 0)
		return fail_recorded(job, &step, LOCKSTATE_ID_TOKEN, retry_after, err);
	if (job->creds.mtls.cert.value != NULL) {
		config_describe_client_key_source(job->p, source, sizeof(source));
		checkstep_ok(&step, "%s (x5t#S256 %s), its key from %s (not shown)",
			     job->p->client_cert, job->creds.mtls.thumbprint, source);
		return 0;
	}
	checkstep_ok(&step, "read from %s (not shown)", source);
	return 0;
}

/* One attempt, no retries: what the endpoint says now is what the doctor reports. */
static int
mint_once(struct check_job *job, struct error *err)
{
	struct token_result result = { 0 };
	struct token_credentials view;
	struct checkstep step;
	struct cache_clock now;
	int retry_after = -1;

	checkstep_start(&step, "mint");
	credentials_view(&job->creds, &view);
	if (http_mint(job->p, &view, monotonic_ms() + (long long)job->p->timeout * 1000, &result,
		      &retry_after, err) != 0) {
		token_result_free(&result);
		return fail_recorded(job, &step, LOCKSTATE_ENDPOINT, retry_after, err);
	}
	job->fresh.access_token = result.access_token;
	job->fresh.obtained_at = result.obtained_at;
	job->fresh.expires_at = result.expires_at;
	result.access_token = NULL;
	token_result_free(&result);
	cache_clock_now(&now);
	cache_record_stamp(&job->fresh, &now);
	checkstep_ok(&step, "a new token from %s, for %lld s", job->p->token_url,
		     job->fresh.expires_at - job->fresh.obtained_at);
	return 0;
}

static int
store(struct check_job *job, struct error *err)
{
	struct checkstep step;

	checkstep_start(&step, "store");
	if (cache_write(&job->c, &job->fresh, err) != 0)
		return checkstep_fail(&step, err);
	/* the cache holds a new token: a failure recorded before no longer answers anyone */
	if (job->st.failure.failed_at > 0 || job->st.spare.access_token != NULL) {
		cache_record_free(&job->st.spare);
		memset(&job->st.failure, 0, sizeof(job->st.failure));
		lockstate_write(&job->c, job->lock_fd, &job->st);
	}
	checkstep_ok(&step, "written to %s/%s", job->c.dir, job->c.file_name);
	return 0;
}

/* "; NAME VALUE" for a claim that is there, its value made printable. */
static void
add_claim(char *out, size_t size, struct json_object *claims, const char *name)
{
	struct json_object *value;
	char shown[CLAIM_SHOWN_MAX + 8];
	size_t used = strlen(out);

	if (!json_object_object_get_ex(claims, name, &value) || value == NULL)
		return;
	checkstep_printable(json_object_is_type(value, json_type_string)
				    ? json_object_get_string(value)
				    : json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN),
			    CLAIM_SHOWN_MAX, shown, sizeof(shown));
	snprintf(out + used, size - used, "; %s %s", name, shown);
}

/* The token's expiry and, for a JWT, its algorithm and the claims that say whose and for
 * what it is; never the token, never the signature. */
static void
describe_token(const struct check_job *job)
{
	static const char *const shown[] = { "iss", "sub", "aud", "scope", "client_id", "azp" };
	struct json_object *header, *claims, *alg_value;
	struct checkstep step;
	char when[32], left[48], alg[40], said[1200] = "";
	size_t i;

	checkstep_start(&step, "token");
	output_rfc3339(job->fresh.expires_at, when, sizeof(when));
	output_duration(job->fresh.expires_at - job->fresh.obtained_at, left, sizeof(left));
	if (jwt_decode(job->fresh.access_token, &header, &claims) != 0) {
		checkstep_ok(&step,
			     "opaque (not a JWT: only its issuer can read it); expires %s, "
			     "in %s",
			     when, left);
		return;
	}
	alg_value = json_object_object_get(header, "alg");
	checkstep_printable(json_object_is_type(alg_value, json_type_string)
				    ? json_object_get_string(alg_value)
				    : "",
			    32, alg, sizeof(alg));
	for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		add_claim(said, sizeof(said), claims, shown[i]);
	checkstep_ok(&step,
		     "a JWT signed %s (not verified here: keybearer inspect --verify); "
		     "expires %s, in %s%s",
		     alg[0] != '\0' ? alg : "(no alg)", when, left, said);
	json_object_put(header);
	json_object_put(claims);
}

static int
run(struct check_job *job, struct error *err)
{
	if (take_lock(job, err) != 0 || discover(job, err) != 0 || resolve_secret(job, err) != 0 ||
	    mint_once(job, err) != 0 || store(job, err) != 0)
		return -1;
	close(job->lock_fd);
	job->lock_fd = -1;
	describe_token(job);
	checkstep_passed("profile %s mints tokens, and the cache holds the new one", job->p->name);
	return 0;
}

int
check_fetch_run(int argc, char **argv, struct error *err)
{
	struct check_job job = { .c = { .dirfd = -1 }, .lock_fd = -1 };
	struct checkstep step;
	struct config cfg;
	int rc = -1;

	if (argc != 4 || strcmp(argv[2], "--profile") != 0)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer-fetch check takes --profile NAME — keybearer check "
				 "runs it");
	checkstep_start(&step, "profile");
	if (config_load(&cfg, err) != 0)
		return checkstep_fail(&step, err);
	/* the config is our own: discovery fills in an issuer's token endpoint */
	job.p = (struct profile *)config_select(&cfg, argv[3], err);
	if (job.p == NULL || config_check_mintable(&cfg, job.p, err) != 0) {
		checkstep_fail(&step, err);
		goto out;
	}
	/* A secret command runs as our child: it sees no secret variable but the profile's. */
	config_scrub_secret_variables(&cfg, job.p);
	cache_profile_fingerprint(job.p, job.profile_fp); /* before discovery, as a mint */
	rc = run(&job, err);
out:
	if (job.lock_fd >= 0)
		close(job.lock_fd);
	lockstate_free(&job.st);
	credentials_free(&job.creds);
	cache_record_free(&job.fresh);
	cache_close(&job.c);
	config_free(&cfg);
	return rc;
}
