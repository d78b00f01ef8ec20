#include "token.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jwt.h"
#include "safefile.h"
#include "strictjson.h"

#define EXCERPT_MAX 120
#define REDACTED    "[redacted]"
/* A run of token characters this long could be a token or a secret (a 200 reply we could
 * not parse may hold one): excerpts blank it. URL paths and prose stay readable. */
#define EXCERPT_LONGEST_RUN 32

static int
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static const char upper_hex[] = "0123456789ABCDEF", lower_hex[] = "0123456789abcdef";

/* ALPHA DIGIT - . _ ~ as they are, space as '+' (plus) or %20, every other byte as %XX in
 * the digits given. Returns a new string or NULL. */
static char *
percent_encode(const char *value, const char *hex, int plus)
{
	size_t len = strlen(value), i, n = 0;
	char *out = malloc(len * 3 + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)value[i];
		if (is_unreserved(c)) {
			out[n++] = (char)c;
		} else if (c == ' ' && plus) {
			out[n++] = '+';
		} else {
			out[n++] = '%';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
		}
	}
	out[n] = '\0';
	return out;
}

char *
token_form_encode(const char *value)
{
	return percent_encode(value, upper_hex, 1);
}

static char *
base64_encode(const unsigned char *in, size_t len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1);
	size_t i, n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i += 3) {
		unsigned long chunk = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			chunk |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < len)
			chunk |= in[i + 2];
		out[n++] = alphabet[(chunk >> 18) & 63];
		out[n++] = alphabet[(chunk >> 12) & 63];
		out[n++] = i + 1 < len ? alphabet[(chunk >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? alphabet[chunk & 63] : '=';
	}
	out[n] = '\0';
	return out;
}

/* Appends "&name=encoded(value)" (no '&' first) to the body being built. */
static int
append_param(char **body, size_t *used, size_t *cap, const char *name, const char *value)
{
	char *encoded = token_form_encode(value);
	size_t need;

	if (encoded == NULL)
		return -1;
	need = *used + strlen(name) + strlen(encoded) + 3;
	if (need > *cap) {
		/* Grow by copying, so no stale copy of the secret is left in freed memory. */
		size_t new_cap = need * 2;
		char *grown = malloc(new_cap);
		if (grown == NULL) {
			safefile_free_string(encoded);
			return -1;
		}
		memcpy(grown, *body, *used + 1);
		explicit_bzero(*body, *cap);
		free(*body);
		*body = grown;
		*cap = new_cap;
	}
	*used += (size_t)snprintf(*body + *used, *cap - *used, "%s%s=%s", *used ? "&" : "", name,
				  encoded);
	safefile_free_string(encoded);
	return 0;
}

/* base64 of "id:pw", as a new string. */
static char *
base64_pair(const char *id, const char *pw)
{
	size_t len = strlen(id) + strlen(pw) + 2;
	char *joined = malloc(len), *encoded;

	if (joined == NULL)
		return NULL;
	snprintf(joined, len, "%s:%s", id, pw);
	encoded = base64_encode((unsigned char *)joined, len - 1);
	safefile_free_secret(joined, len);
	return encoded;
}

static int
build_basic_header(const char *client_id, const char *secret, char **out)
{
	char *id = token_form_encode(client_id), *pw = token_form_encode(secret);
	char *encoded = NULL;
	size_t len;
	int rc = -1;

	if (id == NULL || pw == NULL)
		goto out;
	encoded = base64_pair(id, pw);
	if (encoded == NULL)
		goto out;
	len = strlen(encoded) + sizeof("Authorization: Basic ");
	*out = malloc(len);
	if (*out == NULL)
		goto out;
	snprintf(*out, len, "Authorization: Basic %s", encoded);
	rc = 0;
out:
	safefile_free_string(id);
	safefile_free_string(pw);
	safefile_free_string(encoded);
	return rc;
}

/* The secret with only '"' and '\\' escaped: the part of any JSON escaping that an HTML page
 * showing the JSON changes again (\&quot;). New string or NULL. */
static char *
json_quote(const char *value)
{
	size_t len = strlen(value), i, n = 0;
	char *out = malloc(len * 2 + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (value[i] == '"' || value[i] == '\\')
			out[n++] = '\\';
		out[n++] = value[i];
	}
	out[n] = '\0';
	return out;
}

/* Appends \uXXXX of a UTF-16 code unit. */
static size_t
put_u(char *out, unsigned long unit, const char *hex)
{
	out[0] = '\\';
	out[1] = 'u';
	out[2] = hex[(unit >> 12) & 15];
	out[3] = hex[(unit >> 8) & 15];
	out[4] = hex[(unit >> 4) & 15];
	out[5] = hex[unit & 15];
	return 6;
}

/* The code point of the UTF-8 sequence at s, its length in *n; -1 (and *n = 1) for a byte
 * that starts none. */
static long
utf8_next(const unsigned char *s, size_t *n)
{
	size_t len = s[0] >= 0xF0 && s[0] <= 0xF4   ? 4
		     : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
		     : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
						    : 0,
	       i;
	long cp = len == 4 ? s[0] & 0x07 : len == 3 ? s[0] & 0x0F : s[0] & 0x1F;

	*n = 1;
	if (len == 0)
		return -1;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return -1;
	*n = len;
	return cp;
}

/* The secret as a JSON string's content, escaped the way JSON encoders do: \" \\ \b \f \n
 * \r \t, \uXXXX for other control characters. ascii: as Python's json.dumps or Java's
 * write it, everything else outside ' '..'~' as \uXXXX too (surrogate pairs beyond U+FFFF;
 * a byte that is no UTF-8 as \u00XX); else as json-c writes it, '/' as \/ and the rest as it
 * is. New string or NULL. */
static char *
json_escape(const char *value, int ascii, const char *hex)
{
	static const char plain[] = "\"\\\b\f\n\r\t/", named[] = "\"\\bfnrt/";
	const unsigned char *s = (const unsigned char *)value;
	size_t len = strlen(value), i = 0, n = 0, step = 1;
	char *out = malloc(len * 12 + 1);
	const char *simple;
	long cp;

	if (out == NULL)
		return NULL;
	while (i < len) {
		cp = s[i];
		if (ascii && s[i] >= 0x80 && (cp = utf8_next(s + i, &step)) < 0)
			cp = s[i]; /* no UTF-8: the byte, as ISO-8859-1 */
		simple = cp < 0x80 && (ascii ? cp != '/' : 1) ? strchr(plain, (int)cp) : NULL;
		if (cp != 0 && simple != NULL) {
			out[n++] = '\\';
			out[n++] = named[simple - plain];
		} else if (cp < 0x20 || (ascii && cp >= 0x7F && cp < 0x10000)) {
			n += put_u(out + n, (unsigned long)cp, hex);
		} else if (ascii && cp >= 0x10000) {
			n += put_u(out + n, 0xD800 + (((unsigned long)cp - 0x10000) >> 10), hex);
			n += put_u(out + n, 0xDC00 + (((unsigned long)cp - 0x10000) & 0x3FF), hex);
		} else {
			out[n++] = (char)s[i];
		}
		i += ascii ? step : 1;
		step = 1;
	}
	out[n] = '\0';
	return out;
}

/* Adds a new string (NULL: out of memory) as a target, then wipes and frees it. */
static int
add_owned(struct redaction *r, char *form)
{
	int rc = form != NULL ? redaction_add(r, form, strlen(form)) : -1;

	safefile_free_string(form);
	return rc;
}

/* A base64 string and, when it has padding, the string without it; wiped and freed. */
static int
add_base64(struct redaction *r, char *encoded)
{
	size_t len;
	int rc = -1;

	if (encoded == NULL)
		return -1;
	len = strlen(encoded);
	if (redaction_add(r, encoded, len) == 0) {
		while (len > 0 && encoded[len - 1] == '=')
			len--;
		rc = redaction_add(r, encoded, len);
	}
	safefile_free_string(encoded);
	return rc;
}

/* The secret without leading and trailing whitespace, when that leaves it different and
 * long enough not to blank ordinary words. */
static int
add_trimmed(struct redaction *r, const char *secret)
{
	size_t start = 0, end = strlen(secret);

	while (start < end && isspace((unsigned char)secret[start]))
		start++;
	while (end > start && isspace((unsigned char)secret[end - 1]))
		end--;
	if (end - start == strlen(secret) || end - start < 4)
		return 0;
	return redaction_add(r, secret + start, end - start);
}

int
token_redaction_build(const char *client_id, const char *secret, struct redaction *r)
{
	char *form_id = NULL, *form_secret = NULL;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (secret == NULL || *secret == '\0')
		return 0;
	if (client_id == NULL)
		client_id = "";
	form_id = token_form_encode(client_id);
	form_secret = token_form_encode(secret);
	if (form_id == NULL || form_secret == NULL)
		goto out;
	/* The secret itself is spelled by any escaping of it; the exact outputs of common
	 * encoders also when a second layer escaped their escapes (&#x25;2B, \&quot;); and
	 * the secret without the whitespace around it, which a server may strip. */
	if (redaction_add(r, secret, strlen(secret)) != 0 || add_trimmed(r, secret) != 0 ||
	    redaction_add(r, form_secret, strlen(form_secret)) != 0 ||
	    add_owned(r, percent_encode(secret, upper_hex, 0)) != 0 ||
	    add_owned(r, percent_encode(secret, lower_hex, 1)) != 0 ||
	    add_owned(r, percent_encode(secret, lower_hex, 0)) != 0 ||
	    add_owned(r, json_quote(secret)) != 0 ||
	    add_owned(r, json_escape(secret, 0, lower_hex)) != 0 ||
	    add_owned(r, json_escape(secret, 1, lower_hex)) != 0 ||
	    add_owned(r, json_escape(secret, 1, upper_hex)) != 0 ||
	    add_base64(r, base64_pair(form_id, form_secret)) != 0 ||
	    add_base64(r, base64_pair(client_id, secret)) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		redaction_free(r);
	safefile_free_string(form_id);
	safefile_free_string(form_secret);
	return rc;
}

/* federated assertions and token exchange */
/* A token someone else issued, as it is and form-encoded (an opaque one may have + / =). */
static int
add_token_forms(struct redaction *r, const char *token)
{
	if (token == NULL || *token == '\0')
		return 0;
	if (redaction_add(r, token, strlen(token)) != 0)
		return -1;
	return add_owned(r, token_form_encode(token));
}

/* What authenticates the client, which no message may show: the secret in its spellings,
 * or the private key of private_key_jwt; the client assertion, and the signature of one
 * keybearer signed also alone (a server may quote a part). */
static int
add_client_redaction(const struct profile *p, const struct token_credentials *creds,
		     struct redaction *r)
{
	const char *assertion = creds->client_assertion;
	const char *signature = assertion != NULL ? strrchr(assertion, '.') : NULL;

	if (p->auth_method == AUTH_PRIVATE_KEY_JWT) {
		if (creds->secret != NULL &&
		    redaction_add(r, creds->secret, strlen(creds->secret)) != 0)
			return -1;
	} else if (token_redaction_build(p->client_id, creds->secret, r) != 0) {
		return -1;
	}
	if (add_token_forms(r, assertion) != 0)
		return -1;
	if (config_auth_signs_assertion(p->auth_method) && signature != NULL)
		return redaction_add(r, signature + 1, strlen(signature + 1));
	return 0;
}

/* RFC 8693 section 2.1: the subject, its type, and the type wanted. */
static int
append_exchange(const struct profile *p, const char *subject_token, char **body, size_t *used,
		size_t *cap)
{
	int rc = 0;

	rc |= append_param(body, used, cap, "subject_token", subject_token);
	rc |= append_param(body, used, cap, "subject_token_type", config_subject_token_type(p));
	if (p->requested_token_type != NULL)
		rc |= append_param(body, used, cap, "requested_token_type",
				   p->requested_token_type);
	return rc;
}

/* RFC 7523 section 2.2, with the client_id RFC 6749 2.3.1 (and RFC 7521 4.2) lets a client
 * send; authlib and oidc-provider take it. */
static int
append_assertion(const struct profile *p, const char *assertion, char **body, size_t *used,
		 size_t *cap)
{
	int rc = 0;

	rc |= append_param(body, used, cap, "client_id", p->client_id);
	rc |= append_param(body, used, cap, "client_assertion_type", CLIENT_ASSERTION_TYPE_JWT);
	rc |= append_param(body, used, cap, "client_assertion", assertion);
	return rc;
}

static int
missing_credential(const struct profile *p, const char *what, struct error *err)
{
	return error_set(err, KB_EXIT_INTERNAL,
			 "no %s to build the request of profile %s with — "
			 "report this bug",
			 what, p->name);
}

int
token_request_build(const struct profile *p, const struct token_credentials *creds,
		    struct token_request *req, struct error *err)
{
	const char *secret = creds->secret;
	int exchange = p->grant_type == GRANT_TOKEN_EXCHANGE;
	size_t used = 0, cap = 256;
	int rc = 0;

	memset(req, 0, sizeof(*req));
	if (exchange && creds->subject_token == NULL)
		return missing_credential(p, "subject token", err);
	if ((p->auth_method == AUTH_CLIENT_ASSERTION ||
	     config_auth_signs_assertion(p->auth_method)) &&
	    creds->client_assertion == NULL)
		return missing_credential(p, "client assertion", err);
	if (config_uses_secret(p) && secret == NULL)
		return missing_credential(p, "client secret", err);
	req->body = malloc(cap);
	if (req->body == NULL)
		goto oom;
	req->body[0] = '\0';
	rc |= append_param(&req->body, &used, &cap, "grant_type",
			   exchange ? GRANT_TYPE_TOKEN_EXCHANGE : "client_credentials");
	if (exchange)
		rc |= append_exchange(p, creds->subject_token, &req->body, &used, &cap);
	if (p->scope != NULL)
		rc |= append_param(&req->body, &used, &cap, "scope", p->scope);
	if (p->audience != NULL)
		rc |= append_param(&req->body, &used, &cap, "audience", p->audience);
	if (p->resource != NULL)
		rc |= append_param(&req->body, &used, &cap, "resource", p->resource);
	switch (p->auth_method) {
	case AUTH_CLIENT_SECRET_POST:
		rc |= append_param(&req->body, &used, &cap, "client_id", p->client_id);
		rc |= append_param(&req->body, &used, &cap, "client_secret", secret);
		break;
	case AUTH_CLIENT_SECRET_BASIC:
		rc |= build_basic_header(p->client_id, secret, &req->authorization);
		break;
	case AUTH_CLIENT_SECRET_JWT:
	case AUTH_PRIVATE_KEY_JWT:
	case AUTH_CLIENT_ASSERTION:
		rc |= append_assertion(p, creds->client_assertion, &req->body, &used, &cap);
		break;
	case AUTH_NONE:
		/* a public client names itself, when it has a name (RFC 8693 2.1) */
		if (p->client_id != NULL)
			rc |= append_param(&req->body, &used, &cap, "client_id", p->client_id);
		break;
	case AUTH_TLS_CLIENT_AUTH:
	case AUTH_SELF_SIGNED_TLS_CLIENT_AUTH:
		/* RFC 8705 section 2: the certificate authenticates; client_id says who */
		rc |= append_param(&req->body, &used, &cap, "client_id", p->client_id);
		break;
	}
	rc |= add_client_redaction(p, creds, &req->redaction);
	rc |= add_token_forms(&req->redaction, creds->subject_token);
	if (rc == 0)
		return 0;
oom:
	token_request_free(req);
	return error_set(err, KB_EXIT_INTERNAL,
			 "out of memory building the token request — "
			 "free some memory and retry");
}

void
token_request_free(struct token_request *req)
{
	safefile_free_string(req->body);
	safefile_free_string(req->authorization);
	req->body = req->authorization = NULL;
	redaction_free(&req->redaction);
}

void
token_result_free(struct token_result *result)
{
	safefile_free_string(result->access_token);
	result->access_token = NULL;
}

static int
is_token_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_' || c == '~' ||
	       c == '+' || c == '/';
}

/* Length of the run of token characters (and '=') starting at text[i]. */
static size_t
token_run(const char *text, size_t len, size_t i)
{
	size_t end = i;

	while (end < len && (is_token_char(text[end]) || text[end] == '='))
		end++;
	return end - i;
}

int
token_is_b64token(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && is_token_char(s[i]))
		i++;
	if (i == 0)
		return 0;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

/* Whether a blank that starts inside a tag ends inside one: what it skipped never shows
 * then, so neither does "[redacted]". */
static int
tag_open_after(const char *skipped, size_t len)
{
	int in_tag = 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (skipped[i] == '>')
			in_tag = 0;
		else if (skipped[i] == '<')
			in_tag = 1;
	}
	return in_tag;
}

void
token_excerpt(const char *text, size_t len, const struct redaction *redaction, char *out,
	      size_t max)
{
	struct redaction_scan scan;
	size_t i = 0, n = 0;
	int in_tag = 0, pending_space = 0;

	redaction_scan_start(&scan, redaction, text, len);
	if (max > EXCERPT_MAX + 1)
		max = EXCERPT_MAX + 1;
	while (i < len && n + 4 < max) {
		unsigned char c = (unsigned char)text[i];
		const char *emit = NULL;
		size_t skip = 1, blank_end = i;
		if (!in_tag && (i == 0 || !(is_token_char(text[i - 1]) || text[i - 1] == '=')) &&
		    token_run(text, len, i) >= EXCERPT_LONGEST_RUN)
			blank_end = i + token_run(text, len, i);
		/* even inside a tag: an echo in an attribute could close it and show the rest */
		blank_end = redaction_span_end(&scan, i, blank_end, in_tag);
		if (blank_end > i) {
			skip = blank_end - i;
			if (in_tag && tag_open_after(text + i, skip)) {
				pending_space = 1; /* it never showed: nothing to say */
			} else {
				in_tag = 0;
				emit = REDACTED;
			}
		} else if (in_tag) {
			in_tag = c != '>';
			pending_space = 1;
		} else if (c == '<') {
			in_tag = 1;
		} else if (isspace(c)) {
			pending_space = 1;
		} else {
			emit = (c >= 0x21 && c < 0x7f) ? (const char *)&text[i] : "?";
		}
		if (emit != NULL) {
			size_t emit_len = emit == text + i ? 1 : strlen(emit);
			size_t space = pending_space && n > 0;
			if (n + space + emit_len + 4 > max)
				break;
			if (space)
				out[n++] = ' ';
			pending_space = 0;
			memcpy(out + n, emit, emit_len);
			n += emit_len;
		}
		i += skip;
	}
	if (i < len && n + 4 <= max) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
}

static const char *
rejection_advice(const char *code)
{
	static const struct {
		const char *code;
		const char *advice;
	} table[] = {
		{ "invalid_client", "check client_id, the secret (was it rotated?) and "
				    "auth_method" },
		{ "unauthorized_client", "this client may not use the client_credentials grant: "
					 "check its registration at the provider" },
		{ "invalid_grant", "check client_id and secret (was the secret rotated?)" },
		{ "invalid_scope", "check scope, audience and resource in the profile" },
		{ "unsupported_grant_type", "the endpoint does not offer client_credentials: check "
					    "token_url" },
		{ "invalid_request", "check token_url, auth_method, scope, audience and resource" },
		{ "temporarily_unavailable", "try again later" },
		{ "server_error", "try again later" },
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(code, table[i].code) == 0)
			return table[i].advice;
	}
	return "check the profile against the provider's documentation";
}

/* federated assertions and token exchange */
/* What a refusal means when no secret was in it: the provider's trust in the assertion or
 * in the subject token, not a rotated secret. NULL: the usual advice. */
static const char *
federated_advice(const struct token_reply *reply, const char *code)
{
	if (strcmp(code, "invalid_client") == 0 && reply->auth_method == AUTH_CLIENT_ASSERTION)
		return "check client_id and that the provider trusts the assertion: its issuer, "
		       "subject and audience (assertion_audience)";
	if (strcmp(code, "invalid_grant") == 0 && reply->token_exchange)
		return "the provider did not take the subject token: check subject_token, "
		       "subject_token_type and the provider's trust in its issuer";
	if (strcmp(code, "unauthorized_client") == 0 && reply->token_exchange)
		return "this client may not use token exchange: check its registration at the "
		       "provider";
	return NULL;
}

/* An RFC 6749 section 5.2 error object; 0 when the reply was one (err set), -1 when not. */
static int
oauth_error_reply(const struct token_reply *reply, const struct redaction *redaction,
		  struct error *err)
{
	struct json_object *obj = strictjson_parse(reply->body, reply->body_len);
	const char *code, *description, *advice;
	char safe_code[64], safe_description[EXCERPT_MAX + 1], method[CONFIG_KEY_ID_MAX + 96] = "";

	if (obj == NULL)
		return -1;
	code = json_object_is_type(obj, json_type_object) ? strictjson_get_string(obj, "error")
							  : NULL;
	if (code == NULL) {
		json_object_put(obj);
		return -1;
	}
	description = strictjson_get_string(obj, "error_description");
	advice = federated_advice(reply, code);
	if (advice == NULL && strcmp(code, "invalid_client") == 0 &&
	    config_auth_is_mtls(reply->auth_method))
		advice = "check client_id, client_cert (is it the one registered for the client?) "
			 "and auth_method";
	if (advice == NULL && strcmp(code, "invalid_client") == 0 &&
	    reply->auth_method == AUTH_PRIVATE_KEY_JWT)
		advice = "check client_id, that the provider has this key's public half "
			 "registered for the client (keybearer keygen prints it) and auth_method";
	if (advice == NULL)
		advice = rejection_advice(code);
	/* A server that wants the other client authentication says only invalid_client. */
	if (strcmp(code, "invalid_client") == 0 && reply->key_id != NULL)
		snprintf(method, sizeof(method), " (this request used %s, %s, kid %s)",
			 config_auth_method_name(reply->auth_method),
			 reply->signing_alg ? reply->signing_alg : "?", reply->key_id);
	else if (strcmp(code, "invalid_client") == 0 && reply->signing_alg != NULL)
		snprintf(method, sizeof(method), " (this request used %s, %s)",
			 config_auth_method_name(reply->auth_method), reply->signing_alg);
	else if (strcmp(code, "invalid_client") == 0)
		snprintf(method, sizeof(method), " (this request used %s)",
			 config_auth_method_name(reply->auth_method));
	token_excerpt(code, strlen(code), redaction, safe_code, sizeof(safe_code));
	if (description != NULL)
		token_excerpt(description, strlen(description), redaction, safe_description,
			      sizeof(safe_description));
	/* Two RFC 6749 error codes say "not now" rather than "no". */
	error_set(err,
		  strcmp(code, "temporarily_unavailable") == 0 || strcmp(code, "server_error") == 0
			  ? KB_EXIT_TRANSIENT
			  : KB_EXIT_REJECTED,
		  "token endpoint refused the request: %s%s%s — %s%s", safe_code,
		  description ? ": " : "", description ? safe_description : "", advice, method);
	json_object_put(obj);
	return 0;
}

static int
http_failure(const struct token_reply *reply, const struct redaction *redaction, struct error *err)
{
	char excerpt[EXCERPT_MAX + 1], retry[64] = "";

	token_excerpt(reply->body, reply->body_len, redaction, excerpt, sizeof(excerpt));
	if (reply->retry_after != NULL && *reply->retry_after != '\0') {
		char value[40];
		token_excerpt(reply->retry_after, strlen(reply->retry_after), redaction, value,
			      sizeof(value));
		snprintf(retry, sizeof(retry), ", retry after %s%s", value,
			 isdigit((unsigned char)value[0]) &&
					 strspn(value, "0123456789") == strlen(value)
				 ? " s"
				 : "");
	}
	if (reply->status >= 300 && reply->status < 400) {
		char location[EXCERPT_MAX + 1] = "nowhere";
		if (reply->location != NULL)
			token_excerpt(reply->location, strlen(reply->location), redaction, location,
				      sizeof(location));
		return error_set(err, KB_EXIT_PROTOCOL,
				 "token endpoint redirected the request (HTTP %ld to %s) — "
				 "keybearer does not follow redirects: set token_url to the final "
				 "URL",
				 reply->status, location);
	}
	if (reply->status == 429)
		return error_set(
			err, KB_EXIT_TRANSIENT,
			"token endpoint is rate limiting (HTTP 429%s) — wait and try again", retry);
	if (reply->status >= 500 || reply->status == 408)
		return error_set(err, KB_EXIT_TRANSIENT,
				 "token endpoint failed (HTTP %ld%s): \"%s\" — try again later",
				 reply->status, retry, excerpt);
	if (reply->status == 401 || reply->status == 403)
		return error_set(err, KB_EXIT_REJECTED,
				 "token endpoint refused the request (HTTP %ld): \"%s\" — check "
				 "client_id and %s",
				 reply->status, excerpt,
				 config_auth_is_mtls(reply->auth_method)
					 ? "client_cert (is it the one registered for the client?)"
					 : "secret (was the secret rotated?)");
	return error_set(err, KB_EXIT_PROTOCOL,
			 "token endpoint answered HTTP %ld: \"%s\" — check token_url",
			 reply->status, excerpt);
}

static int
parse_expires_in(struct json_object *obj, const struct redaction *redaction, long long *out,
		 struct error *err)
{
	char value[48];
	const char *shown;
	struct json_object *member;
	const char *text;
	char *end;

	if (!json_object_object_get_ex(obj, "expires_in", &member) ||
	    json_object_is_type(member, json_type_null))
		return 1;
	if (json_object_is_type(member, json_type_int)) {
		*out = (long long)json_object_get_int64(member);
	} else if (json_object_is_type(member, json_type_string)) {
		text = json_object_get_string(member);
		if (!isdigit((unsigned char)text[0]) || strlen(text) > 12)
			goto bad;
		*out = strtoll(text, &end, 10);
		if (*end != '\0')
			goto bad;
	} else {
		goto bad;
	}
	if (*out < 0 || *out > TOKEN_MAX_EXPIRES_IN)
		goto bad;
	return 0;
bad:
	shown = json_object_to_json_string_ext(member, JSON_C_TO_STRING_PLAIN);
	token_excerpt(shown, strlen(shown), redaction, value, sizeof(value));
	return error_set(err, KB_EXIT_PROTOCOL,
			 "token endpoint sent an unusable expires_in (%s) — it must be a "
			 "non-negative whole number of seconds; report this to the provider",
			 value);
}

/* federated assertions and token exchange */
/* RFC 8693 section 2.2.1: issued_token_type is required. We hand the token out in a
 * Bearer header, so it must be an access token or a JWT — the one asked for, when one was.
 * token_type N_A says the issued token is no access token: only a JWT the profile asked
 * for by name (requested_token_type) is taken then, as the user has said the resource
 * takes such a JWT as a Bearer token. */
static int
check_exchange_reply(struct json_object *obj, const struct token_reply *reply,
		     const struct redaction *redaction, const char *token_type, struct error *err)
{
	const char *issued = strictjson_get_string(obj, "issued_token_type");
	const char *requested = reply->requested_token_type;
	char shown[EXCERPT_MAX + 1];

	if (issued == NULL)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "token endpoint's token exchange reply has no issued_token_type, "
				 "which RFC 8693 requires — report this to the provider; the token "
				 "was not used");
	token_excerpt(issued, strlen(issued), redaction, shown, sizeof(shown));
	if (requested != NULL && strcmp(issued, requested) != 0)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "token endpoint issued a token of type \"%s\", not the %s asked "
				 "for — check requested_token_type; the token was not used",
				 shown, requested);
	if (strcmp(issued, TOKEN_TYPE_ACCESS_TOKEN) != 0 && strcmp(issued, TOKEN_TYPE_JWT) != 0)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "token endpoint issued a token of type \"%s\", which is no access "
				 "token for a Bearer header — set requested_token_type = %s; the "
				 "token was not used",
				 shown, TOKEN_TYPE_ACCESS_TOKEN);
	if (token_type != NULL && strcmp(token_type, "N_A") == 0 &&
	    (requested == NULL || strcmp(issued, TOKEN_TYPE_JWT) != 0))
		return error_set(
			err, KB_EXIT_PROTOCOL,
			"token endpoint sent token_type N_A: the %s it issued is no access "
			"token (RFC 8693 2.2.1) — to send it as a Bearer token anyway, ask "
			"for it: requested_token_type = %s",
			issued, TOKEN_TYPE_JWT);
	return 0;
}

static int
parse_success(const struct token_reply *reply, const struct redaction *redaction,
	      time_t received_at, struct token_result *out, struct error *err)
{
	struct json_object *obj = strictjson_parse(reply->body, reply->body_len), *member;
	char excerpt[EXCERPT_MAX + 1];
	const char *token, *type;
	long long expires_in = 0, lifetime;
	size_t token_len;
	int rc = -1, has_expires_in;

	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		char content_type[61] = "no content type";
		token_excerpt(reply->body, reply->body_len, redaction, excerpt, sizeof(excerpt));
		/* a header is as untrusted as the body */
		if (reply->content_type != NULL)
			token_excerpt(reply->content_type, strlen(reply->content_type), redaction,
				      content_type, sizeof(content_type));
		error_set(err, KB_EXIT_PROTOCOL,
			  "token endpoint's reply is not a JSON object (HTTP 200, %s): \"%s\" — "
			  "check token_url",
			  content_type, excerpt);
		goto out;
	}
	if (!json_object_object_get_ex(obj, "access_token", &member) ||
	    !json_object_is_type(member, json_type_string)) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "token endpoint's reply has no access_token — check token_url; this is "
			  "not an OAuth 2.0 token reply");
		goto out;
	}
	token = json_object_get_string(member);
	token_len = (size_t)json_object_get_string_len(member);
	if (token_len > TOKEN_MAX_LENGTH) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "token endpoint sent an access_token of %zu bytes, more than %d — "
			  "report this to the provider",
			  token_len, TOKEN_MAX_LENGTH);
		goto out;
	}
	if (!token_is_b64token(token, token_len)) {
		error_set(err, KB_EXIT_PROTOCOL,
			  "token endpoint sent an access_token with characters a Bearer token "
			  "cannot have (RFC 6750) — report this to the provider; it was not used");
		goto out;
	}
	type = strictjson_get_string(obj, "token_type");
	if (reply->token_exchange && check_exchange_reply(obj, reply, redaction, type, err) != 0)
		goto out;
	if (reply->token_exchange && type != NULL && strcmp(type, "N_A") == 0)
		type = "Bearer"; /* check_exchange_reply let it through: a jwt asked for */
	if (type == NULL || strcasecmp(type, "Bearer") != 0) {
		char safe_type[40];
		if (type != NULL)
			token_excerpt(type, strlen(type), redaction, safe_type, sizeof(safe_type));
		error_set(err, KB_EXIT_PROTOCOL,
			  "token endpoint sent token_type %s%s%s, not Bearer — keybearer hands out "
			  "only Bearer tokens; check token_url",
			  type ? "\"" : "", type ? safe_type : "(none)", type ? "\"" : "");
		goto out;
	}
	has_expires_in = parse_expires_in(obj, redaction, &expires_in, err);
	if (has_expires_in < 0)
		goto out;
	out->obtained_at = received_at;
	if (has_expires_in == 0) {
		/* never longer than the lifetime the token's own claims give it */
		if (jwt_claimed_lifetime(token, &lifetime) == 0 && lifetime < expires_in)
			expires_in = lifetime;
		out->expires_at = (long long)received_at + expires_in;
		out->expiry_source = EXPIRY_FROM_EXPIRES_IN;
	} else if (jwt_local_expiry(token, received_at, reply->server_date, &out->expires_at) ==
		   0) {
		out->expiry_source = EXPIRY_FROM_JWT;
		if (out->expires_at - received_at > TOKEN_MAX_EXPIRES_IN)
			out->expires_at = (long long)received_at + TOKEN_MAX_EXPIRES_IN;
	} else {
		out->expires_at = (long long)received_at + TOKEN_DEFAULT_LIFETIME;
		out->expiry_source = EXPIRY_DEFAULT;
	}
	lifetime = out->expires_at - (long long)received_at;
	if (lifetime < TOKEN_MIN_LIFETIME) {
		const char *source =
			out->expiry_source == EXPIRY_FROM_JWT ? "JWT exp" : "expires_in";
		if (lifetime <= 0)
			error_set(
				err, KB_EXIT_PROTOCOL,
				"token endpoint issued a token that is already expired (by its %s) "
				"— keybearer does not hand out dead tokens; report this to the "
				"provider",
				source);
		else
			error_set(
				err, KB_EXIT_PROTOCOL,
				"token endpoint issued a token that lives only %lld s (by its %s) "
				"— keybearer does not hand out dying tokens; report this to the "
				"provider",
				lifetime, source);
		goto out;
	}
	out->access_token = strdup(token);
	if (out->access_token == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory and retry");
		goto out;
	}
	rc = 0;
out:
	json_object_put(obj);
	return rc;
}

int
token_reply_parse(const struct token_reply *reply, const struct redaction *redaction,
		  time_t received_at, struct token_result *out, struct error *err)
{
	memset(out, 0, sizeof(*out));
	if (reply->status == 200)
		return parse_success(reply, redaction, received_at, out, err);
	if (reply->status >= 400 && reply->status < 500 && reply->status != 429 &&
	    oauth_error_reply(reply, redaction, err) == 0)
		return -1;
	return http_failure(reply, redaction, err);
}
