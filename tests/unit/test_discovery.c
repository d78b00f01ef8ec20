/* discovery.c decides where the secret goes when a profile names only its issuer: the
 * document must be the issuer's own, and every endpoint in it must pass the rules a
 * configured token_url must. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "discovery.h"
#include "rows.h"

#define ISSUER "https://login.example/realms/ci"

struct parse_case {
	const char *name;
	const char *document;
	int code; /* 0: accepted */
	/* accepted: "token_endpoint jwks_uri mtls_alias" ("-" for none); refused: part of the
	 * message */
	const char *expect;
};

static const struct parse_case parse_cases[] = {
	{ "complete",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"jwks_uri\":\"https://login.example/certs\",\"grant_types_supported\":[]}",
	  0, "https://login.example/token https://login.example/certs -" },
	{ "no jwks_uri", "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://t.example/t\"}",
	  0, "https://t.example/t - -" },
	{ "token endpoint on another host",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://sts.example:8443/x\"}", 0,
	  "https://sts.example:8443/x - -" },
	/* mutual-TLS client authentication: RFC 8705 section 5 */
	{ "mtls alias",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"mtls_endpoint_aliases\":{\"token_endpoint\":\"https://mtls.login.example/token\","
	  "\"revocation_endpoint\":\"https://mtls.login.example/revoke\"}}",
	  0, "https://login.example/token - https://mtls.login.example/token" },
	{ "mtls aliases without a token endpoint",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"mtls_endpoint_aliases\":{}}",
	  0, "https://login.example/token - -" },
	{ "mtls alias over plain http",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"mtls_endpoint_aliases\":{\"token_endpoint\":\"http://mtls.login.example/token\"}}",
	  KB_EXIT_PROTOCOL,
	  "mtls_endpoint_aliases.token_endpoint in the discovery document of " ISSUER },
	{ "mtls alias not a string",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"mtls_endpoint_aliases\":{\"token_endpoint\":[]}}",
	  KB_EXIT_PROTOCOL, "has a mtls_endpoint_aliases.token_endpoint that is not a string" },
	{ "mtls aliases not an object",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"mtls_endpoint_aliases\":\"https://mtls.login.example/token\"}",
	  KB_EXIT_PROTOCOL, "has an mtls_endpoint_aliases that is not a JSON object" },
	{ "another issuer",
	  "{\"issuer\":\"https://evil.example\",\"token_endpoint\":\"https://evil.example/t\"}",
	  KB_EXIT_PROTOCOL, "names issuer \"https://evil.example\" — set issuer to exactly" },
	{ "issuer with a trailing slash",
	  "{\"issuer\":\"" ISSUER "/\",\"token_endpoint\":\"https://login.example/token\"}",
	  KB_EXIT_PROTOCOL, "names issuer \"" ISSUER "/\"" },
	{ "no issuer", "{\"token_endpoint\":\"https://login.example/token\"}", KB_EXIT_PROTOCOL,
	  "names issuer \"(none)\"" },
	{ "no token endpoint", "{\"issuer\":\"" ISSUER "\"}", KB_EXIT_PROTOCOL,
	  "has no token_endpoint" },
	{ "token endpoint over plain http",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"http://login.example/token\"}",
	  KB_EXIT_PROTOCOL, "token_endpoint in the discovery document of " ISSUER },
	{ "token endpoint not a string", "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":42}",
	  KB_EXIT_PROTOCOL, "has a token_endpoint that is not a string" },
	/* read as a C string it would end at the NUL: https://login.example/token */
	{ "token endpoint with a NUL byte",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\\u0000"
	  "/../evil\"}",
	  KB_EXIT_PROTOCOL, "has a token_endpoint that is not a string without NUL bytes" },
	{ "jwks_uri with a dot segment",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\","
	  "\"jwks_uri\":\"https://login.example/a/../certs\"}",
	  KB_EXIT_PROTOCOL, "jwks_uri in the discovery document" },
	{ "not JSON", "<html>", KB_EXIT_PROTOCOL, "is not a JSON object" },
	{ "an array", "[]", KB_EXIT_PROTOCOL, "is not a JSON object" },
	{ "trailing junk",
	  "{\"issuer\":\"" ISSUER "\",\"token_endpoint\":\"https://login.example/token\"} x",
	  KB_EXIT_PROTOCOL, "is not a JSON object" },
};

static void
test_discovery_parse_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct error err = { 0 };
		struct discovery d;
		char got[512];
		int rc = discovery_parse(c->document, strlen(c->document), ISSUER, &d, &err);

		failures += mismatch_int(c->name, "rc", rc, c->code == 0 ? 0 : -1);
		failures += mismatch_int(c->name, "code", err.code, c->code);
		if (rc == 0) {
			snprintf(got, sizeof(got), "%s %s %s", d.token_endpoint,
				 d.jwks_uri ? d.jwks_uri : "-",
				 d.mtls_token_endpoint ? d.mtls_token_endpoint : "-");
			failures += mismatch_str(c->name, "endpoints", got, c->expect);
			discovery_free(&d);
		} else {
			failures += mismatch_contains(c->name, "message", err.message, c->expect);
			failures += mismatch_int(c->name, "nothing kept",
						 d.token_endpoint == NULL && d.jwks_uri == NULL &&
							 d.mtls_token_endpoint == NULL,
						 1);
		}
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_discovery_parse_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
