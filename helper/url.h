/* Just enough URL parsing to decide where a secret or a token may be sent. */
#ifndef KEYBEARER_URL_H
#define KEYBEARER_URL_H

#include <stddef.h>

#include "error.h"

/* The room for a host and its NUL: a host of up to 255 bytes, which every DNS name fits
 * (RFC 1035: 255 octets on the wire, 253 characters written out). A longer host is refused
 * whole, never cut: a cut host would be another host. */
#define URL_HOST_MAX 256

/* url_parse's answers. */
#define URL_MALFORMED	  (-1)
#define URL_HOST_TOO_LONG (-2) /* said apart, so that a caller can say what was too long */

struct url {
	char scheme[8];		 /* "https" or "http", lower case */
	char host[URL_HOST_MAX]; /* lower case; IPv6 without brackets */
	int port;		 /* explicit or the scheme's default */
	const char *path;	 /* points into the parsed string: "/..." or "" */
};

/* Parses an absolute http(s) URL without user info or fragment, whose path has no dot
 * segments and no encoded dot, slash or backslash: 0; URL_HOST_TOO_LONG for a host longer
 * than URL_HOST_MAX - 1 bytes; URL_MALFORMED (-1) on anything else. */
int url_parse(const char *text, struct url *out);

/* Why url_parse refuses text, in words that follow "URL:" ("it has a fragment (#)"), and
 * in *advice what to do ("leave out the #fragment"); NULL when it does not refuse it. */
const char *url_refusal(const char *text, const char **advice);

/* word as curl reads a URL: one without "://" is http://word (*added is then 1). Malloc'ed;
 * NULL when out of memory. */
char *url_with_default_scheme(const char *word, int *added);

/* localhost, 127.0.0.0/8 or ::1. */
int url_host_is_loopback(const char *host);

/* Accepts a URL a secret or token may travel to: https anywhere, plain http only to
 * loopback. what names the setting in messages ("token_url in /path:3"). */
int url_check_endpoint(const char *text, const char *what, struct error *err);

/* "scheme://host[:port]/" of a valid URL, in out; -1 when it does not fit or parse. */
int url_origin(const char *text, char *out, size_t size);

#endif
