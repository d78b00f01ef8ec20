/* The shapes a token leaves in: each written whole with one write, or not at all. */
#ifndef KEYBEARER_OUTPUT_H
#define KEYBEARER_OUTPUT_H

#include <stddef.h>
#include <json-c/json.h>
#include <time.h>

#include "error.h"

enum output_format {
	OUTPUT_HEADER, /* Authorization: Bearer <token> */
	OUTPUT_TOKEN,  /* <token> */
	OUTPUT_CURL,   /* header = "Authorization: Bearer <token>"  (curl -K) */
	OUTPUT_WGET,   /* header = Authorization: Bearer <token>    (wget --config) */
	OUTPUT_JSON,   /* {"access_token","token_type","expires_at","expires_in"} */
};

/* -1 for an unknown name. */
int output_format_parse(const char *name, enum output_format *out);

/* The text for the format, NUL-terminated, malloc'ed; NULL when the token is not a
 * b64token (a config line or header must never be split) or memory ran out. */
char *output_render(enum output_format format, const char *token, long long expires_at, time_t now);

/* The object as one line of compact JSON ending in a newline, malloc'ed; NULL when out of
 * memory. The answer format of every JSON-speaking host tool. */
char *output_json_line(struct json_object *obj);

/* Quotes a value for a curl config file: double quotes, with \ and " escaped. */
char *output_curl_quote(const char *value);

/* "2026-11-28T12:00:00Z": RFC 3339 in UTC without fractions (Bazel rejects them). */
void output_rfc3339(long long when, char *out, size_t size);

/* "1 h 5 min", "59 min 3 s", "42 s", "2 d 3 h": the two largest units of |seconds|. */
void output_duration(long long seconds, char *out, size_t size);

/* Opens /dev/null on any of fds 0-2 that is closed, so no file we open later becomes our
 * stdout or stderr by accident. */
void output_keep_standard_fds(void);

/* Writes all of text to fd, retrying short and interrupted writes; -1 with errno set. */
int output_write_all(int fd, const char *text, size_t len);

/* Writes text to stdout in one piece; -1 with err set (exit 74) when it cannot. */
int output_answer(const char *text, struct error *err);

/* Writes report to stdout as pretty JSON (what people read: status --json, inspect) and a
 * newline, in one piece; -1 with err set. report stays the caller's. */
int output_answer_json(struct json_object *report, struct error *err);

#endif
