#include "url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A path whose meaning depends on who normalizes it: dot segments (which curl and
 * browsers remove), encoded dots, slashes and backslashes (which some servers decode). A
 * prefix check on such a path could pass for a URL that lands elsewhere: refused. */
static int
ambiguous_path(const char *path)
{
	const char *segment = path, *end;
	size_t len;

	if (strchr(path, '\\') != NULL || strcasestr(path, "%2e") != NULL ||
	    strcasestr(path, "%2f") != NULL || strcasestr(path, "%5c") != NULL)
		return 1;
	while (*segment == '/') {
		segment++;
		end = segment + strcspn(segment, "/?");
		len = (size_t)(end - segment);
		if ((len == 1 && segment[0] == '.') ||
		    (len == 2 && segment[0] == '.' && segment[1] == '.'))
			return 1;
		segment = end;
	}
	return 0;
}

static int
parse_port(const char *start, size_t len, int *port)
{
	int value = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)start[i]))
			return -1;
		value = value * 10 + (start[i] - '0');
	}
	if (value < 1 || value > 65535)
		return -1;
	*port = value;
	return 0;
}

static int
copy_host(struct url *out, const char *start, size_t len, int bracketed)
{
	size_t i;

	if (len == 0)
		return URL_MALFORMED;
	if (len >= sizeof(out->host))
		return URL_HOST_TOO_LONG;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)start[i];
		int ok = bracketed ? (isxdigit(c) || c == ':' || c == '.')
				   : (isalnum(c) || c == '.' || c == '-' || c == '_');
		if (!ok)
			return URL_MALFORMED;
		out->host[i] = (char)tolower(c);
	}
	out->host[len] = '\0';
	return 0;
}

/* The reasons url_parse refuses a text. */
enum url_why {
	URL_WHY_NONE,
	URL_WHY_SPACE,
	URL_WHY_SCHEME,
	URL_WHY_USER,
	URL_WHY_FRAGMENT,
	URL_WHY_HOST,
	URL_WHY_HOST_LENGTH,
	URL_WHY_PORT,
	URL_WHY_PATH,
};

/* What url_parse says no to, and what to do, in words for a message. */
static const struct {
	const char *why, *advice;
} refusals[] = {
	[URL_WHY_SPACE] = { "it has a space or a control character in it", "percent-encode it" },
	[URL_WHY_SCHEME] = { "it is not an http:// or https:// URL", "give an https:// URL" },
	[URL_WHY_USER] = { "it has a user name or password (@) before its host",
			   "leave them out of the URL" },
	[URL_WHY_FRAGMENT] = { "it has a fragment (#)", "leave out the #fragment" },
	[URL_WHY_HOST] = { "its host is not a host name, IPv4 or [IPv6] address", "check the URL" },
	[URL_WHY_HOST_LENGTH] = { "its host is longer than 255 bytes", "check the URL" },
	[URL_WHY_PORT] = { "its port is not a number from 1 to 65535", "check the URL" },
	[URL_WHY_PATH] = { "its path has a dot segment (. or ..) or an encoded dot, slash or "
			   "backslash, which servers and tools resolve differently",
			   "write the path without them" },
};

/* url_parse, saying why it refuses a text (URL_WHY_NONE when it does not). */
static int
parse(const char *text, struct url *out, enum url_why *why)
{
	const char *p, *authority, *end, *host_end;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	*why = URL_WHY_SPACE;
	for (p = text; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
			return -1;
	}
	*why = URL_WHY_SCHEME;
	if (strncasecmp(text, "https://", 8) == 0) {
		strcpy(out->scheme, "https");
		out->port = 443;
		authority = text + 8;
	} else if (strncasecmp(text, "http://", 7) == 0) {
		strcpy(out->scheme, "http");
		out->port = 80;
		authority = text + 7;
	} else {
		return -1;
	}
	end = authority + strcspn(authority, "/?#");
	*why = URL_WHY_USER;
	if (memchr(authority, '@', (size_t)(end - authority)) != NULL)
		return -1;
	*why = URL_WHY_FRAGMENT;
	if (strchr(end, '#') != NULL)
		return -1;
	*why = URL_WHY_HOST;
	if (*authority == '[') {
		host_end = memchr(authority, ']', (size_t)(end - authority));
		if (host_end == NULL)
			return -1;
		rc = copy_host(out, authority + 1, (size_t)(host_end - authority - 1), 1);
		if (rc != 0)
			goto host_refused;
		host_end++;
	} else {
		host_end = memchr(authority, ':', (size_t)(end - authority));
		if (host_end == NULL)
			host_end = end;
		rc = copy_host(out, authority, (size_t)(host_end - authority), 0);
		if (rc != 0)
			goto host_refused;
	}
	*why = URL_WHY_PORT;
	if (host_end < end) {
		if (*host_end != ':' ||
		    parse_port(host_end + 1, (size_t)(end - host_end - 1), &out->port) != 0)
			return -1;
	}
	*why = URL_WHY_HOST;
	for (i = 0; out->host[i] != '\0'; i++) {
		if (out->host[i] == '.' && out->host[i + 1] == '.')
			return -1;
	}
	*why = URL_WHY_PATH;
	if (ambiguous_path(end))
		return -1;
	*why = URL_WHY_NONE;
	out->path = end;
	return 0;
host_refused:
	if (rc == URL_HOST_TOO_LONG)
		*why = URL_WHY_HOST_LENGTH;
	return rc;
}

int
url_parse(const char *text, struct url *out)
{
	enum url_why why;

	return parse(text, out, &why);
}

const char *
url_refusal(const char *text, const char **advice)
{
	enum url_why why;
	struct url ignored;

	*advice = NULL;
	if (parse(text, &ignored, &why) == 0)
		return NULL;
	*advice = refusals[why].advice;
	return refusals[why].why;
}

char *
url_with_default_scheme(const char *word, int *added)
{
	char *url = NULL;

	*added = strstr(word, "://") == NULL;
	if (asprintf(&url, "%s%s", *added ? "http://" : "", word) < 0)
		return NULL;
	return url;
}

static int
is_dotted_quad_127(const char *host)
{
	int octets = 0;
	const char *p = host;

	while (octets < 4) {
		char *stop;
		long value;
		/* 010 is octal to inet_aton, a host name to others: neither is ours */
		if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
			return 0;
		value = strtol(p, &stop, 10);
		if (value < 0 || value > 255 || stop - p > 3 || (octets == 0 && value != 127))
			return 0;
		octets++;
		p = stop;
		if (octets < 4 && *p++ != '.')
			return 0;
	}
	return *p == '\0';
}

int
url_host_is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "0:0:0:0:0:0:0:1") == 0 || is_dotted_quad_127(host);
}

int
url_check_endpoint(const char *text, const char *what, struct error *err)
{
	struct url url;

	if (url_parse(text, &url) != 0)
		return error_set(
			err, KB_EXIT_CONFIG,
			"%s is not a usable URL: \"%.200s\" — give an absolute https:// URL "
			"without user name, password or fragment",
			what, text);
	if (strcmp(url.scheme, "http") == 0 && !url_host_is_loopback(url.host))
		return error_set(err, KB_EXIT_CONFIG,
				 "%s uses plain http to %s: secrets and tokens would travel "
				 "unencrypted — use https:// (plain http is allowed only to "
				 "127.0.0.1, ::1 and localhost)",
				 what, url.host);
	return 0;
}

int
url_origin(const char *text, char *out, size_t size)
{
	struct url url;
	int is_default_port, n;

	if (url_parse(text, &url) != 0)
		return -1;
	is_default_port = (strcmp(url.scheme, "https") == 0 && url.port == 443) ||
			  (strcmp(url.scheme, "http") == 0 && url.port == 80);
	if (strchr(url.host, ':') != NULL)
		n = is_default_port
			    ? snprintf(out, size, "%s://[%s]/", url.scheme, url.host)
			    : snprintf(out, size, "%s://[%s]:%d/", url.scheme, url.host, url.port);
	else
		n = is_default_port
			    ? snprintf(out, size, "%s://%s/", url.scheme, url.host)
			    : snprintf(out, size, "%s://%s:%d/", url.scheme, url.host, url.port);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}
