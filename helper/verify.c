#include "verify.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "discovery.h"
#include "http.h"
#include "jwks.h"
#include "jwt.h"
#include "output.h"
#include "safefile.h"
#include "strictjson.h"
#include "token.h"

#define VERIFY_LEEWAY 60 /* seconds of clock difference forgiven for nbf */

struct verify_job {
	const char *profile_name;
	const char *audience; /* NULL: the profile's audience, else its resource */
};

/* The JWKS the profile names: jwks_url, else its issuer's jwks_uri. */
static int
jwks_location(const struct profile *p, char **url, struct error *err)
{
	struct discovery d;

	if (p->jwks_url != NULL) {
		*url = strdup(p->jwks_url);
		return *url != NULL ? 0 : error_set(err, KB_EXIT_INTERNAL, "out of memory");
	}
	if (p->issuer == NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s names no keys to verify with — set jwks_url, or "
				 "issuer for OIDC discovery, in [profile %s]",
				 p->name, p->name);
	if (discovery_load(p, &d, err) != 0)
		return -1;
	if (d.jwks_uri == NULL) {
		discovery_free(&d);
		return error_set(err, KB_EXIT_CONFIG,
				 "the discovery document of %s names no jwks_uri — set jwks_url "
				 "in [profile %s]",
				 p->issuer, p->name);
	}
	*url = d.jwks_uri;
	d.jwks_uri = NULL;
	discovery_free(&d);
	return 0;
}

/* Whether a JSON string is exactly want: compared by length, so an embedded \u0000 does
 * not pass for the end of the string. */
static int
json_string_is(struct json_object *value, const char *want)
{
	size_t len = strlen(want);

	return json_object_is_type(value, json_type_string) &&
	       (size_t)json_object_get_string_len(value) == len &&
	       memcmp(json_object_get_string(value), want, len) == 0;
}

/* Whether aud (a string or an array of strings) holds want. */
static int
audience_holds(struct json_object *aud, const char *want)
{
	size_t i;

	if (json_object_is_type(aud, json_type_string))
		return json_string_is(aud, want);
	if (!json_object_is_type(aud, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(aud); i++) {
		if (json_string_is(json_object_array_get_idx(aud, i), want))
			return 1;
	}
	return 0;
}

/* The claims a genuine token must also get right: time, issuer, audience. */
static int
check_claims(const struct profile *p, const char *token, const char *audience, char *summary,
	     size_t size, struct error *err)
{
	struct json_object *header = NULL, *claims = NULL, *aud;
	struct json_object *iss_claim = NULL;
	const char *iss;
	long long exp, nbf, now = (long long)time(NULL);
	char span[48];
	int rc = -1;

	if (jwt_decode(token, &header, &claims) != 0)
		return error_set(err, KB_EXIT_DATA, "the token is not a JWT — nothing to verify");
	if (jwt_claim_time(claims, "exp", &exp) != 0) {
		error_set(err, KB_EXIT_REJECTED,
			  "token verification failed: the token has no exp — it never expires, "
			  "which a resource server should refuse");
		goto out;
	}
	if (exp <= now) {
		output_duration(now - exp, span, sizeof(span));
		error_set(err, KB_EXIT_REJECTED,
			  "token verification failed: expired %s ago — run keybearer get for a "
			  "fresh one",
			  span);
		goto out;
	}
	if (jwt_claim_time(claims, "nbf", &nbf) == 0 && nbf > now + VERIFY_LEEWAY) {
		error_set(err, KB_EXIT_REJECTED,
			  "token verification failed: not valid for another %lld s (nbf) — check "
			  "the clocks of this machine and the issuer",
			  nbf - now);
		goto out;
	}
	iss = strictjson_get_string(claims, "iss");
	json_object_object_get_ex(claims, "iss", &iss_claim);
	if (p->issuer != NULL && !json_string_is(iss_claim, p->issuer)) {
		error_set(err, KB_EXIT_REJECTED,
			  "token verification failed: issued by \"%.200s\", not by the profile's "
			  "issuer %s — check issuer in [profile %s]",
			  iss != NULL ? iss : "(no iss)", p->issuer, p->name);
		goto out;
	}
	if (audience != NULL) {
		if (!json_object_object_get_ex(claims, "aud", &aud) ||
		    !audience_holds(aud, audience)) {
			error_set(err, KB_EXIT_REJECTED,
				  "token verification failed: wrong audience: the token is for "
				  "%.300s, not %s — check audience or resource in [profile %s]",
				  json_object_object_get_ex(claims, "aud", &aud)
					  ? json_object_to_json_string_ext(
						    aud, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE)
					  : "no audience (no aud)",
				  audience, p->name);
			goto out;
		}
	}
	output_duration(exp - now, span, sizeof(span));
	snprintf(summary, size, "expires in %s; audience %s; issuer %s", span,
		 audience != NULL ? audience : "not checked (none expected)",
		 p->issuer != NULL ? p->issuer : "not checked (the profile names none)");
	rc = 0;
out:
	json_object_put(header);
	json_object_put(claims);
	return rc;
}

static int
verify_token(const struct profile *p, const char *token, const char *audience, struct error *err)
{
	struct http_target target = { NULL, "JWKS", "jwks_url or issuer", NULL };
	struct http_response resp = { 0 };
	struct jwks_result key;
	char *url = NULL, summary[1024], *line = NULL;
	int rc = -1;

	if (jwks_location(p, &url, err) != 0)
		goto out;
	target.url = url;
	if (http_get_document(p, &target, &resp, err) != 0)
		goto out;
	if (jwks_verify(resp.body, resp.body_len, token, &key, err) != 0) {
		char why[ERROR_MESSAGE_MAX];
		enum exit_code code = err->code;
		snprintf(why, sizeof(why), "%s", err->message);
		memset(err, 0, sizeof(*err));
		error_set(err, code, "token verification failed with the keys of %s: %s", url, why);
		goto out;
	}
	if (check_claims(p, token, audience, summary, sizeof(summary), err) != 0)
		goto out;
	if (asprintf(&line, "verified: %s signature by key %s of %s; %s\n", key.alg,
		     key.kid[0] ? key.kid : "(no kid)", url, summary) < 0) {
		line = NULL;
		error_set(err, KB_EXIT_INTERNAL, "out of memory");
		goto out;
	}
	rc = output_answer(line, err);
out:
	free(line);
	free(url);
	http_response_free(&resp);
	return rc;
}

/* The token on stdin, as keybearer's inspect hands it over (never in argv). */
static int
read_token(char **token, struct error *err)
{
	char *buf = malloc(TOKEN_MAX_LENGTH + 3);
	ssize_t n;

	if (buf == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory");
	n = safefile_read_up_to(STDIN_FILENO, buf, TOKEN_MAX_LENGTH + 2); /* and its newline */
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n <= 0 || n > TOKEN_MAX_LENGTH) {
		free(buf);
		return error_set(err, KB_EXIT_NOINPUT,
				 "no token of at most %d bytes on stdin — run keybearer inspect "
				 "--verify",
				 TOKEN_MAX_LENGTH);
	}
	buf[n] = '\0';
	*token = buf;
	return 0;
}

int
verify_run(int argc, char **argv, struct error *err)
{
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "audience", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_job job = { NULL, NULL };
	const struct profile *p;
	struct config cfg;
	char *token = NULL;
	int opt, rc = -1;

	opterr = 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (opt == 'p')
			job.profile_name = optarg;
		else if (opt == 'a')
			job.audience = optarg;
		else
			return error_set(err, KB_EXIT_USAGE,
					 "unknown option — keybearer-fetch verify is run by "
					 "keybearer inspect --verify");
	}
	if (config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, job.profile_name, err);
	if (p != NULL && read_token(&token, err) == 0) {
		if (job.audience == NULL)
			job.audience = p->audience != NULL ? p->audience : p->resource;
		rc = verify_token(p, token, job.audience, err);
	}
	safefile_free_string(token);
	config_free(&cfg);
	return rc;
}
