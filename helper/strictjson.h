/* One JSON parser setting for everything we read: strict RFC 8259, valid UTF-8, and the
 * whole input consumed, so "{...} trailing junk" is not half-accepted. */
#ifndef KEYBEARER_STRICTJSON_H
#define KEYBEARER_STRICTJSON_H

#include <json-c/json.h>
#include <stddef.h>

/* NULL unless text[0..len) is exactly one JSON value (surrounding whitespace allowed). */
struct json_object *strictjson_parse(const char *text, size_t len);

/* A string value as a C string, or NULL when it is not a string or holds a NUL byte: valid
 * JSON ("\u0000"), but a C string would end there, silently cut short. */
const char *strictjson_string(struct json_object *value);

/* The member's strictjson_string, or NULL when it is absent. */
const char *strictjson_get_string(struct json_object *obj, const char *key);

/* The member as a whole number in *out: 0, or -1 when it is absent or not an integer. */
int strictjson_get_int(struct json_object *obj, const char *key, long long *out);

#endif
