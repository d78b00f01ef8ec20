/* One JSON parser setting for everything we read: strict RFC 8259, valid UTF-8, and the
 * whole input consumed, so "{...} trailing junk" is not half-accepted. */
#ifndef KEYBEARER_STRICTJSON_H
#define KEYBEARER_STRICTJSON_H

#include <json-c/json.h>
#include <stddef.h>

/* NULL unless text[0..len) is exactly one JSON value (surrounding whitespace allowed). */
struct json_object *strictjson_parse(const char *text, size_t len);

/* The member's string value, or NULL when absent, not a string, or holding a NUL byte
 * (which would silently cut it short as a C string). */
const char *strictjson_get_string(struct json_object *obj, const char *key);

#endif
