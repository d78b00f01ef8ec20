#include "external.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backoff.h"
#include "http.h"
#include "jwt.h"
#include "monotonic.h"
#include "notice.h"
#include "safefile.h"
#include "strictjson.h"

#define EXCERPT_MAX 120
/* No attempt at the ID-token endpoint starts with less than this left. */
#define RETRY_MIN_ATTEMPT_MS 1000

void
external_use_assertion(const struct profile *p, struct external_use *use)
{
	use->what = "assertion";
	use->key = "assertion";
	use->source = &p->assertion;
	use->must_be_jwt = 1; /* client_assertion_type jwt-bearer */
}

void
external_use_subject_token(const struct profile *p, struct external_use *use)
{
	const char *type = config_subject_token_type(p);

	use->what = "subject token";
	use->key = "subject_token";
	use->source = &p->subject_token;
	/* an access_token may be opaque; a jwt or id_token says what it is */
	use->must_be_jwt =
		strcmp(type, TOKEN_TYPE_JWT) == 0 || strcmp(type, TOKEN_TYPE_ID_TOKEN) == 0;
}

const char *
assertion_github_audience(const struct profile *p)
{
	return p->assertion_audience != NULL ? p->assertion_audience : p->token_url;
}

/* The advice that ends a "missing" message: where such a token usually comes from. */
static const char *
where_to_get(const struct token_source *src)
{
	switch (src->kind) {
	case TOKEN_SOURCE_ENV:
		return "export it (in GitLab CI, declare it under the job's id_tokens:)";
	case TOKEN_SOURCE_FILE:
		return "check the path (in Kubernetes, the pod's projected serviceAccountToken "
		       "volume and its mountPath)";
	default:
		return "check where it comes from";
	}
}

static int
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

int
external_token_check(const char *token, size_t len, const struct external_use *use,
		     const struct profile *p, const char *origin, time_t now, struct error *err)
{
	struct json_object *header = NULL, *claims = NULL;
	long long exp, nbf;
	size_t i;
	int rc = -1;

	if (len == 0)
		return error_set(err, KB_EXIT_CONFIG, "the %s of profile %s from %s is empty — %s",
				 use->what, p->name, origin, where_to_get(use->source));
	if (len > ASSERTION_MAX)
		return error_set(err, KB_EXIT_CONFIG,
				 "the %s of profile %s from %s is longer than %d bytes — check "
				 "what %s holds",
				 use->what, p->name, origin, ASSERTION_MAX, origin);
	for (i = 0; i < len; i++) {
		if (!is_token_char(token[i]))
			return error_set(err, KB_EXIT_CONFIG,
					 "the %s of profile %s from %s has a character no token "
					 "has (at byte %zu) — check what %s holds",
					 use->what, p->name, origin, i + 1, origin);
	}
	if (!use->must_be_jwt)
		return 0;
	/* jwt_decode wants a string of its own: token is NUL-terminated by every caller */
	if (token[len] != '\0' || jwt_decode(token, &header, &claims) != 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "the %s of profile %s from %s is not a JWT — check what %s "
				 "holds",
				 use->what, p->name, origin, origin);
	/* a token that is not valid yet would only be refused, with a vaguer message */
	if (jwt_claim_time(claims, "nbf", &nbf) == 0 &&
	    nbf - (long long)now > ASSERTION_EXPIRY_SKEW) {
		error_set(err, KB_EXIT_CONFIG,
			  "the %s of profile %s from %s is not valid yet (nbf %lld s from now) — "
			  "check this machine's clock, or what issues %s",
			  use->what, p->name, origin, nbf - (long long)now, origin);
		goto out;
	}
	if (jwt_claim_time(claims, "exp", &exp) != 0) {
		/* RFC 7523 requires exp; without one the issuer alone knows: it decides */
		rc = 0;
		goto out;
	}
	if (exp <= (long long)now) {
		error_set(err, KB_EXIT_CONFIG,
			  "the %s of profile %s from %s expired %lld s ago — it must be fresh at "
			  "every mint: check what renews %s",
			  use->what, p->name, origin, (long long)now - exp, origin);
		goto out;
	}
	if (exp - (long long)now < ASSERTION_EXPIRY_SKEW) {
		error_set(err, KB_EXIT_CONFIG,
			  "the %s of profile %s from %s expires in %lld s, too soon to be sent "
			  "(keybearer wants %d s) — check what renews %s",
			  use->what, p->name, origin, exp - (long long)now, ASSERTION_EXPIRY_SKEW,
			  origin);
		goto out;
	}
	rc = 0;
out:
	json_object_put(header);
	json_object_put(claims);
	return rc;
}

/* Copies the token into out, locked and wiped like a secret, after checking it. */
static int
take(const struct profile *p, const struct external_use *use, const char *token, size_t len,
     const char *origin, struct secret *out, struct error *err)
{
	if (external_token_check(token, len, use, p, origin, time(NULL), err) != 0)
		return -1;
	out->size = len + 1;
	out->value = malloc(out->size);
	if (out->value == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	mlock(out->value, out->size);
	memcpy(out->value, token, len);
	out->value[len] = '\0';
	return 0;
}

static int
read_variable(const struct profile *p, const struct external_use *use, struct secret *out,
	      struct error *err)
{
	const char *name = use->source->arg, *value = getenv(name);
	char origin[160];

	if (value == NULL || *value == '\0')
		return error_set(err, KB_EXIT_CONFIG,
				 "no %s for profile %s: environment variable %s is not set — %s",
				 use->what, p->name, name, where_to_get(use->source));
	snprintf(origin, sizeof(origin), "environment variable %s", name);
	if (take(p, use, value, strlen(value), origin, out, err) != 0)
		return -1;
	snprintf(out->origin, sizeof(out->origin), "env %s", name);
	return 0;
}

/* A projected service-account token as the kubelet writes it: the path is a link to
 * ..data/NAME, ..data a link to a fresh directory that it swaps in one rename, all
 * root's, the file 0644 (0600 and the pod's user with runAsUser). Read anew each time, the
 * link is followed at open, so a rotation shows whole. What others could write — the file,
 * a directory on the way — could hand us their identity: refused. */
static int
read_file(const struct profile *p, const struct external_use *use, struct secret *out,
	  struct error *err)
{
	static const struct safefile_rules rules = {
		.what = "token file",
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 022,
		.max_size = ASSERTION_MAX + 2,
		.code = KB_EXIT_CONFIG,
		.check_parents = 1,
	};
	const char *path = use->source->arg;
	char *text = NULL, origin[4200];
	size_t len = 0;
	int rc;

	rc = safefile_read(AT_FDCWD, path, &rules, &text, &len, err);
	if (rc == 1)
		return error_set(err, KB_EXIT_CONFIG,
				 "no %s for profile %s: file %s does not exist — %s", use->what,
				 p->name, path, where_to_get(use->source));
	if (rc != 0)
		return -1;
	snprintf(origin, sizeof(origin), "file %s", path);
	/* a token file may end in a newline that is no part of the token */
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	rc = take(p, use, text, len, origin, out, err);
	safefile_free_secret(text, len + 1);
	/* which file it was: a rotated one is another, whatever the clock */
	if (rc == 0)
		safefile_identity(path, "token file", out->origin, sizeof(out->origin));
	return rc;
}

static int
run_command(const struct profile *p, const struct external_use *use, struct secret *out,
	    struct error *err)
{
	size_t cap = ASSERTION_MAX + 2, len = 0;
	char *buf = malloc(cap + 1), what[64], origin[64];
	int rc = -1;

	if (buf == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	memset(buf, 0, cap + 1);
	mlock(buf, cap + 1);
	snprintf(what, sizeof(what), "%s command", use->what);
	snprintf(origin, sizeof(origin), "its %s command", use->what);
	if (secret_command_line(p, use->source->arg, what, buf, cap, &len, err) == 0) {
		buf[len] = '\0';
		rc = take(p, use, buf, len, origin, out, err);
	}
	explicit_bzero(buf, cap + 1);
	munlock(buf, cap + 1);
	free(buf);
	return rc;
}

int
external_token_read(const struct profile *p, const struct external_use *use, struct secret *out,
		    struct error *err)
{
	memset(out, 0, sizeof(*out));
	switch (use->source->kind) {
	case TOKEN_SOURCE_ENV:
		return read_variable(p, use, out, err);
	case TOKEN_SOURCE_FILE:
		return read_file(p, use, out, err);
	case TOKEN_SOURCE_COMMAND:
		return run_command(p, use, out, err);
	case TOKEN_SOURCE_GITHUB_ACTIONS:
		/* the same job, the same audience: the same identity, whatever bytes come */
		snprintf(out->origin, sizeof(out->origin), "github-actions %.140s",
			 assertion_github_audience(p) != NULL ? assertion_github_audience(p) : "");
		return 1;
	case TOKEN_SOURCE_NONE:
		break;
	}
	return error_set(err, KB_EXIT_INTERNAL, "no %s source — report this bug", use->what);
}

/* base64url's alphabet and the dots between a JWS's three parts (RFC 7515, 3.1 and 2:
 * no padding) */
static int
is_jwt_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static int
is_jwt(const char *token)
{
	struct json_object *header = NULL, *claims = NULL;
	int rc = jwt_decode(token, &header, &claims);

	json_object_put(header);
	json_object_put(claims);
	return rc == 0;
}

int
github_reply_parse(const struct token_reply *reply, const struct redaction *redaction,
		   const struct external_use *use, char **value, struct error *err)
{
	struct json_object *obj = NULL, *member;
	char excerpt[EXCERPT_MAX + 1];
	const char *token;
	size_t len, i;
	int rc = -1;

	(void)use;
	*value = NULL;
	token_excerpt(reply->body, reply->body_len, redaction, excerpt, sizeof(excerpt));
	if (reply->status == 429 || reply->status == 408 || reply->status >= 500)
		return error_set(err, KB_EXIT_TRANSIENT,
				 "the CI's ID-token endpoint failed (HTTP %ld): \"%s\" — try again "
				 "later",
				 reply->status, excerpt);
	if (reply->status == 401 || reply->status == 403)
		return error_set(err, KB_EXIT_REJECTED,
				 "the CI's ID-token endpoint refused %s (HTTP %ld): \"%s\" — in "
				 "GitHub Actions give the job `permissions: id-token: write`; the "
				 "request token lives only as long as the job",
				 GITHUB_REQUEST_TOKEN_VARIABLE, reply->status, excerpt);
	if (reply->status != 200)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the CI's ID-token endpoint answered HTTP %ld: \"%s\" — check %s",
				 reply->status, excerpt, GITHUB_REQUEST_URL_VARIABLE);
	obj = strictjson_parse(reply->body, reply->body_len);
	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "value", &member) ||
	    !json_object_is_type(member, json_type_string)) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "the CI's ID-token endpoint's reply is no JSON object with a \"value\": "
			  "\"%s\" — check %s",
			  excerpt, GITHUB_REQUEST_URL_VARIABLE);
		goto out;
	}
	token = json_object_get_string(member);
	len = (size_t)json_object_get_string_len(member);
	/* a JWT is base64url and dots: anything else (a '=' of padding, say) is no ID token */
	for (i = 0; i < len && is_jwt_char(token[i]); i++)
		;
	if (len == 0 || len > ASSERTION_MAX || i != len || !is_jwt(token)) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "the CI's ID-token endpoint sent a \"value\" that is no JWT of at most "
			  "%d bytes — check %s",
			  ASSERTION_MAX, GITHUB_REQUEST_URL_VARIABLE);
		goto out;
	}
	*value = strdup(token);
	if (*value == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	rc = 0;
out:
	json_object_put(obj);
	return rc;
}

/* A query value as RFC 3986 3.4 lets it stand: pchar, '/' and '?' as they are, but '&',
 * '=', '+', '#' and '%' (which would end or change it) and all else as %XX. The URL
 * rules refuse an encoded slash or dot anywhere (url.h): an audience is usually a URL. */
static char *
query_encode(const char *value)
{
	static const char keep[] = "-._~!$'()*,;:@/?";
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(value), i, n = 0;
	char *out = malloc(len * 3 + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr(keep, c) != NULL)) {
			out[n++] = (char)c;
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return out;
}

/* $ACTIONS_ID_TOKEN_REQUEST_URL with &audience= (or ?audience=). */
static char *
github_request_url(const char *base, const char *audience)
{
	char *encoded = audience != NULL ? query_encode(audience) : NULL, *url;
	size_t len;

	if (audience != NULL && encoded == NULL)
		return NULL;
	len = strlen(base) + (encoded != NULL ? strlen(encoded) : 0) + sizeof("&audience=");
	url = malloc(len);
	if (url != NULL && encoded != NULL)
		snprintf(url, len, "%s%caudience=%s", base, strchr(base, '?') ? '&' : '?', encoded);
	else if (url != NULL)
		snprintf(url, len, "%s", base);
	free(encoded);
	return url;
}

/* One GET with the request token; the JWT in out on success. */
static int
github_attempt(const struct profile *p, const struct external_use *use,
	       const struct http_target *target, const struct token_request *req,
	       long long deadline, struct secret *out, int *retry_after, struct error *err)
{
	/* GitHub's endpoint is not the provider's: the system's CAs, not the profile's */
	struct profile system_ca = *p;
	struct http_response resp = { 0 };
	struct token_reply reply;
	long long left = deadline - monotonic_ms();
	char *value = NULL;
	int rc = -1;

	system_ca.ca_file = NULL;
	*retry_after = -1;
	if (http_request(&system_ca, target, req, left > 1 ? (long)left : 1, &resp, err) != 0)
		goto out;
	http_response_view(&resp, &reply);
	*retry_after = http_retry_after_seconds(resp.retry_after, time(NULL));
	if (github_reply_parse(&reply, &req->redaction, use, &value, err) != 0)
		goto out;
	rc = take(p, use, value, strlen(value), "the CI's ID-token endpoint", out, err);
out:
	safefile_free_string(value);
	http_response_free(&resp);
	return rc;
}

/* The request token as a header and in the redaction set: it is a secret too. */
static int
github_request(const char *request_token, struct token_request *req, struct error *err)
{
	size_t len = strlen(request_token) + sizeof("Authorization: bearer ");

	memset(req, 0, sizeof(*req));
	req->authorization = malloc(len);
	if (req->authorization == NULL ||
	    token_redaction_build(NULL, request_token, &req->redaction) != 0) {
		token_request_free(req);
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	}
	snprintf(req->authorization, len, "Authorization: bearer %s", request_token);
	return 0;
}

int
external_token_fetch_github(const struct profile *p, const struct external_use *use,
			    struct secret *out, int *retry_after, struct error *err)
{
	const char *base = getenv(GITHUB_REQUEST_URL_VARIABLE);
	const char *request_token = getenv(GITHUB_REQUEST_TOKEN_VARIABLE);
	struct http_target target = { NULL, "the CI's ID-token endpoint",
				      GITHUB_REQUEST_URL_VARIABLE, NULL };
	struct token_request req = { 0 };
	long long started = monotonic_ms(), deadline, delay;
	int attempt, asked, missing_url = base == NULL || *base == '\0',
			    missing_token = request_token == NULL || *request_token == '\0';
	char *url = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*retry_after = -1;
	if (missing_url || missing_token)
		return error_set(err, KB_EXIT_CONFIG,
				 "no %s for profile %s from github-actions: %s%s%s %s not set — "
				 "in GitHub Actions give the job `permissions: id-token: write`",
				 use->what, p->name, missing_url ? GITHUB_REQUEST_URL_VARIABLE : "",
				 missing_url && missing_token ? " and " : "",
				 missing_token ? GITHUB_REQUEST_TOKEN_VARIABLE : "",
				 missing_url && missing_token ? "are" : "is");
	url = github_request_url(base, assertion_github_audience(p));
	if (url == NULL || github_request(request_token, &req, err) != 0) {
		free(url);
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	}
	target.url = url;
	deadline = started + (long long)p->timeout * 1000;
	for (attempt = 1;; attempt++) {
		struct error attempt_err = { 0 };
		struct timespec pause;
		if (github_attempt(p, use, &target, &req, deadline, out, &asked, &attempt_err) ==
		    0) {
			rc = 0;
			break;
		}
		if (asked > *retry_after)
			*retry_after = asked;
		delay = backoff_delay_ms(attempt - 1, asked, backoff_noise());
		if (attempt_err.code != KB_EXIT_TRANSIENT ||
		    monotonic_ms() + delay + RETRY_MIN_ATTEMPT_MS > deadline) {
			*err = attempt_err;
			break;
		}
		error_debug("attempt %d at the ID-token endpoint for profile %s failed, next in "
			    "%lld ms: %s",
			    attempt, p->name, delay, attempt_err.message);
		if (notice_due(NOTICE_ENDPOINT, started - delay))
			notice_say(NOTICE_ENDPOINT,
				   "the CI's ID-token endpoint, which failed (attempt %d): trying "
				   "again for at most %lld s more",
				   attempt, (deadline - monotonic_ms() + 999) / 1000);
		pause.tv_sec = (time_t)(delay / 1000);
		pause.tv_nsec = (long)(delay % 1000) * 1000000L;
		nanosleep(&pause, NULL);
	}
	if (rc == 0) /* as external_token_read names it before the fetch */
		snprintf(out->origin, sizeof(out->origin), "github-actions %.140s",
			 assertion_github_audience(p) != NULL ? assertion_github_audience(p) : "");
	token_request_free(&req);
	free(url);
	return rc;
}
