#include "strictjson.h"

#include <string.h>

struct json_object *
strictjson_parse(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	size_t end;

	if (len == 0 || len > (size_t)INT32_MAX || memchr(text, '\0', len) != NULL)
		return NULL;
	tok = json_tokener_new();
	if (tok == NULL)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success)
		goto fail;
	for (end = json_tokener_get_parse_end(tok); end < len; end++) {
		if (strchr(" \t\r\n", text[end]) == NULL)
			goto fail;
	}
	json_tokener_free(tok);
	return obj;
fail:
	json_object_put(obj);
	json_tokener_free(tok);
	return NULL;
}

const char *
strictjson_string(struct json_object *value)
{
	const char *text;

	if (!json_object_is_type(value, json_type_string))
		return NULL;
	text = json_object_get_string(value);
	return strlen(text) == (size_t)json_object_get_string_len(value) ? text : NULL;
}

const char *
strictjson_get_string(struct json_object *obj, const char *key)
{
	struct json_object *member;

	return json_object_object_get_ex(obj, key, &member) ? strictjson_string(member) : NULL;
}

int
strictjson_get_int(struct json_object *obj, const char *key, long long *out)
{
	struct json_object *member;

	if (!json_object_object_get_ex(obj, key, &member) ||
	    !json_object_is_type(member, json_type_int))
		return -1;
	*out = (long long)json_object_get_int64(member);
	return 0;
}
