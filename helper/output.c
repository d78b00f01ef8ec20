#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "token.h"

static const struct {
	const char *name;
	enum output_format format;
} format_names[] = {
	{ "header", OUTPUT_HEADER }, { "token", OUTPUT_TOKEN }, { "curl", OUTPUT_CURL },
	{ "wget", OUTPUT_WGET },     { "json", OUTPUT_JSON },
};

int
output_format_parse(const char *name, enum output_format *out)
{
	size_t i;

	for (i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(name, format_names[i].name) == 0) {
			*out = format_names[i].format;
			return 0;
		}
	}
	return -1;
}

char *
output_curl_quote(const char *value)
{
	size_t len = strlen(value), i, n = 0;
	char *out = malloc(len * 2 + 3);

	if (out == NULL)
		return NULL;
	out[n++] = '"';
	for (i = 0; i < len; i++) {
		if (value[i] == '\\' || value[i] == '"')
			out[n++] = '\\';
		out[n++] = value[i];
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}

char *
output_json_line(struct json_object *obj)
{
	char *text = NULL;

	if (asprintf(&text, "%s\n",
		     json_object_to_json_string_ext(
			     obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0)
		return NULL;
	return text;
}

static char *
render_json(const char *token, long long expires_at, time_t now)
{
	struct json_object *obj = json_object_new_object();
	long long left = expires_at - (long long)now;
	char *text = NULL;

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "access_token", json_object_new_string(token));
	json_object_object_add(obj, "token_type", json_object_new_string("Bearer"));
	json_object_object_add(obj, "expires_at", json_object_new_int64(expires_at));
	json_object_object_add(obj, "expires_in", json_object_new_int64(left > 0 ? left : 0));
	text = output_json_line(obj);
	json_object_put(obj);
	return text;
}

char *
output_render(enum output_format format, const char *token, long long expires_at, time_t now)
{
	char *text = NULL, *quoted = NULL;
	int n = -1;

	if (!token_is_b64token(token, strlen(token)))
		return NULL;
	switch (format) {
	case OUTPUT_HEADER:
		n = asprintf(&text, "Authorization: Bearer %s\n", token);
		break;
	case OUTPUT_TOKEN:
		n = asprintf(&text, "%s\n", token);
		break;
	case OUTPUT_CURL:
		if (asprintf(&quoted, "Authorization: Bearer %s", token) < 0)
			return NULL;
		text = output_curl_quote(quoted);
		free(quoted);
		if (text == NULL)
			return NULL;
		quoted = text;
		n = asprintf(&text, "header = %s\n", quoted);
		free(quoted);
		break;
	case OUTPUT_WGET:
		n = asprintf(&text, "header = Authorization: Bearer %s\n", token);
		break;
	case OUTPUT_JSON:
		return render_json(token, expires_at, now);
	}
	return n < 0 ? NULL : text;
}

int
output_write_all(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

int
output_answer(const char *text, struct error *err)
{
	if (text == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	if (output_write_all(STDOUT_FILENO, text, strlen(text)) != 0)
		return error_set(err, KB_EXIT_IO,
				 "cannot write the answer: %s — check where standard output goes",
				 strerror(errno));
	return 0;
}

int
output_answer_json(struct json_object *report, struct error *err)
{
	const char *json = json_object_to_json_string_ext(
		report,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *text = NULL;
	int rc;

	if (json == NULL || asprintf(&text, "%s\n", json) < 0)
		text = NULL;
	rc = output_answer(text, err);
	free(text);
	return rc;
}

void
output_rfc3339(long long when, char *out, size_t size)
{
	time_t t = (time_t)when;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "%lld", when);
}

void
output_duration(long long seconds, char *out, size_t size)
{
	static const struct {
		long long seconds;
		const char *unit;
	} units[] = { { 86400, "d" }, { 3600, "h" }, { 60, "min" }, { 1, "s" } };
	size_t i;

	if (seconds < 0)
		seconds = -seconds;
	for (i = 0; i < 3 && seconds < units[i].seconds; i++)
		;
	if (i == 3 || seconds % units[i].seconds / units[i + 1].seconds == 0)
		snprintf(out, size, "%lld %s", seconds / units[i].seconds, units[i].unit);
	else
		snprintf(out, size, "%lld %s %lld %s", seconds / units[i].seconds, units[i].unit,
			 seconds % units[i].seconds / units[i + 1].seconds, units[i + 1].unit);
}

void
output_keep_standard_fds(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(KB_EXIT_INTERNAL);
	}
}
