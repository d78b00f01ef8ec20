/* No secret in any message, in any encoding. A server may echo what it was sent in whatever
 * encoding it likes, in whatever part of its reply a message quotes; so this is a property
 * test: random secrets of awkward bytes, random client ids, both client authentications,
 * each secret echoed in every encoding a server might use, in every kind of reply whose
 * message quotes it, whole and cut mid-secret. Every message must lack every printable
 * form of the secret, and must read exactly as the reply with "[redacted]" where the echo
 * was. The generator is seeded: a failure prints the seed and the case, and
 * KEYBEARER_TEST_SEED=N reruns with another seed. A table of fixed excerpts follows. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rows.h"
#include "token.h"

#define DEFAULT_SEED  20240611ULL
#define SECRETS	      3000
#define RECEIVED_AT   1700000000LL
#define TEXT_MAX      4096
#define SHOWN_FAILURE 40 /* failing cases printed, at most */

/* splitmix64: small, seedable, the same everywhere */
struct rng {
	uint64_t state;
};

static uint64_t
rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static unsigned
pick(struct rng *r, unsigned n)
{
	return (unsigned)(rng_next(r) % n);
}

struct text {
	char s[TEXT_MAX];
	size_t len;
};

static void
put_bytes(struct text *t, const char *bytes, size_t n)
{
	assert_true(t->len + n < sizeof(t->s));
	memcpy(t->s + t->len, bytes, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void
put(struct text *t, const char *s)
{
	put_bytes(t, s, strlen(s));
}

static void putf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(struct text *t, const char *fmt, ...)
{
	char piece[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(piece, sizeof(piece), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(piece));
	put_bytes(t, piece, (size_t)n);
}

static void
set(struct text *t, const char *s)
{
	t->len = 0;
	t->s[0] = '\0';
	put(t, s);
}

/* ---- the secret and the client id ---- */

static void
put_code_point(struct text *t, unsigned long cp)
{
	char b[4];

	if (cp < 0x80) {
		b[0] = (char)cp;
		put_bytes(t, b, 1);
	} else if (cp < 0x800) {
		b[0] = (char)(0xC0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3F));
		put_bytes(t, b, 2);
	} else if (cp < 0x10000) {
		b[0] = (char)(0xE0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (char)(0x80 | (cp & 0x3F));
		put_bytes(t, b, 3);
	} else {
		b[0] = (char)(0xF0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (char)(0x80 | (cp & 0x3F));
		put_bytes(t, b, 4);
	}
}

/* The next code point of valid UTF-8 at s[*i]. */
static unsigned long
next_code_point(const char *s, size_t *i)
{
	const unsigned char *u = (const unsigned char *)s + *i;
	unsigned long cp;
	size_t n;

	if (u[0] < 0x80)
		cp = u[0], n = 1;
	else if (u[0] < 0xE0)
		cp = u[0] & 0x1F, n = 2;
	else if (u[0] < 0xF0)
		cp = u[0] & 0x0F, n = 3;
	else
		cp = u[0] & 0x07, n = 4;
	for (size_t k = 1; k < n; k++)
		cp = (cp << 6) | (u[k] & 0x3F);
	*i += n;
	return cp;
}

/* 8 to 40 bytes of valid UTF-8 without NUL: the bytes every encoding escapes, control
 * bytes, multibyte characters of every length, and letters between them. */
static void
random_secret(struct rng *r, struct text *out)
{
	static const char awkward[] = "\"\\%+&<>=/ \t\n";
	size_t want = 8 + pick(r, 33);
	struct text piece;

	out->len = 0;
	out->s[0] = '\0';
	while (out->len < want) {
		piece.len = 0;
		switch (pick(r, 6)) {
		case 0:
		case 1:
			put_code_point(&piece,
				       (unsigned char)awkward[pick(r, sizeof(awkward) - 1)]);
			break;
		case 2: {
			unsigned c = pick(r, 32);
			put_code_point(&piece, c == 0 ? 0x7F : c);
			break;
		}
		case 3:
			switch (pick(r, 3)) {
			case 0:
				put_code_point(&piece, 0x80 + pick(r, 0x800 - 0x80));
				break;
			case 1: {
				unsigned long cp = 0x800 + pick(r, 0x10000 - 0x800);
				put_code_point(&piece, cp >= 0xD800 && cp <= 0xDFFF ? 0x20AC : cp);
				break;
			}
			default:
				put_code_point(&piece, 0x10000 + pick(r, 0x110000 - 0x10000));
			}
			break;
		default:
			put_code_point(&piece, (pick(r, 2) ? 'a' : 'A') + pick(r, 26));
		}
		if (out->len + piece.len <= want)
			put_bytes(out, piece.s, piece.len);
	}
}

/* 1 to 12 characters, some of which form encoding escapes. */
static void
random_client_id(struct rng *r, struct text *out)
{
	static const char alphabet[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:@ ";
	size_t want = 1 + pick(r, 12);

	out->len = 0;
	out->s[0] = '\0';
	while (out->len < want) {
		char c = alphabet[pick(r, sizeof(alphabet) - 1)];
		put_bytes(out, &c, 1);
	}
}

/* ---- encodings, written here again so the code is not checked against itself ---- */

static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

enum hex_case { HEX_UPPER, HEX_LOWER, HEX_MIXED };

static char
hex_char(struct rng *r, unsigned v, enum hex_case hc)
{
	static const char upper[] = "0123456789ABCDEF", lower[] = "0123456789abcdef";

	if (hc == HEX_MIXED)
		hc = r != NULL && pick(r, 2) ? HEX_LOWER : HEX_UPPER;
	return hc == HEX_LOWER ? lower[v & 15] : upper[v & 15];
}

/* Percent-encoding: space as '+' (form) or %20; with r, some unreserved bytes escaped too,
 * as a sloppy encoder may. */
static void
percent_encode(struct rng *r, const struct text *in, int plus, enum hex_case hc, struct text *out)
{
	size_t i;

	out->len = 0;
	out->s[0] = '\0';
	for (i = 0; i < in->len; i++) {
		unsigned char c = (unsigned char)in->s[i];
		if (is_unreserved(c) && (r == NULL || pick(r, 8) != 0)) {
			put_bytes(out, (char *)&c, 1);
		} else if (c == ' ' && plus) {
			put(out, "+");
		} else {
			char e[3] = { '%', hex_char(r, c >> 4, hc), hex_char(r, c, hc) };
			put_bytes(out, e, 3);
		}
	}
}

static void
form_encode(const struct text *in, struct text *out)
{
	percent_encode(NULL, in, 1, HEX_UPPER, out);
}

static void
base64(const struct text *in, int padded, struct text *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)in->s;
	size_t i;

	out->len = 0;
	out->s[0] = '\0';
	for (i = 0; i < in->len; i += 3) {
		unsigned long chunk = (unsigned long)s[i] << 16;
		char q[4];
		if (i + 1 < in->len)
			chunk |= (unsigned long)s[i + 1] << 8;
		if (i + 2 < in->len)
			chunk |= s[i + 2];
		q[0] = alphabet[(chunk >> 18) & 63];
		q[1] = alphabet[(chunk >> 12) & 63];
		q[2] = i + 1 < in->len ? alphabet[(chunk >> 6) & 63] : '=';
		q[3] = i + 2 < in->len ? alphabet[chunk & 63] : '=';
		put_bytes(out, q, 4);
	}
	while (!padded && out->len > 0 && out->s[out->len - 1] == '=')
		out->s[--out->len] = '\0';
}

static void
pair(const struct text *id, const struct text *pw, struct text *out)
{
	out->len = 0;
	out->s[0] = '\0';
	put_bytes(out, id->s, id->len);
	put(out, ":");
	put_bytes(out, pw->s, pw->len);
}

/* JSON as json-c writes it: \" \\ \/, \b \f \n \r \t, \u00xx for other control bytes. */
static void
json_c_escape(const struct text *in, struct text *out)
{
	struct json_object *s = json_object_new_string_len(in->s, (int)in->len);
	const char *json = json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN);

	out->len = 0;
	put_bytes(out, json + 1, strlen(json) - 2); /* without the quotes */
	json_object_put(s);
}

/* JSON as Python's json.dumps writes it (ensure_ascii): everything outside ' '..'~' as
 * \uXXXX, astral characters as surrogate pairs, in the hex case given. */
static void
json_ascii_escape(struct rng *r, const struct text *in, enum hex_case hc, struct text *out)
{
	size_t i = 0;

	out->len = 0;
	out->s[0] = '\0';
	while (i < in->len) {
		unsigned long cp = next_code_point(in->s, &i);
		const char *simple = NULL;
		switch (cp) {
		case '"':
			simple = "\\\"";
			break;
		case '\\':
			simple = "\\\\";
			break;
		case '\n':
			simple = "\\n";
			break;
		case '\r':
			simple = "\\r";
			break;
		case '\t':
			simple = "\\t";
			break;
		case '\b':
			simple = "\\b";
			break;
		case '\f':
			simple = "\\f";
			break;
		}
		if (simple != NULL) {
			put(out, simple);
		} else if (cp >= 0x20 && cp < 0x7F) {
			char c = (char)cp;
			put_bytes(out, &c, 1);
		} else {
			unsigned long units[2] = { cp, 0 };
			size_t n = 1, u;
			if (cp >= 0x10000) {
				units[0] = 0xD800 + ((cp - 0x10000) >> 10);
				units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
				n = 2;
			}
			for (u = 0; u < n; u++) {
				char e[6] = { '\\',
					      'u',
					      hex_char(r, (unsigned)(units[u] >> 12), hc),
					      hex_char(r, (unsigned)(units[u] >> 8), hc),
					      hex_char(r, (unsigned)(units[u] >> 4), hc),
					      hex_char(r, (unsigned)units[u], hc) };
				put_bytes(out, e, 6);
			}
		}
	}
}

/* How servers HTML-escape: the five characters that must be, by name (Python's
 * html.escape); by number, decimal or hex, leading zeros and all; by name and everything
 * beyond ASCII by number (xmlcharrefreplace); everything but letters, digits and ",.-_ " by
 * hex number (OWASP ESAPI). ANY_WAY mixes all of it character by character, which only makes
 * sense over the secret itself: over an escaping it would be a second layer of escaping
 * chosen per character. */
enum html_flavor { BY_NAME, BY_NUMBER, BEYOND_ASCII, ESAPI, ANY_WAY, HTML_FLAVORS };

static void
put_reference(struct rng *r, struct text *out, unsigned long cp, int hex, enum hex_case hc)
{
	int shift = 0;

	if (!hex) {
		putf(out, "&#%s%lu;", r != NULL && pick(r, 4) == 0 ? "00" : "", cp);
		return;
	}
	putf(out, "&#%c%s", r != NULL && pick(r, 2) ? 'X' : 'x',
	     r != NULL && pick(r, 4) == 0 ? "0" : "");
	while (shift + 4 < 24 && (cp >> (shift + 4)) != 0)
		shift += 4;
	for (; shift >= 0; shift -= 4) {
		char digit = hex_char(r, (unsigned)(cp >> shift), hc);
		put_bytes(out, &digit, 1);
	}
	put(out, ";");
}

static void
html_escape(struct rng *r, enum html_flavor flavor, const struct text *in, struct text *out)
{
	size_t i = 0;

	out->len = 0;
	out->s[0] = '\0';
	while (i < in->len) {
		size_t start = i;
		unsigned long cp = next_code_point(in->s, &i);
		const char *name = cp == '&'	? "&amp;"
				   : cp == '<'	? "&lt;"
				   : cp == '>'	? "&gt;"
				   : cp == '"'	? "&quot;"
				   : cp == '\'' ? "&#x27;"
						: NULL;
		int plain = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') ||
			    (cp >= '0' && cp <= '9') || strchr(",.-_ ", (int)cp) != NULL;
		switch (name != NULL && flavor == ANY_WAY      ? (enum html_flavor)pick(r, 3)
			: flavor == ANY_WAY && pick(r, 6) == 0 ? BY_NUMBER
							       : flavor) {
		case BY_NAME:
		case BEYOND_ASCII:
			if (name != NULL)
				put(out, name);
			else if (flavor == BEYOND_ASCII && cp >= 0x80)
				put_reference(NULL, out, cp, 0, HEX_LOWER);
			else
				put_bytes(out, in->s + start, i - start);
			break;
		case BY_NUMBER:
			if (name != NULL || flavor == ANY_WAY)
				put_reference(r, out, cp, (int)pick(r, 2), HEX_MIXED);
			else
				put_bytes(out, in->s + start, i - start);
			break;
		case ESAPI:
			if (plain)
				put_bytes(out, in->s + start, i - start);
			else
				put_reference(NULL, out, cp, 1, HEX_LOWER);
			break;
		default:
			put_bytes(out, in->s + start, i - start);
		}
	}
}

/* ---- echoes: how a server writes the secret, and where in its reply ---- */

enum view {
	VIEW_RAW,
	VIEW_FORM,
	VIEW_PERCENT_LOWER,
	VIEW_PERCENT_MIXED,
	VIEW_HTML,
	VIEW_JSON_C,
	VIEW_JSON_ASCII,
	VIEW_FORM_BODY,
	VIEW_BASIC_HEADER,
	VIEW_BASE64_PAIR,
	VIEW_BASE64_PAIR_UNPADDED,
	VIEW_COUNT
};

static const char *const view_names[VIEW_COUNT] = {
	"raw",
	"form",
	"percent, lower-case hex",
	"percent, mixed case",
	"HTML-escaped",
	"JSON (json-c)",
	"JSON (ensure_ascii)",
	"form body",
	"Authorization: Basic",
	"base64 of id:secret",
	"base64 of id:secret, unpadded",
};

/* Text written around an echo, and so escaped with it. */
struct echo {
	struct text before; /* e.g. "Authorization: Basic " */
	struct text secret; /* the secret's part, as the server wrote it */
	int raw;	    /* that is the secret itself */
	int mixed;	    /* that has %XX in mixed case */
};

/* Every printable form of the secret, which no message may contain. */
struct forms {
	struct text secret, id, form_secret, form_id;
	struct text all[12];
	const char *name[12];
	size_t count;
};

static void
add_form(struct forms *f, const char *name, const struct text *t)
{
	assert_true(f->count < sizeof(f->all) / sizeof(f->all[0]));
	f->all[f->count] = *t;
	f->name[f->count++] = name;
}

static void
forms_build(struct forms *f)
{
	struct text t, joined;

	f->count = 0;
	form_encode(&f->secret, &f->form_secret);
	form_encode(&f->id, &f->form_id);
	add_form(f, "raw", &f->secret);
	add_form(f, "form", &f->form_secret);
	percent_encode(NULL, &f->secret, 0, HEX_UPPER, &t);
	add_form(f, "percent", &t);
	percent_encode(NULL, &f->secret, 0, HEX_LOWER, &t);
	add_form(f, "percent lower", &t);
	json_c_escape(&f->secret, &t);
	add_form(f, "JSON (json-c)", &t);
	json_ascii_escape(NULL, &f->secret, HEX_LOWER, &t);
	add_form(f, "JSON (ensure_ascii)", &t);
	json_ascii_escape(NULL, &f->secret, HEX_UPPER, &t);
	add_form(f, "JSON (ensure_ascii, upper)", &t);
	pair(&f->form_id, &f->form_secret, &joined);
	base64(&joined, 1, &t);
	add_form(f, "base64 of form(id):form(secret)", &t);
	base64(&joined, 0, &t);
	add_form(f, "base64 of form(id):form(secret), unpadded", &t);
	pair(&f->id, &f->secret, &joined);
	base64(&joined, 1, &t);
	add_form(f, "base64 of id:secret", &t);
	base64(&joined, 0, &t);
	add_form(f, "base64 of id:secret, unpadded", &t);
}

static void
echo_build(struct rng *r, const struct forms *f, enum view v, struct echo *e)
{
	struct text joined;

	set(&e->before, "");
	e->raw = v == VIEW_RAW;
	e->mixed = v == VIEW_PERCENT_MIXED;
	switch (v) {
	case VIEW_RAW:
		e->secret = f->secret;
		break;
	case VIEW_FORM:
		e->secret = f->form_secret;
		break;
	case VIEW_PERCENT_LOWER:
		percent_encode(NULL, &f->secret, 0, HEX_LOWER, &e->secret);
		break;
	case VIEW_PERCENT_MIXED:
		percent_encode(r, &f->secret, (int)pick(r, 2), HEX_MIXED, &e->secret);
		break;
	case VIEW_HTML:
		html_escape(r, (enum html_flavor)pick(r, HTML_FLAVORS), &f->secret, &e->secret);
		break;
	case VIEW_JSON_C:
		json_c_escape(&f->secret, &e->secret);
		break;
	case VIEW_JSON_ASCII:
		/* one encoder, one case: a page that shows it may escape it once more */
		json_ascii_escape(NULL, &f->secret, pick(r, 2) ? HEX_UPPER : HEX_LOWER, &e->secret);
		break;
	case VIEW_FORM_BODY:
		put(&e->before, "client_id=");
		put_bytes(&e->before, f->form_id.s, f->form_id.len);
		put(&e->before, "&client_secret=");
		e->secret = f->form_secret;
		break;
	case VIEW_BASIC_HEADER:
		put(&e->before, "Authorization: Basic ");
		pair(&f->form_id, &f->form_secret, &joined);
		base64(&joined, 1, &e->secret);
		break;
	case VIEW_BASE64_PAIR:
	case VIEW_BASE64_PAIR_UNPADDED:
		pair(&f->id, &f->secret, &joined);
		base64(&joined, v == VIEW_BASE64_PAIR, &e->secret);
		break;
	default:
		fail();
	}
}

/* How the text around an echo and the echo are written into the reply. */
enum escaper { AS_IS, JSON_C, JSON_ASCII, HTML, HTML_OF_JSON_C };

/* With r NULL (the text around the echo), HTML escaping names what it must and nothing
 * else, and JSON hex is lower-case. Over the secret itself (raw) any HTML escaping goes;
 * over an escaping of it, one a server would use, and no ESAPI over mixed-case percent
 * escapes (mixed): a second layer is caught over the exact output of common encoders. */
static void
escape(struct rng *r, enum escaper how, int raw, int mixed, const struct text *in, struct text *out)
{
	struct text json;
	enum html_flavor flavor = BY_NAME;

	if (r != NULL) {
		flavor = (enum html_flavor)pick(r, raw && how == HTML ? HTML_FLAVORS : ESAPI + 1);
		if (flavor == ESAPI && mixed)
			flavor = BY_NUMBER;
	}

	switch (how) {
	case AS_IS:
		*out = *in;
		break;
	case JSON_C:
		json_c_escape(in, out);
		break;
	case JSON_ASCII:
		json_ascii_escape(r, in, r != NULL ? HEX_MIXED : HEX_LOWER, out);
		break;
	case HTML:
		html_escape(r, flavor, in, out);
		break;
	case HTML_OF_JSON_C:
		json_c_escape(in, &json);
		html_escape(r, flavor, &json, out);
		break;
	}
}

/* A kind of reply whose message quotes the echo. The reply is head, then escaped
 * pre + before + secret + post, then tail; in the body, or in Location. */
struct container {
	const char *name;
	long status;
	const char *content_type;
	enum escaper how;
	const char *head, *tail, *pre, *post;
	int in_location;
	/* how the message shows it: the reply's own text (head and tail as shown), or the
	 * text the reply decodes to (decoded: the echo as it was, quoted: as json-c writes it) */
	int decoded, quoted;
	const char *shown_head, *shown_tail;
	size_t field;			   /* size of the excerpt's buffer */
	const char *message, *cut_message; /* "%s" marks the excerpt */
	/* views this reply does not carry: HTML escaping of HTML escaping, as a page that
	 * double-escapes writes it (&amp;quot;), is not blanked */
	unsigned excluded;
};

#define BIT(v)		(1u << (v))
#define OAUTH_ADVICE	" — check token_url, auth_method, scope, audience and resource"
#define NOT_JSON_200	"token endpoint's reply is not a JSON object (HTTP 200, application/json): "
#define CHECK_URL	" — check token_url"
#define OAUTH_DESC_HEAD "{\"error\":\"invalid_request\",\"error_description\":\""

static const struct container containers[] = {
	{ "500 text", 500, "text/plain", AS_IS, "", "", "bad secret: |", "|", 0, 0, 0, "", "", 121,
	  "token endpoint failed (HTTP 500): \"%s\" — try again later", NULL, 0 },
	{ "401 text", 401, "text/plain", AS_IS, "", "", "invalid credentials: |", "|", 0, 0, 0, "",
	  "", 121,
	  "token endpoint refused the request (HTTP 401): \"%s\" — check client_id and secret "
	  "(was the secret rotated?)",
	  NULL, 0 },
	{ "200 text", 200, "text/plain", AS_IS, "", "", "echo: |", "|", 0, 0, 0, "", "", 121,
	  "token endpoint's reply is not a JSON object (HTTP 200, text/plain): \"%s\"" CHECK_URL,
	  NULL, 0 },
	{ "500 JSON (json-c)", 500, "application/json", JSON_C,
	  "{\"error\":\"server_error\",\"error_description\":\"", "\"}", "bad secret: |", "|", 0, 0,
	  0, "{\"error\":\"server_error\",\"error_description\":\"", "\"}", 121,
	  "token endpoint failed (HTTP 500): \"%s\" — try again later", NULL, 0 },
	{ "500 JSON (ensure_ascii)", 500, "application/json", JSON_ASCII,
	  "{\"error\":\"server_error\",\"error_description\":\"", "\"}", "bad secret: |", "|", 0, 0,
	  0, "{\"error\":\"server_error\",\"error_description\":\"", "\"}", 121,
	  "token endpoint failed (HTTP 500): \"%s\" — try again later", NULL, 0 },
	{ "400 OAuth description (json-c)", 400, "application/json", JSON_C, OAUTH_DESC_HEAD, "\"}",
	  "bad secret: |", "|", 0, 1, 0, OAUTH_DESC_HEAD, "\"}", 121,
	  "token endpoint refused the request: invalid_request: %s" OAUTH_ADVICE,
	  "token endpoint answered HTTP 400: \"%s\"" CHECK_URL, 0 },
	{ "400 OAuth description (ensure_ascii)", 400, "application/json", JSON_ASCII,
	  OAUTH_DESC_HEAD, "\"}", "bad secret: |", "|", 0, 1, 0, OAUTH_DESC_HEAD, "\"}", 121,
	  "token endpoint refused the request: invalid_request: %s" OAUTH_ADVICE,
	  "token endpoint answered HTTP 400: \"%s\"" CHECK_URL, 0 },
	{ "400 OAuth error code", 400, "application/json", JSON_C, "{\"error\":\"", "\"}", "|", "|",
	  0, 1, 0, "{\"error\":\"", "\"}", 64,
	  "token endpoint refused the request: %s — check the profile against the provider's "
	  "documentation",
	  "token endpoint answered HTTP 400: \"%s\"" CHECK_URL, 0 },
	{ "200 token_type", 200, "application/json", JSON_C,
	  "{\"access_token\":\"abc\",\"token_type\":\"", "\"}", "|", "|", 0, 1, 0,
	  "{\"access_token\":\"abc\",\"token_type\":\"", "\"}", 40,
	  "token endpoint sent token_type \"%s\", not Bearer — keybearer hands out only Bearer "
	  "tokens; check token_url",
	  NOT_JSON_200 "\"%s\"" CHECK_URL, 0 },
	{ "200 expires_in", 200, "application/json", JSON_ASCII,
	  "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":\"", "\"}", "|", "|",
	  0, 1, 1, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":\"", "\"}",
	  48,
	  "token endpoint sent an unusable expires_in (%s) — it must be a non-negative whole "
	  "number of seconds; report this to the provider",
	  NOT_JSON_200 "\"%s\"" CHECK_URL, 0 },
	{ "500 HTML", 500, "text/html", HTML, "<html><body><h1>Error</h1><p>", "</p></body></html>",
	  "bad secret: |", "|", 0, 0, 0, "Error ", "", 121,
	  "token endpoint failed (HTTP 500): \"%s\" — try again later", NULL, BIT(VIEW_HTML) },
	{ "500 HTML showing JSON", 500, "text/html", HTML_OF_JSON_C,
	  "<pre>{&quot;description&quot;:&quot;", "&quot;}</pre>", "bad secret: |", "|", 0, 0, 0,
	  "{&quot;description&quot;:&quot;", "&quot;}", 121,
	  "token endpoint failed (HTTP 500): \"%s\" — try again later", NULL, BIT(VIEW_HTML) },
	{ "302 Location", 302, "text/html", AS_IS, "https://login.example.com/cb?echo=", "", "|",
	  "|", 1, 0, 0, "https://login.example.com/cb?echo=", "", 121,
	  "token endpoint redirected the request (HTTP 302 to %s) — keybearer does not follow "
	  "redirects: set token_url to the final URL",
	  NULL, 0 },
};

#define CONTAINERS (sizeof(containers) / sizeof(containers[0]))

/* One reply: what it says, and the message it must produce. */
struct reply_case {
	struct text reply_text; /* the body, or the Location */
	struct text excerpt;	/* what the message must quote */
	size_t cut;		/* bytes of the secret's part in the reply; 0: all */
	size_t excerpt_at;	/* where the excerpt starts in message */
	size_t lead;		/* bytes of the excerpt before "[redacted]" */
	char message[ERROR_MESSAGE_MAX];
	int exact; /* the excerpt fits its buffer: the whole message is known */
};

static int
is_token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=';
}

/* Builds the reply of container c echoing e, whole or cut at least 4 bytes into the
 * secret's part and at least one short of its end, and the message it must give. */
static void
reply_build(struct rng *r, const struct container *c, const struct echo *e, int cut_it,
	    struct reply_case *out)
{
	struct text lead, shown_lead, secret, post, shown_post, tmp;
	const char *format = cut_it && c->cut_message ? c->cut_message : c->message;
	int decoded = c->decoded && !cut_it;
	size_t run, keep, cut = 0;
	const char *mark;

	set(&lead, c->pre);
	put_bytes(&lead, e->before.s, e->before.len);
	escape(NULL, c->how, 0, 0, &lead, &shown_lead);
	escape(r, c->how, e->raw, e->mixed, &e->secret, &secret);
	set(&post, c->post);
	escape(NULL, c->how, 0, 0, &post, &shown_post);
	if (cut_it) {
		assert_true(secret.len > 4);
		cut = 4 + pick(r, (unsigned)(secret.len - 4));
	}
	out->cut = cut;

	set(&out->reply_text, c->head);
	put_bytes(&out->reply_text, shown_lead.s, shown_lead.len);
	put_bytes(&out->reply_text, secret.s, cut ? cut : secret.len);
	if (!cut) {
		put_bytes(&out->reply_text, shown_post.s, shown_post.len);
		put(&out->reply_text, c->tail);
	}

	/* The message shows the lead as the reply wrote it, or decoded: the text is ASCII
	 * without anything an escaping changes, but for the '&' a form body has. */
	set(&out->excerpt, decoded && c->quoted ? "\"" : decoded ? "" : c->shown_head);
	tmp = decoded ? lead : shown_lead;
	/* A run of 32 token characters is blanked from its start: "client_secret=" joins the
	 * form-encoded secret when its start is such a run. */
	keep = tmp.len;
	if (keep >= 14 && memcmp(tmp.s + keep - 14, "client_secret=", 14) == 0) {
		for (run = 14; run - 14 < secret.len && is_token_char(secret.s[run - 14]); run++)
			;
		if (run >= 32)
			keep -= 14;
	}
	put_bytes(&out->excerpt, tmp.s, keep);
	out->lead = out->excerpt.len;
	put(&out->excerpt, "[redacted]");
	if (!cut) {
		tmp = decoded ? post : shown_post;
		put_bytes(&out->excerpt, tmp.s, tmp.len);
		put(&out->excerpt, decoded && c->quoted ? "\"" : decoded ? "" : c->shown_tail);
	}
	/* an excerpt never ends in what was a tag's whitespace */
	while (out->excerpt.len > 0 && out->excerpt.s[out->excerpt.len - 1] == ' ')
		out->excerpt.s[--out->excerpt.len] = '\0';
	out->exact = out->excerpt.len + 8 <= (cut_it && c->cut_message ? 121 : c->field);
	mark = strstr(format, "%s");
	assert_non_null(mark);
	out->excerpt_at = (size_t)(mark - format);
	assert_true((size_t)snprintf(out->message, sizeof(out->message), "%.*s%s%s",
				     (int)(mark - format), format, out->excerpt.s,
				     mark + 2) < sizeof(out->message));
}

/* Whether s (n bytes) starts the secret, or the secret without the whitespace around it
 * (a server may strip that, so it is blanked too). */
static int
starts_secret(const char *s, size_t n, const struct text *secret)
{
	size_t start = 0, end = secret->len;

	if (n < secret->len && memcmp(s, secret->s, n) == 0)
		return 1;
	while (start < end && strchr(" \t\n\v\f\r", secret->s[start]) != NULL)
		start++;
	while (end > start && strchr(" \t\n\v\f\r", secret->s[end - 1]) != NULL)
		end--;
	return n < end - start && memcmp(s, secret->s + start, n) == 0;
}

/* The message must be the expected one, or when the excerpt did not fit, the expected one
 * with the excerpt cut before "[redacted]" or after it, and "..." added. A blank may start
 * early only where the text before the echo is itself the start of the secret. */
static int
message_matches(const struct reply_case *rc, const char *got, const struct text *secret)
{
	size_t head = rc->excerpt_at, tail = strlen(rc->message) - head - rc->excerpt.len;
	size_t got_len = strlen(got), shown, redacted, early;
	const char *excerpt = got + head;

	if (strcmp(got, rc->message) == 0)
		return 1;
	for (early = 1; early <= rc->lead && early < secret->len; early++) {
		if (!starts_secret(rc->excerpt.s + rc->lead - early, early, secret))
			continue;
		if (strncmp(got, rc->message, head + rc->lead - early) == 0 &&
		    strcmp(got + head + rc->lead - early, rc->message + head + rc->lead) == 0)
			return 1;
	}
	if (rc->exact || got_len < head + tail + 3 || strncmp(got, rc->message, head) != 0 ||
	    strcmp(got + got_len - tail, rc->message + head + rc->excerpt.len) != 0)
		return 0;
	shown = got_len - head - tail - 3;
	if (memcmp(excerpt + shown, "...", 3) != 0 || memcmp(excerpt, rc->excerpt.s, shown) != 0)
		return 0;
	redacted = (size_t)(strstr(rc->excerpt.s, "[redacted]") - rc->excerpt.s);
	return shown <= redacted || shown >= redacted + strlen("[redacted]");
}

/* ---- the runner ---- */

struct tally {
	unsigned leaks[VIEW_COUNT][CONTAINERS][2];
	unsigned wrong[VIEW_COUNT][CONTAINERS][2];
	unsigned shown;
	unsigned long cases, exact;
};

static void
print_bytes(const char *what, const char *s, size_t len)
{
	size_t i;

	print_error("  %s: \"", what);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\')
			print_error("%c", c);
		else
			print_error("\\x%02x", c);
	}
	print_error("\"\n");
}

static void
report(struct tally *t, uint64_t seed, unsigned n, const struct forms *f, enum auth_method m,
       const char *v, const struct container *c, size_t cut, const struct reply_case *rc,
       const char *got, const char *why)
{
	if (t->shown++ >= SHOWN_FAILURE)
		return;
	print_error("seed %llu, secret %u, %s, %s echo in %s%s: %s\n", (unsigned long long)seed, n,
		    config_auth_method_name(m), v, c->name, cut ? " (cut)" : "", why);
	print_bytes("secret", f->secret.s, f->secret.len);
	print_bytes("client_id", f->id.s, f->id.len);
	print_bytes(c->in_location ? "Location" : "body", rc->reply_text.s, rc->reply_text.len);
	print_error("  message:  %s\n  expected: %s\n", got, rc->message);
}

/* The request as keybearer sends it must carry the secret as the echoes assume. */
static void
request_build(const struct forms *f, enum auth_method method, struct token_request *req)
{
	struct profile p = { 0 };
	struct error err = { 0 };
	struct text expected, joined, b64;

	p.name = "property";
	p.token_url = "https://login.example.com/token";
	p.client_id = (char *)f->id.s;
	p.auth_method = method;
	assert_int_equal(token_request_build(&p,
					     &(struct token_credentials){ .secret = f->secret.s },
					     req, &err),
			 0);
	if (method == AUTH_CLIENT_SECRET_BASIC) {
		pair(&f->form_id, &f->form_secret, &joined);
		base64(&joined, 1, &b64);
		set(&expected, "Authorization: Basic ");
		put_bytes(&expected, b64.s, b64.len);
		assert_string_equal(req->authorization, expected.s);
	} else {
		set(&expected, "&client_secret=");
		put_bytes(&expected, f->form_secret.s, f->form_secret.len);
		assert_non_null(strstr(req->body, expected.s));
	}
}

static void
parse(const struct container *c, enum auth_method method, const struct reply_case *rc,
      const struct token_request *req, struct error *err)
{
	struct token_reply reply = { 0 };
	struct token_result result;

	reply.status = c->status;
	reply.content_type = c->content_type;
	reply.auth_method = method;
	reply.location = c->in_location ? rc->reply_text.s : NULL;
	reply.body = c->in_location ? "" : rc->reply_text.s;
	reply.body_len = c->in_location ? 0 : rc->reply_text.len;
	assert_int_equal(
		token_reply_parse(&reply, &req->redaction, (time_t)RECEIVED_AT, &result, err), -1);
	token_result_free(&result);
}

static void
check_case(struct tally *t, uint64_t seed, unsigned n, struct rng *r, const struct forms *f,
	   enum auth_method method, const struct token_request *req, enum view v, size_t ci,
	   int cut_it)
{
	const struct container *c = &containers[ci];
	struct reply_case rc;
	struct echo e;
	struct error err = { 0 };
	size_t i, cut;
	int leaked = 0;

	echo_build(r, f, v, &e);
	reply_build(r, c, &e, cut_it, &rc);
	cut = rc.cut;
	t->cases++;
	parse(c, method, &rc, req, &err);
	for (i = 0; i < f->count; i++) {
		if (strstr(err.message, f->all[i].s) != NULL) {
			char why[128];
			snprintf(why, sizeof(why), "the message shows the %s form", f->name[i]);
			report(t, seed, n, f, method, view_names[v], c, cut, &rc, err.message, why);
			leaked = 1;
		}
	}
	if (leaked)
		t->leaks[v][ci][cut_it]++;
	if (rc.exact)
		t->exact++;
	if (!message_matches(&rc, err.message, &f->secret)) {
		if (t->wrong[v][ci][cut_it]++ == 0 && !leaked)
			report(t, seed, n, f, method, view_names[v], c, cut, &rc, err.message,
			       "the message is not the reply with [redacted] where the echo was");
	}
}

static uint64_t
test_seed(void)
{
	const char *given = getenv("KEYBEARER_TEST_SEED");

	return given != NULL && *given != '\0' ? strtoull(given, NULL, 10) : DEFAULT_SEED;
}

static void
test_no_secret_in_any_echo(void **state)
{
	uint64_t seed = test_seed();
	struct rng r = { seed };
	struct tally *t = calloc(1, sizeof(*t));
	unsigned n, failures = 0;
	size_t v, ci, cut;

	(void)state;
	assert_non_null(t);
	for (n = 0; n < SECRETS; n++) {
		enum auth_method method =
			n % 2 ? AUTH_CLIENT_SECRET_BASIC : AUTH_CLIENT_SECRET_POST;
		struct token_request req;
		struct forms f;

		random_secret(&r, &f.secret);
		random_client_id(&r, &f.id);
		forms_build(&f);
		request_build(&f, method, &req);
		for (v = 0; v < VIEW_COUNT; v++) {
			for (ci = 0; ci < CONTAINERS; ci++) {
				if (containers[ci].excluded & BIT(v))
					continue;
				for (cut = 0; cut < 2; cut++)
					check_case(t, seed, n, &r, &f, method, &req, (enum view)v,
						   ci, (int)cut);
			}
		}
		token_request_free(&req);
	}
	print_message("seed %llu: %lu echoes of %u secrets, %lu with the exact message known\n",
		      (unsigned long long)seed, t->cases, SECRETS, t->exact);
	for (v = 0; v < VIEW_COUNT; v++) {
		for (ci = 0; ci < CONTAINERS; ci++) {
			for (cut = 0; cut < 2; cut++) {
				if (t->leaks[v][ci][cut] == 0 && t->wrong[v][ci][cut] == 0)
					continue;
				print_error("%-30s in %-36s%s: %u leaked, %u not as expected\n",
					    view_names[v], containers[ci].name,
					    cut ? " (cut)" : "      ", t->leaks[v][ci][cut],
					    t->wrong[v][ci][cut]);
				failures += t->leaks[v][ci][cut] + t->wrong[v][ci][cut];
			}
		}
	}
	/* most messages must be checked word for word, not only for what they lack */
	assert_true(t->exact * 10 > t->cases * 8);
	free(t);
	assert_int_equal(failures, 0);
}

/* ---- fixed cases: each row is an echo, and the excerpt it must give ---- */

#define Q "p\"w\\d/x +\xc3\xa9" /* quote, backslash, slash, space, plus, U+00E9 */

struct excerpt_row {
	const char *name;
	const char *client_id, *secret;
	const char *text;
	const char *expected;
};

static const struct excerpt_row excerpt_rows[] = {
	{ "raw", "c", Q, "bad: " Q " end", "bad: [redacted] end" },
	{ "form", "c", Q, "s=p%22w%5Cd%2Fx+%2B%C3%A9&x=1", "s=[redacted]&x=1" },
	{ "percent, lower-case hex, %20", "c", Q, "s=p%22w%5cd%2fx%20%2b%c3%a9", "s=[redacted]" },
	{ "percent, mixed case, escaped letters", "c", Q, "p%22%77%5Cd%2fx%20%2B%c3%A9",
	  "[redacted]" },
	{ "JSON as json-c writes it", "c", Q, "e: \"p\\\"w\\\\d\\/x +\xc3\xa9\"",
	  "e: \"[redacted]\"" },
	{ "JSON, ensure_ascii", "c", Q, "e: \"p\\\"w\\\\d/x +\\u00e9\"", "e: \"[redacted]\"" },
	{ "JSON, upper-case \\u", "c", Q, "e: \"p\\\"w\\\\d/x +\\u00E9\"", "e: \"[redacted]\"" },
	{ "JSON, every character \\u-escaped", "c", "ab\"", "\\u0061\\u0062\\u0022 end",
	  "[redacted] end" },
	{ "JSON surrogate pair", "c", "k\xf0\x9f\x98\x80y", "\"k\\ud83d\\ude00y\"",
	  "\"[redacted]\"" },
	{ "JSON as Go writes it: \\u003c \\u0026", "c", "a<b&c", "a\\u003cb\\u0026c",
	  "[redacted]" },
	{ "HTML, named", "c", Q, "<p>p&quot;w\\d/x +\xc3\xa9</p>", "[redacted]" },
	{ "HTML, numeric", "c", Q, "<p>p&#34;w&#92;d&#x2F;x&#32;&#43;&#xe9;</p>", "[redacted]" },
	{ "HTML, numeric with leading zeros", "c", "<a>", "x &#0060;a&#X0003E; y",
	  "x [redacted] y" },
	{ "Authorization: Basic, form(id):form(secret)", "c", Q,
	  "Authorization: Basic YzpwJTIydyU1Q2QlMkZ4KyUyQiVDMyVBOQ==",
	  "Authorization: Basic [redacted]" },
	{ "base64 of id:secret, unpadded", "c", Q, "got YzpwIndcZC94ICvDqQ.", "got [redacted]." },
	{ "base64 inside JSON, \\/ escaped", "c", "???", "\"Yzo\\/Pz8=\"", "\"[redacted]\"" },
	{ "JSON shown in an HTML page", "c", Q, "<pre>p\\&quot;w\\\\d\\/x +\xc3\xa9</pre>",
	  "[redacted]" },
	{ "JSON shown by ESAPI: the backslash escaped too", "c", "a/b", "a&#x5c;&#x2f;b",
	  "[redacted]" },
	{ "form body percent-encoded again", "c", Q, "next=p%2522w%255Cd%252Fx%2B%252B%25C3%25A9",
	  "next=[redacted]" },
	{ "JSON percent-encoded in a URL", "c", "a\"b", "?q=a%5C%22b", "?q=[redacted]" },
	{ "read as ISO-8859-1, JSON-escaped", "c", Q, "p\\\"w\\\\d/x +\\u00c3\\u00a9",
	  "[redacted]" },
	{ "read as ISO-8859-1, written as UTF-8", "c", Q, "p\"w\\d/x +\xc3\x83\xc2\xa9 !",
	  "[redacted] !" },
	/* json-c 0.16 reads \ud877\udc00 (U+2DC00) as U+FFFD */
	{ "a character replaced by U+FFFD", "c",
	  "ab\xf0\xad\xb0\x80"
	  "cd",
	  "x ab\xef\xbf\xbd"
	  "cd y",
	  "x [redacted] y" },
	{ "a character replaced byte by byte", "c",
	  "ab\xc3\xa9"
	  "cd",
	  "x ab??cd y", "x [redacted] y" },
	{ "cut mid-secret", "c", "hunter2!", "x hunter", "x [redacted]" },
	{ "cut after 3 bytes: too short to tell", "c", "hunter2!", "x hun", "x hun" },
	{ "cut inside %XX", "c", Q, "x p%22w%5", "x [redacted]" },
	{ "cut inside \\u", "c", Q, "x p\\\"w\\\\d\\/x +\\u00", "x [redacted]" },
	{ "cut inside &#x", "c", Q, "x p&#x2", "x [redacted]" },
	{ "cut inside a surrogate pair", "c", "k\xf0\x9f\x98\x80y", "k\\ud83d\\ude", "[redacted]" },
	{ "cut in the first escape", "c", "\xc3\xa9tude", "x &#xE9", "x [redacted]" },
	{ "cut Basic header", "c", Q, "Basic YzpwJTIy", "Basic [redacted]" },
	{ "an echo in an attribute that closes the tag", "c", "a\">bc",
	  "<input value=\"a\">bc\"> ok", "[redacted]\"> ok" },
	{ "an echo that stays inside its tag", "c", "hunter2!", "<a title='hunter2!'>link</a>",
	  "link" },
	{ "starts inside a blank, ends after it", "c", "hunter2!", "hunhunter2! x",
	  "hun[redacted] x" },
	{ "stripped by the server", "c", " hunter2!\t", "bad secret 'hunter2!'",
	  "bad secret '[redacted]'" },
	{ "stripped to less than 4 bytes: too short to tell", "c", " ab ", "ab cd", "ab cd" },
	{ "unrelated text stays", "c", "hunter2!", "hunter is here &amp; there",
	  "hunter is here &amp; there" },
	{ "a path with a backslash stays", "c", "hunter2!", "C:\\temp", "C:\\temp" },
};

static void
test_excerpt_rows(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(excerpt_rows) / sizeof(excerpt_rows[0]); i++) {
		const struct excerpt_row *row = &excerpt_rows[i];
		struct redaction redaction;
		char out[128];

		assert_int_equal(token_redaction_build(row->client_id, row->secret, &redaction), 0);
		token_excerpt(row->text, strlen(row->text), &redaction, out, sizeof(out));
		failures += mismatch_str(row->name, "excerpt", out, row->expected);
		redaction_free(&redaction);
	}
	assert_int_equal(failures, 0);
}

/* Parts of a reply beyond the body that a message quotes: each is as untrusted. */
struct reply_row {
	const char *name;
	long status;
	const char *content_type, *retry_after, *location, *body;
	const char *message;
};

static const struct reply_row reply_rows[] = {
	{ "description json-c cannot decode", 400, "application/json", NULL, NULL,
	  "{\"error\":\"invalid_client\",\"error_description\":\"bad ab\\ud877\\udc00cd!\"}",
	  "token endpoint refused the request: invalid_client: bad [redacted]! — check "
	  "client_id, the secret (was it rotated?) and auth_method (this request used "
	  "client_secret_post)" },
	{ "Content-Type", 200,
	  "text/plain; echo=ab\xf0\xad\xb0\x80"
	  "cd",
	  NULL, NULL, "nope",
	  "token endpoint's reply is not a JSON object (HTTP 200, text/plain; echo=[redacted]): "
	  "\"nope\" — check token_url" },
	{ "Retry-After", 503, "text/plain",
	  "ab\xf0\xad\xb0\x80"
	  "cd",
	  NULL, "busy",
	  "token endpoint failed (HTTP 503, retry after [redacted]): \"busy\" — try again later" },
	{ "Location", 302, NULL, NULL, "https://x.example/?s=ab%F0%AD%B0%80cd", "",
	  "token endpoint redirected the request (HTTP 302 to https://x.example/?s=[redacted]) — "
	  "keybearer does not follow redirects: set token_url to the final URL" },
};

static void
test_reply_rows(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(reply_rows) / sizeof(reply_rows[0]); i++) {
		const struct reply_row *row = &reply_rows[i];
		struct token_reply reply = { 0 };
		struct token_result result;
		struct redaction redaction;
		struct error err = { 0 };

		assert_int_equal(token_redaction_build("c",
						       "ab\xf0\xad\xb0\x80"
						       "cd",
						       &redaction),
				 0);
		reply.status = row->status;
		reply.content_type = row->content_type;
		reply.retry_after = row->retry_after;
		reply.location = row->location;
		reply.body = row->body;
		reply.body_len = strlen(row->body);
		failures += mismatch_int(
			row->name, "rc",
			token_reply_parse(&reply, &redaction, (time_t)RECEIVED_AT, &result, &err),
			-1);
		failures += mismatch_str(row->name, "message", err.message, row->message);
		token_result_free(&result);
		redaction_free(&redaction);
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excerpt_rows),
		cmocka_unit_test(test_reply_rows),
		cmocka_unit_test(test_no_secret_in_any_echo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
