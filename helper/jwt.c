#include "jwt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "strictjson.h"

#define JWT_PART_MAX (64 * 1024)

static int
base64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
jwt_base64url_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned long bits = 0;
	int nbits = 0;
	size_t i;
	long n = 0;

	while (len > 0 && in[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	for (i = 0; i < len; i++) {
		int v = base64url_value((unsigned char)in[i]);
		if (v < 0)
			return -1;
		bits = (bits << 6) | (unsigned long)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			out[n++] = (unsigned char)(bits >> nbits);
			bits &= (1ul << nbits) - 1;
		}
	}
	out[n] = '\0';
	return n;
}

static struct json_object *
decode_part(const char *start, size_t len)
{
	struct json_object *obj;
	unsigned char *buf;
	long n;

	if (len == 0 || len > JWT_PART_MAX)
		return NULL;
	buf = malloc(len * 3 / 4 + 2);
	if (buf == NULL)
		return NULL;
	n = jwt_base64url_decode(start, len, buf);
	obj = n > 0 ? strictjson_parse((const char *)buf, (size_t)n) : NULL;
	free(buf);
	if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

int
jwt_decode(const char *token, struct json_object **header, struct json_object **claims)
{
	const char *dot1 = strchr(token, '.'), *dot2;

	*header = *claims = NULL;
	if (dot1 == NULL || (dot2 = strchr(dot1 + 1, '.')) == NULL || strchr(dot2 + 1, '.') != NULL)
		return -1;
	*header = decode_part(token, (size_t)(dot1 - token));
	*claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (*header == NULL || *claims == NULL) {
		json_object_put(*header);
		json_object_put(*claims);
		*header = *claims = NULL;
		return -1;
	}
	return 0;
}

int
jwt_claim_time(struct json_object *claims, const char *name, long long *out)
{
	struct json_object *member;
	double value;

	if (!json_object_object_get_ex(claims, name, &member))
		return -1;
	if (json_object_is_type(member, json_type_int)) {
		*out = (long long)json_object_get_int64(member);
	} else if (json_object_is_type(member, json_type_double)) {
		value = json_object_get_double(member);
		if (!isfinite(value) || value < 0 || value > 1e12)
			return -1;
		*out = (long long)value; /* value >= 0: truncation is floor */
	} else {
		return -1;
	}
	return (*out < 0 || *out > 1000000000000LL) ? -1 : 0;
}

int
jwt_local_expiry(const char *token, time_t now, long long server_now, long long *expires_at)
{
	struct json_object *header, *claims;
	long long exp, iat, lifetime;
	int rc = -1;

	if (jwt_decode(token, &header, &claims) != 0)
		return -1;
	if (jwt_claim_time(claims, "exp", &exp) != 0)
		goto out;
	/* exp against the local clock bounds it in any case ... */
	lifetime = exp - (long long)now;
	/* ... then whatever else says less: exp against the issuer's clock at the reply (a
	 * Date header), and the issuer's own word on the lifetime (exp - iat), so that neither
	 * a skewed local clock nor a Date header far behind can lengthen it */
	if (server_now > 0 && exp - server_now < lifetime)
		lifetime = exp - server_now;
	if (jwt_claim_time(claims, "iat", &iat) == 0 && iat <= exp && exp - iat < lifetime)
		lifetime = exp - iat;
	*expires_at = (long long)now + lifetime;
	rc = 0;
out:
	json_object_put(header);
	json_object_put(claims);
	return rc;
}

int
jwt_claimed_lifetime(const char *token, long long *lifetime)
{
	struct json_object *header, *claims;
	long long exp, iat;
	int rc = -1;

	if (jwt_decode(token, &header, &claims) != 0)
		return -1;
	if (jwt_claim_time(claims, "exp", &exp) == 0 && jwt_claim_time(claims, "iat", &iat) == 0 &&
	    iat <= exp) {
		*lifetime = exp - iat;
		rc = 0;
	}
	json_object_put(header);
	json_object_put(claims);
	return rc;
}
