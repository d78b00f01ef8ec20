/* Go's GOAUTH authentication command (Go 1.24 and later): GOAUTH='keybearer goauth'.
 *
 * Built to `go help goauth` (golang/go, src/cmd/go/internal/help/helpdoc.go, HelpGoAuth),
 * and to how cmd/go/internal/auth runs the command (userauth.go: runAuthCommand,
 * parseUserAuth, writeResponseToStdin; auth.go: AddCredentials, loadCredential). What the
 * command prints (the grammar's comments, written (* ... *) here):
 *
 *	Response      = { CredentialSet } .
 *	CredentialSet = URLLine { URLLine } BlankLine { HeaderLine } BlankLine .
 *	URLLine       = (* URL that starts with "https://" *) '\n' .
 *	HeaderLine    = (* HTTP Request header *) '\n' .
 *	BlankLine     = '\n' .
 *
 * and what go writes on its stdin after a 4xx, with the URL as the last argument:
 *
 *	Response      = StatusLine { HeaderLine } BlankLine .
 *	StatusLine    = Protocol Space Status '\n' .
 *	Protocol      = (* HTTP protocol *) .
 *	Space         = ' ' .
 *	Status        = (* HTTP status code *) .
 *	BlankLine     = '\n' .
 *	HeaderLine    = (* HTTP Response's header *) '\n' .
 *
 * "Before the first HTTPS fetch, the go command will invoke each GOAUTH command in the list
 * with no additional arguments and no input. If the server responds with any 4xx code, the
 * go command will invoke the GOAUTH commands again with the URL as an additional
 * command-line argument and the HTTP Response to the program's stdin."
 *
 * go writes res.Proto + " " + res.Status ("HTTP/1.1 401 Unauthorized", "HTTP/2.0 401
 * Unauthorized", "HTTP/1.1 401" when the server sent no reason), then one "Key: v1, v2"
 * line per header (canonical keys, in map order) and "\n", with LF line ends only and
 * never a body. It keeps the answer's headers per URL prefix (the "https://" and one
 * trailing "/" cut off) and sends them to every URL under that prefix, a path segment at a
 * time: host/api covers host/api and host/api/x, not host/apix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "lockstate.h"
#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "token.h"
#include "url.h"

/* What the response on stdin may hold, whole: go writes the status line and the headers
 * of a 4xx, never its body — a few hundred bytes. 1 MiB leaves room for any server's
 * headers (net/http's client would take up to 10 MB, which no 4xx needs). A larger one is
 * refused, never cut. */
#define GOAUTH_RESPONSE_MAX (1024 * 1024)

/* What to do about stdin that is not go's response. */
#define NOT_FROM_GO                                                                                \
	"run keybearer goauth from GOAUTH: go writes the response of a 4xx there (go help "        \
	"goauth)"

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A byte of a header's value or a status line's reason: HTAB, SP, VCHAR, obs-text. */
static int
is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 token68, with what may come right after: 1*( ALPHA / DIGIT / "-" / "." / "_" /
 * "~" / "+" / "/" ) *"=". Returns its length, 0 when there is none. */
static size_t
token68_length(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len &&
	       ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		(s[i] >= '0' && s[i] <= '9') || (s[i] != '\0' && strchr("-._~+/", s[i]) != NULL)))
		i++;
	if (i == 0)
		return 0;
	while (i < len && s[i] == '=')
		i++;
	return i;
}

/* An auth-param's value, token or quoted-string, starting at s[*i]: 0 with *i past it and
 * *is_invalid_token set when it says invalid_token (after unquoting); -1 when malformed. */
static int
param_value(const char *s, size_t len, size_t *i, int *is_invalid_token)
{
	static const char want[] = "invalid_token";
	size_t at = *i, n = 0;
	int same = 1;

	if (at < len && s[at] != '"') {
		while (at < len && is_tchar((unsigned char)s[at])) {
			same = same && n < sizeof(want) - 1 && s[at] == want[n];
			n++;
			at++;
		}
		if (n == 0)
			return -1;
	} else {
		for (at++;; at++) {
			if (at >= len)
				return -1; /* no closing quote */
			if (s[at] == '"')
				break;
			if (s[at] == '\\' && ++at >= len)
				return -1;
			if (!is_field_char((unsigned char)s[at]))
				return -1;
			same = same && n < sizeof(want) - 1 && s[at] == want[n];
			n++;
		}
		at++;
	}
	*is_invalid_token = same && n == sizeof(want) - 1;
	*i = at;
	return 0;
}

/* An auth-param at s[*i]: token BWS "=" BWS ( token / quoted-string ). 1 with *i past it
 * and *error_invalid set when it is error=invalid_token (the name case-insensitive, the
 * code not); 0 when what is there is no auth-param (*i unchanged); -1 when its value is
 * malformed. */
static int
auth_param(const char *s, size_t len, size_t *i, int *error_invalid)
{
	size_t at = *i, name_len;
	int says;

	while (at < len && is_tchar((unsigned char)s[at]))
		at++;
	name_len = at - *i;
	while (at < len && is_ows(s[at]))
		at++;
	if (name_len == 0 || at >= len || s[at] != '=')
		return 0;
	at++;
	while (at < len && is_ows(s[at]))
		at++;
	/* "abc=" or "abc==" with nothing after: a token68's padding, no parameter */
	if (at >= len || s[at] == '=' || s[at] == ',')
		return 0;
	if (param_value(s, len, &at, &says) != 0)
		return -1;
	*error_invalid = says && name_len == 5 && strncasecmp(s + *i, "error", 5) == 0;
	*i = at;
	return 1;
}

/* RFC 9110 section 11.6.1, and RFC 6750 section 3 for Bearer's error:
 *	WWW-Authenticate = #challenge
 *	challenge  = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 *	auth-param = token BWS "=" BWS ( token / quoted-string )
 *	token68    = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * Whether a Bearer challenge has error="invalid_token". The list is comma-separated, and a
 * parameter after a comma belongs to the challenge before it (go joins several
 * WWW-Authenticate headers with ", " too). A value that does not parse whole shows
 * nothing: whatever it holds, it says no invalid_token. */
int
goauth_challenge_invalid_token(const char *s, size_t len)
{
	size_t i = 0, start;
	int bearer = 0, in_challenge = 0, found = 0, rc, says = 0;

	while (i < len) {
		/* empty list elements are allowed: "a, , b" */
		while (i < len && (is_ows(s[i]) || s[i] == ','))
			i++;
		if (i >= len)
			break;
		rc = auth_param(s, len, &i, &says);
		if (rc < 0 || (rc == 1 && !in_challenge))
			return 0; /* a malformed value, a parameter before any scheme */
		if (rc == 1) {
			found = found || (bearer && says);
		} else {
			/* a challenge: its scheme, then maybe one parameter or a token68 */
			start = i;
			while (i < len && is_tchar((unsigned char)s[i]))
				i++;
			if (i == start)
				return 0;
			bearer = i - start == 6 && strncasecmp(s + start, "Bearer", 6) == 0;
			in_challenge = 1;
			if (i < len && s[i] == ' ') {
				while (i < len && s[i] == ' ')
					i++;
				rc = auth_param(s, len, &i, &says);
				if (rc < 0)
					return 0;
				if (rc == 1)
					found = found || (bearer && says);
				else
					i += token68_length(s + i, len - i);
			}
		}
		while (i < len && is_ows(s[i]))
			i++;
		if (i < len && s[i] != ',')
			return 0;
	}
	return found;
}

/* "HTTP/" DIGIT "." DIGIT SP 3DIGIT [ SP reason ]: the status, or -1. go writes the
 * reason its client read (none when the server sent none; an HTTP/2 answer of a code Go
 * has no text for leaves a space with nothing after it). */
static int
parse_status_line(const char *line, size_t len)
{
	size_t i;

	if (len < 12 || strncmp(line, "HTTP/", 5) != 0 || line[5] < '0' || line[5] > '9' ||
	    line[6] != '.' || line[7] < '0' || line[7] > '9' || line[8] != ' ' || line[9] < '1' ||
	    line[9] > '5' || line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9')
		return -1;
	if (len > 12 && line[12] != ' ')
		return -1;
	for (i = 13; i < len; i++) {
		if (!is_field_char((unsigned char)line[i]))
			return -1;
	}
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* NAME ":" OWS VALUE OWS, NAME a token (no space before the colon, no folding): 0 with
 * the value in *value, *value_len; -1. */
static int
parse_header_line(const char *line, size_t len, const char **name, size_t *name_len,
		  const char **value, size_t *value_len)
{
	size_t i = 0, end;

	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= len || line[i] != ':')
		return -1;
	*name = line;
	*name_len = i;
	for (end = ++i; end < len; end++) {
		if (!is_field_char((unsigned char)line[end]))
			return -1;
	}
	while (i < len && is_ows(line[i]))
		i++;
	while (len > i && is_ows(line[len - 1]))
		len--;
	*value = line + i;
	*value_len = len - i;
	return 0;
}

static int
response_error(struct error *err, const char *why)
{
	return error_set(err, KB_EXIT_DATA, "go's response on stdin: %s — %s", why, NOT_FROM_GO);
}

static int
line_error(struct error *err, unsigned line, const char *what)
{
	return error_set(err, KB_EXIT_DATA, "go's response on stdin: line %u %s — %s", line, what,
			 NOT_FROM_GO);
}

int
goauth_parse_response(const char *text, size_t len, struct goauth_response *resp, struct error *err)
{
	const char *line, *newline, *name, *value;
	size_t at = 0, line_len, name_len, value_len;
	unsigned number = 0;
	int bearer_invalid = 0;

	memset(resp, 0, sizeof(*resp));
	if (len == 0)
		return response_error(err, "it is empty, without the status line of the response");
	/* said first, whatever line they are on: neither is ever in what go writes */
	if (memchr(text, '\0', len) != NULL)
		return response_error(err, "it holds a NUL byte");
	if (memchr(text, '\r', len) != NULL)
		return response_error(err, "it holds a carriage return (CR): go ends every line "
					   "with a line feed (LF) alone");
	for (;;) {
		if (at >= len)
			return response_error(err, "it ends without the blank line that ends the "
						   "headers");
		line = text + at;
		newline = memchr(line, '\n', len - at);
		if (newline == NULL)
			return response_error(err, "its last line has no line end (LF), and the "
						   "blank line that ends the headers is missing");
		line_len = (size_t)(newline - line);
		at += line_len + 1;
		number++;
		if (number == 1) {
			resp->status = parse_status_line(line, line_len);
			if (resp->status < 0)
				return line_error(err, number,
						  "is not a status line (HTTP/x.y, a space, a "
						  "3-digit status, an optional reason)");
			continue;
		}
		if (line_len == 0)
			break;
		if (is_ows(line[0]))
			return line_error(err, number,
					  "starts with white space (a folded header line)");
		if (parse_header_line(line, line_len, &name, &name_len, &value, &value_len) != 0)
			return line_error(err, number,
					  "is not a header line (NAME: VALUE, the value free of "
					  "control characters)");
		if (name_len == 16 && strncasecmp(name, "WWW-Authenticate", 16) == 0 &&
		    goauth_challenge_invalid_token(value, value_len))
			bearer_invalid = 1;
	}
	if (at != len)
		return response_error(err, "more follows the blank line that ends the headers");
	resp->invalid_token = bearer_invalid;
	resp->refused = resp->status == 401 || (resp->status == 403 && bearer_invalid);
	return 0;
}

int
goauth_url_prefix(const char *entry, char *out, size_t size)
{
	struct url u;
	char port[8] = "";
	int colon, n;

	if (url_parse(entry, &u) != 0 || strcmp(u.scheme, "https") != 0)
		return 1;
	/* go matches a path only, never a query: such an entry is no prefix go can use */
	if (strchr(u.path, '?') != NULL)
		return 1;
	if (u.port != 443)
		snprintf(port, sizeof(port), ":%d", u.port);
	colon = strchr(u.host, ':') != NULL; /* IPv6, written in brackets */
	n = snprintf(out, size, "https://%s%s%s%s%s", colon ? "[" : "", u.host, colon ? "]" : "",
		     port, u.path);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The answer being written: it holds tokens, and is wiped when freed. */
struct answer {
	char *text;
	size_t len, cap;
	char **prefixes; /* every prefix in the answer: a prefix is answered once */
	size_t prefix_count;
};

static int
answer_add(struct answer *a, const char *s)
{
	size_t n = strlen(s), cap;
	char *grown;

	if (a->len + n + 1 > a->cap) {
		cap = (a->len + n + 1) * 2;
		grown = malloc(cap);
		if (grown == NULL)
			return -1;
		if (a->text != NULL) {
			memcpy(grown, a->text, a->len);
			safefile_free_secret(a->text, a->cap);
		}
		a->text = grown;
		a->cap = cap;
	}
	memcpy(a->text + a->len, s, n + 1);
	a->len += n;
	return 0;
}

static void
answer_free(struct answer *a)
{
	size_t i;

	if (a->text != NULL)
		safefile_free_secret(a->text, a->cap);
	for (i = 0; i < a->prefix_count; i++)
		free(a->prefixes[i]);
	free(a->prefixes);
	memset(a, 0, sizeof(*a));
}

static int
answer_has_prefix(const struct answer *a, const char *prefix)
{
	size_t i;

	for (i = 0; i < a->prefix_count; i++) {
		if (strcmp(a->prefixes[i], prefix) == 0)
			return 1;
	}
	return 0;
}

static int
out_of_memory(struct error *err)
{
	return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
}

/* The https prefixes of p's urls that the answer does not have yet, appended to *list
 * (malloc'ed). Returns how many; -1 when out of memory. *usable counts every https prefix
 * of p's, answered already or not. */
static int
new_prefixes(const struct answer *a, const struct profile *p, char ***list, size_t *count,
	     size_t *usable)
{
	size_t i, j, size;
	char *prefix, **grown;
	int rc;

	*usable = 0;
	for (i = 0; i < p->url_count; i++) {
		size = strlen(p->urls[i]) + URL_HOST_MAX + 16;
		prefix = malloc(size);
		if (prefix == NULL)
			return -1;
		rc = goauth_url_prefix(p->urls[i], prefix, size);
		if (rc == 0)
			++*usable;
		for (j = 0; rc == 0 && j < *count; j++)
			rc = strcmp((*list)[j], prefix) == 0;
		if (rc != 0 || answer_has_prefix(a, prefix)) {
			free(prefix);
			continue;
		}
		grown = realloc(*list, (*count + 1) * sizeof(*grown));
		if (grown == NULL) {
			free(prefix);
			return -1;
		}
		*list = grown;
		(*list)[(*count)++] = prefix;
	}
	return (int)*count;
}

/* Appends p's credential set: its prefixes that the answer lacks, a blank line, the
 * header, a blank line. Nothing when every prefix is answered already (an earlier
 * profile's: go keeps the last set for a prefix, keybearer the first profile). The token
 * must be a b64token: a CR or LF in it would end the header line, and it is refused
 * whole, never cut. */
static int
answer_profile(struct answer *a, const struct profile *p, const char *token, struct error *err)
{
	char **list = NULL, **grown;
	size_t count = 0, usable, i;
	int rc = -1;

	if (!token_is_b64token(token, strlen(token))) {
		error_set(err, KB_EXIT_DATA,
			  "the token of profile %s holds characters a Bearer header cannot "
			  "carry — run keybearer invalidate --profile %s",
			  p->name, p->name);
		goto out;
	}
	if (new_prefixes(a, p, &list, &count, &usable) < 0)
		goto oom;
	if (count == 0) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (answer_add(a, list[i]) != 0 || answer_add(a, "\n") != 0)
			goto oom;
	}
	if (answer_add(a, "\nAuthorization: Bearer ") != 0 || answer_add(a, token) != 0 ||
	    answer_add(a, "\n\n") != 0)
		goto oom;
	grown = realloc(a->prefixes, (a->prefix_count + count) * sizeof(*grown));
	if (grown == NULL)
		goto oom;
	a->prefixes = grown;
	memcpy(a->prefixes + a->prefix_count, list, count * sizeof(*list));
	a->prefix_count += count;
	count = 0;
	rc = 0;
	goto out;
oom:
	out_of_memory(err);
out:
	for (i = 0; i < count; i++)
		free(list[i]);
	free(list);
	return rc;
}

/* How many https prefixes go could use p has. */
static int
usable_prefixes(const struct profile *p, size_t *usable, struct error *err)
{
	struct answer none = { 0 };
	char **list = NULL;
	size_t count = 0, i;
	int rc = new_prefixes(&none, p, &list, &count, usable);

	for (i = 0; i < count; i++)
		free(list[i]);
	free(list);
	return rc < 0 ? out_of_memory(err) : 0;
}

/* A profile go can send the token of: one https prefix at least. */
static int
require_https_prefix(const struct profile *p, struct error *err)
{
	size_t usable;

	if (usable_prefixes(p, &usable, err) != 0)
		return -1;
	if (usable == 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "profile %s claims no https:// URL, and go sends credentials only "
				 "over https — add the https:// prefixes go fetches from to its "
				 "urls",
				 p->name);
	return 0;
}

/* Whether the profile's cached token is one get would hand out with no refresh due: fresh
 * by both clocks, outside its refresh window. Nothing is minted, no lock taken, no
 * keyring or terminal touched. 0 with rec set; 1 when not; -1 with err set. */
static int
fresh_cached_token(const struct config *cfg, const struct profile *p, struct cache_record *rec,
		   struct error *err)
{
	struct error ignored = { 0 };
	struct cache_clock now;
	int rc;

	/* a profile get would refuse to mint for is not answered from its cache either */
	if (config_check_mintable(cfg, p, &ignored) != 0)
		return 1;
	rc = cache_lookup(p, rec, err);
	if (rc != 0)
		return rc;
	cache_clock_now(&now);
	if (cache_need(rec, &now, p->refresh_margin, -1) == CACHE_FRESH)
		return 0;
	cache_record_free(rec);
	return 1;
}

/* The first call, without --profile: every profile whose cached token is fresh. */
static int
answer_fresh(const struct config *cfg, struct answer *a, struct error *err)
{
	struct cache_record rec = { 0 };
	size_t i, usable;
	int rc;

	for (i = 0; i < cfg->count; i++) {
		const struct profile *p = &cfg->profiles[i];
		if (usable_prefixes(p, &usable, err) != 0)
			return -1;
		if (usable == 0)
			continue;
		rc = fresh_cached_token(cfg, p, &rec, err);
		if (rc < 0)
			return -1;
		if (rc == 1) {
			error_debug(
				"profile %s: no fresh cached token, not answered (run keybearer "
				"get --profile %s, or name it with --profile)",
				p->name, p->name);
			continue;
		}
		rc = answer_profile(a, p, rec.access_token, err);
		cache_record_free(&rec);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The first call with --profile: exactly those profiles, minting as needed. */
static int
answer_named(const struct config *cfg, const char *const *names, size_t count, struct answer *a,
	     struct error *err)
{
	struct cache_record rec = { 0 };
	const struct profile *p;
	size_t i;
	int rc;

	for (i = 0; i < count; i++) {
		p = config_select(cfg, names[i], err);
		if (p == NULL || require_https_prefix(p, err) != 0)
			return -1;
	}
	for (i = 0; i < count; i++) {
		if (plugin_token_for_profile(cfg, names[i], &p, &rec, err) != 0)
			return -1;
		rc = answer_profile(a, p, rec.access_token, err);
		cache_record_free(&rec);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* The profile that claims url: the one whose urls claim it, or with --profile, the named
 * one with the longest claim. 0 with *p set; 1 when none claims it; -1. */
static int
claiming_profile(const struct config *cfg, const char *url, const char *const *names, size_t count,
		 const struct profile **p, struct error *err)
{
	const struct profile *candidate;
	struct url entry;
	size_t i;
	long best = -1, len;
	int found;

	if (count == 0)
		return plugin_match_url(cfg, url, NULL, p, err);
	for (i = 0; i < count; i++) {
		found = plugin_match_url(cfg, url, names[i], &candidate, err);
		if (found < 0)
			return -1;
		if (found == 1 || url_parse(config_profile_claim(candidate, url), &entry) != 0)
			continue;
		len = (long)strlen(entry.path);
		if (len > best) {
			best = len;
			*p = candidate;
		}
	}
	return best < 0 ? 1 : 0;
}

/* The cached token of the profile, when there is one: go does not say which token it
 * sent, so the refused one is taken to be the one cached now. It is dropped only if it is
 * still the cached one when the lock is held (lockstate_drop's only_if): a token another
 * process puts in its place meanwhile survives. One that another process put there before
 * this call is dropped too — it costs a token request, never a wrong answer. */
static int
drop_refused(const struct profile *p, struct error *err)
{
	struct cache_record cached = { 0 };
	int rc = cache_lookup(p, &cached, err);

	if (rc == 0) {
		rc = lockstate_drop(p, cached.access_token, err) < 0 ? -1 : 0;
		if (rc == 0)
			error_debug("profile %s: go's server refused the token: dropped it",
				    p->name);
	} else if (rc == 1) {
		rc = 0; /* nothing cached, nothing to drop */
	}
	cache_record_free(&cached);
	return rc;
}

/* The second call: go's URL and the response it got. */
static int
answer_url(const struct config *cfg, const char *url, const struct goauth_response *resp,
	   const char *const *names, size_t count, struct answer *a, struct error *err)
{
	struct cache_record rec = { 0 };
	const struct profile *p = NULL;
	size_t usable;
	int found, rc;

	found = claiming_profile(cfg, url, names, count, &p, err);
	if (found != 0)
		return found < 0 ? -1 : 0; /* no profile claims it: go goes on without */
	if (usable_prefixes(p, &usable, err) != 0)
		return -1;
	if (usable == 0) {
		error_debug("profile %s claims %s only with a query, which go cannot match",
			    p->name, url);
		return 0;
	}
	if (resp->refused && drop_refused(p, err) != 0)
		return -1;
	if (obtain_token(cfg, p, -1, &rec, err) != 0)
		return -1;
	rc = answer_profile(a, p, rec.access_token, err);
	cache_record_free(&rec);
	return rc;
}

static int
usage(struct error *err, const char *why)
{
	return error_set(
		err, KB_EXIT_USAGE,
		"goauth arguments: %s — go runs GOAUTH='keybearer goauth [--profile P]...' "
		"with no argument, then with a URL; see keybearer goauth --help",
		why);
}

int
plugin_goauth(int argc, char **argv, struct error *err)
{
	const char **names = NULL, *url = NULL;
	struct goauth_response resp = { 0 };
	struct answer a = { 0 };
	struct config cfg;
	char *input = NULL;
	size_t count = 0, len = 0, j;
	int i, rc = -1, loaded = 0;

	names = calloc((size_t)argc, sizeof(*names));
	if (names == NULL)
		return out_of_memory(err);
	for (i = 1; i < argc; i++) {
		const char *name = NULL;
		if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strncmp(argv[i], "--profile=", 10) == 0)
			name = argv[i] + 10;
		else if (argv[i][0] == '-') {
			usage(err, strcmp(argv[i], "--profile") == 0 ? "--profile needs a name"
								     : "unknown option");
			goto out;
		} else if (i != argc - 1) {
			usage(err, "more arguments than go passes (one URL, last)");
			goto out;
		} else {
			url = argv[i];
			continue;
		}
		for (j = 0; j < count && strcmp(names[j], name) != 0; j++)
			;
		if (j == count)
			names[count++] = name; /* each named once, answered once */
	}
	if (url != NULL && strncasecmp(url, "https://", 8) != 0) {
		error_set(err, KB_EXIT_USAGE,
			  "goauth arguments: %.*s%s is not an https:// URL, and go asks only about "
			  "those — see keybearer goauth --help",
			  PLUGIN_QUOTE(url, 64));
		goto out;
	}
	/* The first call has no input (go gives it /dev/null): stdin is not read, so a
	 * terminal there is never waited on. */
	if (url != NULL && (plugin_read_stdin(&input, &len, GOAUTH_RESPONSE_MAX, err) != 0 ||
			    goauth_parse_response(input, len, &resp, err) != 0))
		goto out;
	if (config_load(&cfg, err) != 0)
		goto out;
	loaded = 1;
	if (url != NULL)
		rc = answer_url(&cfg, url, &resp, names, count, &a, err);
	else if (count > 0)
		rc = answer_named(&cfg, names, count, &a, err);
	else
		rc = answer_fresh(&cfg, &a, err);
	/* the whole answer or nothing: a failure leaves stdout empty */
	if (rc == 0 && a.len > 0)
		rc = output_answer(a.text, err);
out:
	if (loaded)
		config_free(&cfg);
	answer_free(&a);
	if (input != NULL)
		safefile_free_secret(input, len);
	free(names);
	return rc;
}
