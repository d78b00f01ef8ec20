/* The configuration decides where the client secret is sent. Every key, every refusal and
 * every precedence rule is pinned here, and each error must name the file and line so a
 * user can fix it without reading the source. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "rows.h"

#define PATH	  "/etc/keybearer/test.ini"
#define TEST_HOME "/home/tester"

/* Every variable a test may touch. Each test starts without them (HOME aside) and its
 * teardown puts back what the suite started with, so no test sees another's leftovers. */
static const char *const touched_variables[] = {
	"KEYBEARER_PROFILE", "KEYBEARER_TOKEN_URL", "KEYBEARER_CLIENT_ID", "KEYBEARER_SCOPE",
	"KEYBEARER_CA_FILE", "KEYBEARER_CONFIG",    "XDG_CONFIG_HOME",	   "HOME",
	"KEYBEARER_ISSUER",  "KEYBEARER_PRESET",    "XDG_RUNTIME_DIR",	   "XDG_CACHE_HOME",
};
#define TOUCHED_COUNT (sizeof(touched_variables) / sizeof(touched_variables[0]))
static char *saved_values[TOUCHED_COUNT];
static char scratch_dir[256];

static int
suite_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	size_t i;

	(void)state;
	for (i = 0; i < TOUCHED_COUNT; i++) {
		const char *value = getenv(touched_variables[i]);
		saved_values[i] = value != NULL ? strdup(value) : NULL;
	}
	snprintf(scratch_dir, sizeof(scratch_dir), "%s/keybearer-config-test.XXXXXX",
		 tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	return mkdtemp(scratch_dir) != NULL ? 0 : -1;
}

static int
restore_environment(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < TOUCHED_COUNT; i++) {
		if (saved_values[i] != NULL)
			setenv(touched_variables[i], saved_values[i], 1);
		else
			unsetenv(touched_variables[i]);
	}
	return 0;
}

static int
suite_teardown(void **state)
{
	size_t i;

	restore_environment(state);
	for (i = 0; i < TOUCHED_COUNT; i++)
		free(saved_values[i]);
	remove_tree(scratch_dir);
	return 0;
}

static int
clean_environment(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < TOUCHED_COUNT; i++)
		unsetenv(touched_variables[i]);
	setenv("HOME", TEST_HOME, 1);
	return 0;
}

#define ENV_TEST(f) cmocka_unit_test_setup_teardown(f, clean_environment, restore_environment)

/* A file in the scratch directory with exactly this mode (open's mode passes the umask). */
static void
write_file(const char *name, const char *text, size_t len, mode_t mode, char *path,
	   size_t path_size)
{
	int fd;

	assert_true((size_t)snprintf(path, path_size, "%s/%s", scratch_dir, name) < path_size);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* config_load on a file holding text, as KEYBEARER_CONFIG names it. */
static int
load_file(const char *text, struct config *cfg, struct error *err, char *path, size_t path_size)
{
	write_file("config", text, strlen(text), 0600, path, path_size);
	setenv("KEYBEARER_CONFIG", path, 1);
	memset(err, 0, sizeof(*err));
	return config_load(cfg, err);
}

static int
load_text_only(const char *text, const char *only, struct config *cfg, struct error *err)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(err, 0, sizeof(*err));
	return config_load_text(cfg, PATH, text, only, err);
}

static int
load_text(const char *text, struct config *cfg, struct error *err)
{
	return load_text_only(text, NULL, cfg, err);
}

#define OR_DASH(s) ((s) != NULL ? (s) : "-")

/* One line per profile, ";key=value;" per field, so a row states exactly what it expects
 * and a mismatch shows the whole profile. */
static void
describe_profile(const struct profile *p, char *out, size_t size)
{
	char urls[2048] = "", secret[600];
	size_t i, used = 0;

	for (i = 0; i < p->url_count && used < sizeof(urls); i++)
		used += (size_t)snprintf(urls + used, sizeof(urls) - used, "%s%s", i ? "," : "",
					 p->urls[i]);
	config_describe_secret_source(p, secret, sizeof(secret));
	snprintf(out, size,
		 ";token_url=%s;client_id=%s;scope=%s;audience=%s;resource=%s;auth_method=%s;"
		 "urls=[%s];secret=%s;ca_file=%s;timeout=%d;refresh_margin=%d;in_file=%d;",
		 OR_DASH(p->token_url), OR_DASH(p->client_id), OR_DASH(p->scope),
		 OR_DASH(p->audience), OR_DASH(p->resource),
		 config_auth_method_name(p->auth_method), urls, secret, OR_DASH(p->ca_file),
		 p->timeout, p->refresh_margin, p->in_file);
}

static int
mismatch_profile(const char *row, const struct config *cfg, const char *name, const char *expected)
{
	const struct profile *p = config_find(cfg, name);
	char description[4096];

	if (p == NULL) {
		print_error("%s: no profile named %s\n", row, name);
		return 1;
	}
	describe_profile(p, description, sizeof(description));
	return mismatch_contains(row, "profile", description, expected);
}

/* Short URLs, so that sixteen and seventeen fit the 198 characters of a line. */
#define SIXTEEN_URLS                                                                               \
	"urls = https://a/ https://b/ https://c/ https://d/ https://e/ https://f/ https://g/ "     \
	"https://h/ https://i/ https://j/ https://k/ https://l/ https://m/ https://n/ https://o/ " \
	"https://p/\n"
#define SEVENTEEN_URLS                                                                             \
	"urls = https://a/ https://b/ https://c/ https://d/ https://e/ https://f/ https://g/ "     \
	"https://h/ https://i/ https://j/ https://k/ https://l/ https://m/ https://n/ https://o/ " \
	"https://p/ https://q/\n"

#define DEFAULTS_AFTER_TOKEN_URL                                                                   \
	";client_id=-;scope=-;audience=-;resource=-;auth_method=client_secret_post;urls=[];"       \
	"secret=keyring;ca_file=-;timeout=30;refresh_margin=300;in_file=1;"

struct parse_case {
	const char *name;
	const char *text;
	const char *profile;
	const char *expected; /* a run of ";key=value;" fields of describe_profile */
};

static const struct parse_case parse_cases[] = {
	{ "defaults", "[profile work]\ntoken_url = https://login.example.com/token\n", "work",
	  ";token_url=https://login.example.com/token" DEFAULTS_AFTER_TOKEN_URL },
	{ "every key",
	  "[profile work]\n"
	  "token_url = https://login.example.com/oauth2/token\n"
	  "client_id = my-client\n"
	  "scope = read write\n"
	  "audience = https://api.example.com\n"
	  "resource = urn:example:api\n"
	  "auth_method = client_secret_basic\n"
	  "urls = https://api.example.com/v1/, https://files.example.com/ ,http://127.0.0.1:9000/\n"
	  "secret = env:WORK_SECRET\n"
	  "ca_file = ~/certs/ca.pem\n"
	  "timeout = 45\n"
	  "refresh_margin = 0\n",
	  "work",
	  ";token_url=https://login.example.com/oauth2/token;client_id=my-client;scope=read write;"
	  "audience=https://api.example.com;resource=urn:example:api;"
	  "auth_method=client_secret_basic;urls=[https://api.example.com/v1/,"
	  "https://files.example.com/,http://127.0.0.1:9000/];secret=env:WORK_SECRET;"
	  "ca_file=" TEST_HOME "/certs/ca.pem;timeout=45;refresh_margin=0;in_file=1;" },
	{ "auth_method client_secret_post", "[profile w]\nauth_method = client_secret_post\n", "w",
	  ";auth_method=client_secret_post;" },
	{ "auth_method client_secret_basic", "[profile w]\nauth_method = client_secret_basic\n",
	  "w", ";auth_method=client_secret_basic;" },
	{ "urls separated by commas only",
	  "[profile w]\nurls = https://a.example/,https://b.example/x\n", "w",
	  ";urls=[https://a.example/,https://b.example/x];" },
	/* A long list goes on over indented lines (an INI line holds 198 characters). */
	{ "urls over several lines",
	  "[profile w]\nurls = https://a.example/\n  https://b.example/x,\n\thttps://c.example/\n"
	  "timeout = 5\n",
	  "w", ";urls=[https://a.example/,https://b.example/x,https://c.example/];" },
	{ "urls with doubled separators",
	  "[profile w]\nurls = ,https://a.example/ ,, http://[::1]:8080/ ,\n", "w",
	  ";urls=[https://a.example/,http://[::1]:8080/];" },
	{ "sixteen urls", "[profile w]\n" SIXTEEN_URLS, "w",
	  ";urls=[https://a/,https://b/,https://c/,https://d/,https://e/,https://f/,https://g/,"
	  "https://h/,https://i/,https://j/,https://k/,https://l/,https://m/,https://n/,https://o/,"
	  "https://p/];" },
	{ "secret keyring", "[profile w]\nsecret = keyring\n", "w", ";secret=keyring;" },
	{ "secret command", "[profile w]\nsecret = command: pass show api/w | head -1\n", "w",
	  ";secret=command:pass show api/w | head -1;" },
	{ "keyring_timeout", "[profile w]\nkeyring_timeout = 2\n", "w", ";secret=keyring;" },
	{ "secret env", "[profile w]\nsecret = env:_My_Secret2\n", "w",
	  ";secret=env:_My_Secret2;" },
	{ "secret file absolute", "[profile w]\nsecret = file:/run/secrets/work\n", "w",
	  ";secret=file:/run/secrets/work;" },
	{ "secret file in home", "[profile w]\nsecret = file:~/.secrets/work\n", "w",
	  ";secret=file:" TEST_HOME "/.secrets/work;" },
	{ "ca_file absolute", "[profile w]\nca_file = /etc/ssl/corp.pem\n", "w",
	  ";ca_file=/etc/ssl/corp.pem;" },
	{ "ca_file in home", "[profile w]\nca_file = ~/ca.pem\n", "w",
	  ";ca_file=" TEST_HOME "/ca.pem;" },
	{ "timeout lowest", "[profile w]\ntimeout = 1\n", "w", ";timeout=1;" },
	{ "timeout highest", "[profile w]\ntimeout = 600\n", "w", ";timeout=600;" },
	{ "refresh_margin highest", "[profile w]\nrefresh_margin = 604800\n", "w",
	  ";refresh_margin=604800;" },
	{ "plain http to 127.0.0.1", "[profile w]\ntoken_url = http://127.0.0.1:8080/token\n", "w",
	  ";token_url=http://127.0.0.1:8080/token;" },
	{ "plain http to ::1", "[profile w]\ntoken_url = http://[::1]:8080/token\n", "w",
	  ";token_url=http://[::1]:8080/token;" },
	{ "plain http to localhost", "[profile w]\ntoken_url = http://localhost/token\n", "w",
	  ";token_url=http://localhost/token;" },
	{ "comments, blanks and spacing",
	  "; a comment\n# another\n\n[profile w]\n\n  client_id=tight\nscope   =   a b   \n", "w",
	  ";client_id=tight;scope=a b;" },
	{ "inline comment", "[profile w]\ntimeout = 45 ; seconds\n", "w", ";timeout=45;" },
	{ "CRLF line ends", "[profile w]\r\nclient_id = crlf\r\nscope = s\r\n", "w",
	  ";client_id=crlf;scope=s;" },
	{ "empty string value clears", "[profile w]\nclient_id = x\nscope =\n", "w",
	  ";client_id=x;scope=-;" },
	{ "section split in two",
	  "[profile w]\nclient_id = x\n[profile v]\nclient_id = y\n"
	  "[profile w]\nscope = z\n",
	  "w", ";client_id=x;scope=z;" },
	{ "second of two profiles", "[profile w]\nclient_id = x\n[profile v]\nclient_id = y\n", "v",
	  ";client_id=y;" },
	{ "profile name characters", "[profile My.Work_2-b]\nclient_id = x\n", "My.Work_2-b",
	  ";client_id=x;" },
	{ "tab after profile", "[profile\tw]\nclient_id = x\n", "w", ";client_id=x;" },
};

static void
test_config_parse_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct config cfg;
		struct error err;
		int rc = load_text(c->text, &cfg, &err);

		failures += mismatch_int(c->name, "rc", rc, 0);
		failures += mismatch_str(c->name, "message", err.message, "");
		if (rc == 0)
			failures += mismatch_profile(c->name, &cfg, c->profile, c->expected);
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

static void
test_config_builtin_aspose(void **state)
{
	struct config cfg;
	struct error err;

	(void)state;
	assert_int_equal(load_text("", &cfg, &err), 0);
	assert_int_equal(cfg.count, 1);
	assert_int_equal(
		mismatch_profile("built-in", &cfg, "aspose",
				 ";token_url=https://api.aspose.cloud/connect/token;"
				 "client_id=-;scope=-;audience=-;resource=-;"
				 "auth_method=client_secret_post;"
				 "urls=[https://api.aspose.cloud/];secret=keyring;ca_file=-;"
				 "timeout=30;refresh_margin=300;in_file=0;"),
		0);
	config_free(&cfg);
}

/* A [profile aspose] section adjusts the preset: keys it names change, the rest stay. */
static void
test_config_file_overrides_aspose(void **state)
{
	struct config cfg;
	struct error err;

	(void)state;
	assert_int_equal(
		load_text("[profile aspose]\nclient_id = my-app\ntimeout = 10\n", &cfg, &err), 0);
	assert_int_equal(cfg.count, 1);
	assert_int_equal(
		mismatch_profile("override", &cfg, "aspose",
				 ";token_url=https://api.aspose.cloud/connect/token;"
				 "client_id=my-app;scope=-;audience=-;resource=-;"
				 "auth_method=client_secret_post;"
				 "urls=[https://api.aspose.cloud/];secret=keyring;ca_file=-;"
				 "timeout=10;refresh_margin=300;in_file=1;"),
		0);
	config_free(&cfg);
}

struct error_case {
	const char *name;
	const char *text;
	const char *message; /* substring, with the "path:LINE: " it must start with */
};

static const struct error_case error_cases[] = {
	{ "unknown key", "[profile work]\ntoken_url = https://h/t\nclient = x\n",
	  PATH ":3: unknown key \"client\" in [profile work] — see man 5 keybearer-config for "
	       "the keys" },
	/* a typo gets the key it most likely meant */
	{ "a mistyped key", "[profile work]\ntoken_url = https://h/t\nscop = x\n",
	  PATH ":3: unknown key \"scop\" in [profile work] — did you mean scope? see man 5 "
	       "keybearer-config for the keys" },
	{ "two letters swapped", "[profile work]\ntoken_url = https://h/t\nclinet_id = x\n",
	  PATH ":3: unknown key \"clinet_id\" in [profile work] — did you mean client_id?" },
	{ "a dash for the underscore", "[profile work]\ntoken-url = https://h/t\n",
	  PATH ":2: unknown key \"token-url\" in [profile work] — did you mean token_url?" },
	{ "upper case", "[profile work]\nTOKEN_URL = https://h/t\n",
	  PATH ":2: unknown key \"TOKEN_URL\" in [profile work] — did you mean token_url?" },
	{ "too far from any key", "[profile work]\ncolour = blue\n",
	  PATH ":2: unknown key \"colour\" in [profile work] — see man 5 keybearer-config" },
	{ "a short word is not taken for a key", "[profile work]\nid = x\n",
	  PATH ":2: unknown key \"id\" in [profile work] — see man 5 keybearer-config" },
	{ "key outside a section", "token_url = https://h/t\n",
	  PATH ":1: \"token_url\" is outside any section — put it under [profile NAME]" },
	{ "key outside a section after comments", "# keybearer\n\ntimeout = 5\n",
	  PATH ":3: \"timeout\" is outside any section" },
	/* A bad section is reported at its header, not at the key that revealed it. */
	{ "unknown section", "[server]\nurl = https://h/\n",
	  PATH ":1: unknown section [server] — sections are written [profile NAME]" },
	{ "unknown section further down",
	  "[profile a]\nclient_id = x\n\n[server]\n# comment\nurl = https://h/\n",
	  PATH ":4: unknown section [server]" },
	{ "section profile without a name", "[profile]\ntimeout = 5\n",
	  PATH ":1: unknown section [profile]" },
	{ "section profiles", "[profiles work]\ntimeout = 5\n",
	  PATH ":1: unknown section [profiles work]" },
	{ "section Profile", "[Profile work]\ntimeout = 5\n",
	  PATH ":1: unknown section [Profile work]" },
	{ "bad profile name slash", "[profile a/b]\ntimeout = 5\n",
	  PATH ":1: bad profile name \"a/b\" — use up to 40 letters, digits, '.', '_' or '-'" },
	{ "bad profile name space", "[profile a b]\ntimeout = 5\n",
	  PATH ":1: bad profile name \"a b\"" },
	{ "bad profile name non-ASCII", "[profile w\xc3\xb6rk]\ntimeout = 5\n",
	  PATH ":1: bad profile name \"w\xc3\xb6rk\"" },
	{ "duplicate key", "[profile work]\nclient_id = x\nclient_id = y\n",
	  PATH ":3: client_id is given twice for profile work" },
	{ "duplicate key across sections",
	  "[profile work]\ntimeout = 5\n[profile other]\ntimeout = 6\n[profile work]\ntimeout = "
	  "7\n",
	  PATH ":6: timeout is given twice for profile work" },
	/* An indented line continues the value above: that reads as the key given twice. */
	{ "continuation line", "[profile work]\nscope = read\n  write\n",
	  PATH ":3: an indented line continues scope, which takes one value" },
	{ "continued urls, then urls again",
	  "[profile work]\nurls = https://a.example/\n  https://b.example/\nurls = https://c/\n",
	  PATH ":4: urls is given twice for profile work — keep one" },
	{ "continued urls, bad entry",
	  "[profile work]\nurls = https://a.example/\n  http://b.example/\n",
	  PATH ":3: urls entry uses plain http to b.example" },
	{ "no equals sign", "[profile work]\nclient_id\n",
	  PATH ":2: malformed line — write \"key = value\" lines under a [profile NAME] section" },
	{ "unclosed section", "[profile work\n", PATH ":1: malformed line" },
	{ "empty token_url", "[profile work]\ntoken_url =\n",
	  PATH ":2: token_url is empty — give a value or remove the line" },
	{ "http token_url to a remote host",
	  "[profile work]\ntoken_url = http://login.example.com/t\n",
	  PATH ":2: token_url uses plain http to login.example.com: secrets and tokens would "
	       "travel unencrypted" },
	{ "http token_url to 128.0.0.1", "[profile work]\ntoken_url = http://128.0.0.1/t\n",
	  PATH ":2: token_url uses plain http to 128.0.0.1" },
	{ "token_url with user:pass@",
	  "[profile work]\ntoken_url = https://user:pass@h.example/t\n",
	  PATH ":2: token_url is not a usable URL: \"https://user:pass@h.example/t\"" },
	{ "token_url with fragment", "[profile work]\ntoken_url = https://h.example/t#x\n",
	  PATH ":2: token_url is not a usable URL" },
	{ "token_url relative", "[profile work]\ntoken_url = /oauth/token\n",
	  PATH ":2: token_url is not a usable URL" },
	{ "auth_method basic", "[profile work]\nauth_method = basic\n",
	  PATH ":2: unknown auth_method \"basic\" — use client_secret_post, client_secret_basic, "
	       "client_secret_jwt, private_key_jwt, client_assertion, none, tls_client_auth or "
	       "self_signed_tls_client_auth" },
	/* federated assertions and token exchange */
	{ "an assertion from the keyring", "[profile work]\nassertion = keyring\n",
	  PATH ":2: unknown assertion source \"keyring\" — use github-actions, env:VARIABLE, "
	       "file:/path or command:CMD" },
	{ "a subject token from a bad variable", "[profile work]\nsubject_token = env:1X\n",
	  PATH ":2: \"env:1X\" does not name an environment variable" },
	{ "a relative assertion file", "[profile work]\nassertion = file:token\n",
	  PATH ":2: assertion \"token\" is not an absolute path" },
	{ "an empty assertion command", "[profile work]\nassertion = command: \n",
	  PATH ":2: unknown assertion source \"command:\"" },
	{ "a token type that is no URI", "[profile work]\nsubject_token_type = jwt\n",
	  PATH ":2: subject_token_type \"jwt\" is not a token type URI — use one such as "
	       "urn:ietf:params:oauth:token-type:jwt" },
	{ "a token type with a space", "[profile work]\nrequested_token_type = urn:x y\n",
	  PATH ":2: requested_token_type \"urn:x y\" is not a token type URI" },
	{ "an unknown grant", "[profile work]\ngrant_type = password\n",
	  PATH ":2: unknown grant_type \"password\" — use client_credentials or token_exchange" },
	{ "assertion twice", "[profile work]\nassertion = github-actions\nassertion = env:X\n",
	  PATH ":3: assertion is given twice for profile work — keep one" },
	{ "auth_method upper case", "[profile work]\nauth_method = CLIENT_SECRET_POST\n",
	  PATH ":2: unknown auth_method \"CLIENT_SECRET_POST\"" },
	/* mutual-TLS client authentication */
	{ "client_cert without file:", "[profile work]\nclient_cert = /etc/cert.pem\n",
	  PATH ":2: client_cert \"/etc/cert.pem\" names no file — write client_cert = "
	       "file:/path/to/cert.pem" },
	{ "client_cert relative", "[profile work]\nclient_cert = file:cert.pem\n",
	  PATH ":2: client_cert file \"cert.pem\" is not an absolute path" },
	{ "client_key from the environment", "[profile work]\nclient_key = env:KEY\n",
	  PATH ":2: unknown client_key source \"env:KEY\" — use keyring, file:/path or "
	       "command:CMD" },
	{ "client_key relative", "[profile work]\nclient_key = file:key.pem\n",
	  PATH ":2: client_key file \"key.pem\" is not an absolute path" },
	{ "timeout 0", "[profile work]\ntimeout = 0\n",
	  PATH ":2: timeout must be a whole number of seconds from 1 to 600, not \"0\"" },
	{ "timeout 601", "[profile work]\ntimeout = 601\n",
	  PATH ":2: timeout must be a whole number of seconds from 1 to 600, not \"601\"" },
	{ "timeout abc", "[profile work]\ntimeout = abc\n",
	  PATH ":2: timeout must be a whole number of seconds from 1 to 600, not \"abc\"" },
	{ "timeout with unit", "[profile work]\ntimeout = 30s\n", PATH ":2: timeout must be" },
	{ "timeout negative", "[profile work]\ntimeout = -5\n", PATH ":2: timeout must be" },
	{ "timeout with plus", "[profile work]\ntimeout = +5\n", PATH ":2: timeout must be" },
	{ "timeout overflowing", "[profile work]\ntimeout = 99999999999999999999\n",
	  PATH ":2: timeout must be" },
	{ "timeout empty", "[profile work]\ntimeout =\n", PATH ":2: timeout is empty" },
	{ "refresh_margin above a week", "[profile work]\nrefresh_margin = 604801\n",
	  PATH ":2: refresh_margin must be a whole number of seconds from 0 to 604800, not "
	       "\"604801\"" },
	{ "secret from vault", "[profile work]\nsecret = vault:work\n",
	  PATH
	  ":2: unknown secret source \"vault:work\" — use keyring, env:VARIABLE, file:/path or "
	  "command:CMD" },
	{ "secret command empty", "[profile work]\nsecret = command:  \n",
	  PATH ":2: unknown secret source \"command:\"" },
	{ "secret bare", "[profile work]\nsecret = WORK_SECRET\n",
	  PATH ":2: unknown secret source \"WORK_SECRET\"" },
	{ "secret env without name", "[profile work]\nsecret = env:\n",
	  PATH ":2: \"env:\" does not name an environment variable" },
	{ "secret env with digit first", "[profile work]\nsecret = env:1SECRET\n",
	  PATH ":2: \"env:1SECRET\" does not name an environment variable" },
	{ "secret env with dash", "[profile work]\nsecret = env:MY-SECRET\n",
	  PATH ":2: \"env:MY-SECRET\" does not name an environment variable" },
	{ "secret file relative", "[profile work]\nsecret = file:secrets/work\n",
	  PATH ":2: secret file \"secrets/work\" is not an absolute path" },
	{ "secret file empty", "[profile work]\nsecret = file:\n",
	  PATH ":2: secret file \"\" is not an absolute path" },
	{ "ca_file relative", "[profile work]\nca_file = certs/ca.pem\n",
	  PATH
	  ":2: ca_file \"certs/ca.pem\" is not an absolute path — write /full/path or ~/path" },
	{ "ca_file dot", "[profile work]\nca_file = ./ca.pem\n",
	  PATH ":2: ca_file \"./ca.pem\" is not an absolute path" },
	{ "ca_file other user's home", "[profile work]\nca_file = ~root/ca.pem\n",
	  PATH ":2: ca_file \"~root/ca.pem\" is not an absolute path" },
	{ "urls entry over http",
	  "[profile work]\nurls = https://ok.example/, http://api.example.com/\n",
	  PATH ":2: urls entry uses plain http to api.example.com" },
	{ "urls entry not a URL", "[profile work]\nurls = https://ok.example/ api.example.com\n",
	  PATH ":2: urls entry is not a usable URL: \"api.example.com\"" },
	{ "seventeen urls", "[profile work]\n" SEVENTEEN_URLS,
	  PATH ":2: urls lists more than 16 prefixes — shorten the list" },
	{ "control character",
	  "[profile work]\nclient_id = a\x01"
	  "b\n",
	  PATH ":2: client_id contains a control character — remove it" },
	{ "DEL character",
	  "[profile work]\nscope = a\x7f"
	  "b\n",
	  PATH ":2: scope contains a control character" },
	/* After a header an indented line starts a key; it does not continue the last one. */
	{ "indented urls after a reopened section",
	  "[profile work]\nurls = https://a.example/\n[profile other]\nscope = x\n[profile work]\n"
	  "  urls = https://evil.example/\n",
	  PATH ":6: urls is given twice for profile work" },
	/* key-based client authentication */
	{ "private_key from env", "[profile work]\nprivate_key = env:KEY\n",
	  PATH ":2: unknown private_key source \"env:KEY\" — use keyring, file:/path or "
	       "command:CMD (a key is no environment variable's to hold)" },
	{ "private_key bare path", "[profile work]\nprivate_key = /k.pem\n",
	  PATH ":2: unknown private_key source \"/k.pem\"" },
	{ "private_key file relative", "[profile work]\nprivate_key = file:k.pem\n",
	  PATH ":2: private_key file \"k.pem\" is not an absolute path" },
	{ "private_key command empty", "[profile work]\nprivate_key = command: \n",
	  PATH ":2: unknown private_key source \"command:\"" },
	{ "signing_alg lower case", "[profile work]\nsigning_alg = es256\n",
	  PATH ":2: unknown signing_alg \"es256\" — use RS256, PS256, ES256 or EdDSA (for "
	       "private_key_jwt), HS256 (for client_secret_jwt), or leave it out" },
	{ "signing_alg none", "[profile work]\nsigning_alg = none\n",
	  PATH ":2: unknown signing_alg \"none\"" },
	{ "signing_alg ES384", "[profile work]\nsigning_alg = ES384\n",
	  PATH ":2: unknown signing_alg \"ES384\"" },
	{ "key_id empty", "[profile work]\nkey_id =\n", PATH ":2: key_id is empty" },
	{ "private_key twice", "[profile work]\nprivate_key = keyring\nprivate_key = keyring\n",
	  PATH ":3: private_key is given twice for profile work" },
	/* The first error is the one reported, even when later lines have more. */
	{ "first of two errors", "[profile work]\ntimeout = 0\nbogus = 1\n",
	  PATH ":2: timeout must be" },
};

static void
test_config_error_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		const struct error_case *c = &error_cases[i];
		struct config cfg;
		struct error err;

		struct error kept_err, other_err;

		failures += mismatch_int(c->name, "rc", load_text(c->text, &cfg, &err), -1);
		failures += mismatch_int(c->name, "exit code", err.code, KB_EXIT_CONFIG);
		failures += mismatch_contains(c->name, "message", err.message, c->message);
		config_free(&cfg);
		/* Keeping one profile, the erring one or another, finds the same error. */
		failures += mismatch_int(c->name, "rc keeping work",
					 load_text_only(c->text, "work", &cfg, &kept_err), -1);
		failures += mismatch_str(c->name, "message keeping work", kept_err.message,
					 err.message);
		config_free(&cfg);
		failures += mismatch_int(c->name, "rc keeping another",
					 load_text_only(c->text, "other", &cfg, &other_err), -1);
		failures += mismatch_str(c->name, "message keeping another", other_err.message,
					 err.message);
		/* The location comes first, so editors and eyes can jump to it. */
		if (strncmp(err.message, PATH ":", strlen(PATH ":")) != 0) {
			print_error("%s: message \"%s\" does not start with the path\n", c->name,
				    err.message);
			failures++;
		}
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

/* A filtered load keeps the named profile (and the built-in one) and only the names of
 * the rest; the kept profile is read as a full load reads it, sections merged. */
static void
test_config_load_keeps_one_profile(void **state)
{
	static const char text[] = "[profile a]\ntoken_url = https://a.example/token\n"
				   "[profile main]\nclient_id = m\nurls = https://m.example/\n"
				   "[profile b]\ntoken_url = https://b.example/token\n"
				   "[profile main]\ntoken_url = https://m.example/token\n"
				   "[profile aspose]\nclient_id = x\n";
	struct config cfg;
	struct error err;
	const struct profile *p;
	char line[1024];

	(void)state;
	assert_int_equal(load_text_only(text, "main", &cfg, &err), 0);
	assert_int_equal(cfg.count, 2);
	assert_non_null(config_find(&cfg, "aspose"));
	assert_null(config_find(&cfg, "aspose")->client_id); /* the file's section was dropped */
	p = config_find(&cfg, "main");
	assert_non_null(p);
	describe_profile(p, line, sizeof(line));
	assert_non_null(strstr(line, ";token_url=https://m.example/token;"));
	assert_non_null(strstr(line, ";client_id=m;"));
	assert_string_equal(cfg.other_names, "a, b");
	assert_null(config_select(&cfg, "c", &err));
	assert_non_null(strstr(err.message, "known profiles: aspose, main, a, b;"));
	config_free(&cfg);
	/* a key repeated across two sections of a dropped profile is still an error */
	assert_int_equal(load_text_only("[profile a]\nscope = x\n[profile main]\nscope = y\n"
					"[profile a]\nscope = z\n",
					"main", &cfg, &err),
			 -1);
	assert_string_equal(err.message, PATH ":6: scope is given twice for profile a — keep one");
	config_free(&cfg);
}

/* inih hands us at most 198 characters of a line: the 199th must be an error, never a
 * silently shortened value. */
static void
test_config_line_length_limit(void **state)
{
	static const struct {
		size_t length;
		int rc;
	} lengths[] = { { 198, 0 }, { 199, -1 }, { 400, -1 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char text[1024], scope[512];
		struct config cfg;
		struct error err;
		size_t value_len = lengths[i].length - strlen("scope = ");

		memset(scope, 's', value_len);
		scope[value_len] = '\0';
		snprintf(text, sizeof(text), "[profile work]\nscope = %s\ntimeout = 5\n", scope);
		print_message("line of %zu characters\n", lengths[i].length);
		assert_int_equal(load_text(text, &cfg, &err), lengths[i].rc);
		if (lengths[i].rc == 0) {
			assert_string_equal(config_find(&cfg, "work")->scope, scope);
		} else {
			assert_int_equal(err.code, KB_EXIT_CONFIG);
			assert_string_equal(err.message, PATH
					    ":2: line is longer than 198 characters — shorten it");
		}
		config_free(&cfg);
	}
}

/* The README promises names of up to 64 characters: a long name must keep all of them,
 * and one character more must be refused rather than cut to fit. */
static void
test_config_profile_name_length_limit(void **state)
{
	static const struct {
		size_t length;
		int rc;
	} lengths[] = { { 40, 0 }, { 41, -1 }, { 64, -1 } };
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char name[80], text[160], row[32];
		struct config cfg;
		struct error err;
		int rc;

		memset(name, 'n', lengths[i].length);
		name[lengths[i].length] = '\0';
		snprintf(row, sizeof(row), "name of %zu characters", lengths[i].length);
		snprintf(text, sizeof(text), "[profile %s]\nclient_id = x\n", name);
		rc = load_text(text, &cfg, &err);
		failures += mismatch_int(row, "rc", rc, lengths[i].rc);
		if (lengths[i].rc == 0) {
			failures += mismatch_int(row, "found by its full name",
						 config_find(&cfg, name) != NULL, 1);
			failures += mismatch_int(row, "profile count", (long long)cfg.count, 2);
		} else {
			failures += mismatch_contains(row, "message", err.message,
						      PATH ":1: bad profile name");
		}
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

/* inih keeps parsing after a malformed or overlong line; the error reported must still be
 * the first one in the file, or the user fixes line 9 while line 2 stays broken. */
static void
test_config_reports_first_error_first(void **state)
{
	static char overlong[400], cut_value[400];
	char long_value[251];
	struct {
		const char *name;
		const char *text;
		const char *message;
	} cases[] = {
		{ "malformed, then unknown key",
		  "[profile work]\nthis line has no equals sign\nbogus = 1\n",
		  PATH ":2: malformed line" },
		{ "unclosed section, then key", "[profile work\ntimeout = 5\n",
		  PATH ":1: malformed line" },
		{ "overlong, then bad timeout", overlong,
		  PATH ":2: line is longer than 198 characters" },
		/* Cut at 198 characters, this line's value is empty: the length is the error. */
		{ "overlong line cut into a bad value", cut_value,
		  PATH ":2: line is longer than 198 characters" },
		{ "unknown key, then malformed", "[profile work]\nbogus = 1\nno equals sign\n",
		  PATH ":2: unknown key \"bogus\"" },
	};
	size_t i;
	int failures = 0;

	(void)state;
	memset(long_value, 'x', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	snprintf(overlong, sizeof(overlong), "[profile work]\nscope = %s\ntimeout = 0\n",
		 long_value);
	memset(long_value, ' ', 200);
	long_value[200] = '\0';
	snprintf(cut_value, sizeof(cut_value), "[profile work]\ntimeout =%s45\n", long_value);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct error err;

		failures +=
			mismatch_int(cases[i].name, "rc", load_text(cases[i].text, &cfg, &err), -1);
		failures +=
			mismatch_contains(cases[i].name, "message", err.message, cases[i].message);
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

/* "~/" needs an absolute HOME; without one the path is as relative as any other. */
static void
test_config_home_expansion_needs_absolute_home(void **state)
{
	static const char *const homes[] = { NULL, "", "relative/home" };
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(homes) / sizeof(homes[0]); i++) {
		struct config cfg;
		struct error err;
		const char *row = homes[i] != NULL ? homes[i] : "(unset)";

		if (homes[i] != NULL)
			setenv("HOME", homes[i], 1);
		else
			unsetenv("HOME");
		failures += mismatch_int(
			row, "rc", load_text("[profile w]\nca_file = ~/ca.pem\n", &cfg, &err), -1);
		failures +=
			mismatch_contains(row, "message", err.message,
					  PATH ":2: ca_file \"~/ca.pem\" is not an absolute path");
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

#define FILE_A	      "[profile a]\ntoken_url = https://a.example/token\n"
#define FILE_AB	      FILE_A "[profile b]\ntoken_url = https://b.example/token\n"
#define ENV_TOKEN_URL "https://env.example/token"

struct select_case {
	const char *name;
	const char *file;	 /* NULL: no config file at all */
	const char *env_profile; /* KEYBEARER_PROFILE */
	const char *env_token_url;
	const char *flag;
	const char *selected; /* NULL: an error */
	const char *message;  /* "@PATH@" stands for the config file's path */
};

static const struct select_case select_cases[] = {
	{ "flag beats KEYBEARER_PROFILE", FILE_AB, "a", NULL, "b", "b", NULL },
	{ "flag beats env profile", FILE_AB, NULL, ENV_TOKEN_URL, "a", "a", NULL },
	{ "KEYBEARER_PROFILE", FILE_AB, "a", NULL, NULL, "a", NULL },
	{ "empty flag falls back to KEYBEARER_PROFILE", FILE_AB, "b", NULL, "", "b", NULL },
	{ "KEYBEARER_PROFILE beats env profile", FILE_AB, "b", ENV_TOKEN_URL, NULL, "b", NULL },
	{ "env profile beats several file profiles", FILE_AB, NULL, ENV_TOKEN_URL, NULL, "env",
	  NULL },
	{ "env profile beats the only file profile", FILE_A, NULL, ENV_TOKEN_URL, NULL, "env",
	  NULL },
	{ "env profile by name", FILE_AB, NULL, ENV_TOKEN_URL, "env", "env", NULL },
	{ "the only file profile", FILE_A, NULL, NULL, NULL, "a", NULL },
	{ "the only file profile is aspose", "[profile aspose]\nclient_id = x\n", NULL, NULL, NULL,
	  "aspose", NULL },
	{ "no config file", NULL, NULL, NULL, NULL, "aspose", NULL },
	{ "config file without profiles", "# nothing yet\n", NULL, NULL, NULL, "aspose", NULL },
	{ "built-in by name beside file profiles", FILE_AB, NULL, NULL, "aspose", "aspose", NULL },
	{ "several file profiles", FILE_AB, NULL, NULL, NULL, NULL,
	  "several profiles are configured (a, b) — choose one with --profile NAME or "
	  "KEYBEARER_PROFILE" },
	{ "several file profiles with aspose", "[profile aspose]\nclient_id = x\n" FILE_A, NULL,
	  NULL, NULL, NULL, "several profiles are configured (aspose, a)" },
	{ "unknown flag", FILE_AB, NULL, NULL, "c", NULL,
	  "no profile named \"c\" — known profiles: aspose, a, b; add [profile c] to @PATH@" },
	{ "unknown KEYBEARER_PROFILE", FILE_AB, "c", NULL, NULL, NULL,
	  "no profile named \"c\" — known profiles: aspose, a, b; add [profile c] to @PATH@" },
	{ "unknown name without a file", NULL, "c", NULL, NULL, NULL,
	  "no profile named \"c\" — known profiles: aspose; add [profile c] to the config file" },
};

/* filtered: config_load_selected, which must select exactly as config_load does. */
static int
check_select_case(const struct select_case *c, int filtered)
{
	struct config cfg;
	struct error err = { 0 };
	const struct profile *p;
	char path[512], message[1024];
	const char *mark;
	int failures = 0;

	clean_environment(NULL);
	if (c->env_profile != NULL)
		setenv("KEYBEARER_PROFILE", c->env_profile, 1);
	if (c->env_token_url != NULL)
		setenv("KEYBEARER_TOKEN_URL", c->env_token_url, 1);
	if (c->file != NULL) {
		write_file("config", c->file, strlen(c->file), 0600, path, sizeof(path));
		setenv("KEYBEARER_CONFIG", path, 1);
	} else {
		/* An empty XDG_CONFIG_HOME: the default file is simply absent. */
		snprintf(path, sizeof(path), "%s/no-config-here", scratch_dir);
		setenv("XDG_CONFIG_HOME", path, 1);
	}
	failures += mismatch_int(
		c->name, "config_load",
		filtered ? config_load_selected(&cfg, c->flag, &err) : config_load(&cfg, &err), 0);
	if (failures != 0)
		return failures;
	p = config_select(&cfg, c->flag, &err);
	if (c->selected != NULL) {
		failures += mismatch_str(c->name, "selected", p ? p->name : NULL, c->selected);
		failures += mismatch_int(c->name, "exit code", err.code, KB_EXIT_OK);
	} else {
		failures += mismatch_str(c->name, "selected", p ? p->name : NULL, NULL);
		failures += mismatch_int(c->name, "exit code", err.code, KB_EXIT_CONFIG);
		mark = strstr(c->message, "@PATH@");
		if (mark != NULL)
			snprintf(message, sizeof(message), "%.*s%s%s", (int)(mark - c->message),
				 c->message, path, mark + strlen("@PATH@"));
		else
			snprintf(message, sizeof(message), "%s", c->message);
		failures += mismatch_contains(c->name, "message", err.message, message);
	}
	config_free(&cfg);
	return failures;
}

static void
test_config_select_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(select_cases) / sizeof(select_cases[0]); i++) {
		failures += check_select_case(&select_cases[i], 0);
		failures += check_select_case(&select_cases[i], 1);
	}
	assert_int_equal(failures, 0);
}

/* CI describes a profile with variables alone: they make the "env" profile. */
static void
test_config_environment_defines_env_profile(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char dir[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/no-config-here", scratch_dir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	setenv("KEYBEARER_TOKEN_URL", "https://env.example:8443/oauth/token", 1);
	setenv("KEYBEARER_CLIENT_ID", "env-client", 1);
	setenv("KEYBEARER_SCOPE", "read write", 1);
	setenv("KEYBEARER_CA_FILE", "/etc/ssl/env-ca.pem", 1);
	assert_int_equal(config_load(&cfg, &err), 0);
	assert_null(cfg.path);
	assert_int_equal(cfg.count, 2);
	assert_int_equal(
		mismatch_profile("env", &cfg, "env",
				 ";token_url=https://env.example:8443/oauth/token;"
				 "client_id=env-client;scope=read write;audience=-;"
				 "resource=-;auth_method=client_secret_post;"
				 "urls=[https://env.example:8443/];"
				 "secret=env:KEYBEARER_CLIENT_SECRET;"
				 "ca_file=/etc/ssl/env-ca.pem;timeout=30;refresh_margin=300;"
				 "in_file=0;"),
		0);
	config_free(&cfg);
}

/* The variables describe the "env" profile and nothing else: a CI variable meant for one
 * service must not redirect another profile's secret. With no token URL given, "env" has no
 * endpoint at all (an exported secret goes nowhere implied); KEYBEARER_PRESET=aspose makes
 * it an Aspose client. Empty variables count as unset. */
static void
test_config_environment_leaves_file_profiles_alone(void **state)
{
	struct config cfg;
	struct error err;
	char path[512];

	(void)state;
	setenv("KEYBEARER_CLIENT_ID", "env-client", 1);
	setenv("KEYBEARER_SCOPE", "env-scope", 1);
	setenv("KEYBEARER_TOKEN_URL", "", 1);
	setenv("KEYBEARER_CA_FILE", "", 1);
	assert_int_equal(load_file("[profile work]\ntoken_url = https://file.example/token\n"
				   "client_id = file-client\nscope = file-scope\n"
				   "ca_file = /etc/file-ca.pem\n",
				   &cfg, &err, path, sizeof(path)),
			 0);
	assert_string_equal(cfg.path, path);
	assert_int_equal(mismatch_profile("work", &cfg, "work",
					  ";token_url=https://file.example/token;"
					  "client_id=file-client;scope=file-scope;audience=-;"
					  "resource=-;auth_method=client_secret_post;"
					  "urls=[https://file.example/];secret=keyring;"
					  "ca_file=/etc/file-ca.pem;"),
			 0);
	assert_int_equal(mismatch_profile("env", &cfg, "env",
					  ";token_url=-;client_id=env-client;scope=env-scope;"
					  "audience=-;resource=-;auth_method=client_secret_post;"
					  "urls=[];secret=env:KEYBEARER_CLIENT_SECRET;ca_file=-;"),
			 0);
	assert_string_equal(config_select(&cfg, NULL, &err)->name, "env");
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_check_mintable(&cfg, config_select(&cfg, NULL, &err), &err), -1);
	assert_int_equal(err.code, KB_EXIT_CONFIG);
	assert_string_equal(err.message,
			    "profile env has no token endpoint: KEYBEARER_TOKEN_URL is not set, "
			    "and keybearer never guesses where a secret goes — export "
			    "KEYBEARER_TOKEN_URL (or KEYBEARER_ISSUER; for Aspose Cloud, "
			    "KEYBEARER_PRESET=aspose)");
	config_free(&cfg);

	setenv("KEYBEARER_PRESET", "aspose", 1);
	assert_int_equal(load_file("", &cfg, &err, path, sizeof(path)), 0);
	assert_int_equal(mismatch_profile("env", &cfg, "env",
					  ";token_url=https://api.aspose.cloud/connect/token;"
					  "client_id=env-client;scope=env-scope;audience=-;"
					  "resource=-;auth_method=client_secret_post;"
					  "urls=[https://api.aspose.cloud/];"
					  "secret=env:KEYBEARER_CLIENT_SECRET;ca_file=-;"),
			 0);
	config_free(&cfg);

	/* a preset alone makes the profile; the client id can still be missing */
	unsetenv("KEYBEARER_CLIENT_ID");
	assert_int_equal(load_file("", &cfg, &err, path, sizeof(path)), 0);
	assert_non_null(config_find(&cfg, "env"));
	config_free(&cfg);

	setenv("KEYBEARER_PRESET", "Aspose", 1);
	memset(&err, 0, sizeof(err));
	assert_int_equal(load_file("", &cfg, &err, path, sizeof(path)), -1);
	assert_string_equal(err.message,
			    "KEYBEARER_PRESET: unknown preset \"Aspose\" — the only preset is "
			    "aspose (Aspose Cloud); for another provider set KEYBEARER_TOKEN_URL "
			    "instead");
	unsetenv("KEYBEARER_PRESET");
}

struct env_error_case {
	const char *variable, *value;
	const char *message;
};

static const struct env_error_case env_error_cases[] = {
	{ "KEYBEARER_TOKEN_URL", "http://evil.example/token",
	  "KEYBEARER_TOKEN_URL: token_url uses plain http to evil.example" },
	{ "KEYBEARER_TOKEN_URL", "https://u:p@h.example/token",
	  "KEYBEARER_TOKEN_URL: token_url is not a usable URL" },
	{ "KEYBEARER_CA_FILE", "relative/ca.pem",
	  "KEYBEARER_CA_FILE: ca_file \"relative/ca.pem\" is not an absolute path" },
	{ "KEYBEARER_CLIENT_ID", "a\tb",
	  "KEYBEARER_CLIENT_ID: client_id contains a control character" },
	{ "KEYBEARER_SCOPE", "a\nb", "KEYBEARER_SCOPE: scope contains a control character" },
};

static void
test_config_environment_errors(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(env_error_cases) / sizeof(env_error_cases[0]); i++) {
		const struct env_error_case *c = &env_error_cases[i];
		struct config cfg;
		struct error err;
		char path[512];

		clean_environment(NULL);
		setenv("KEYBEARER_CLIENT_ID", "ci-client", 1); /* makes the "env" profile */
		setenv(c->variable, c->value, 1);
		failures += mismatch_int(c->variable, "rc",
					 load_file(FILE_A, &cfg, &err, path, sizeof(path)), -1);
		failures += mismatch_int(c->variable, "exit code", err.code, KB_EXIT_CONFIG);
		failures += mismatch_contains(c->variable, "message", err.message, c->message);
		failures += mismatch_int(c->variable, "config freed", (long long)cfg.count, 0);
	}
	assert_int_equal(failures, 0);
}

/* Without urls, a token may go only where its secret went: the token endpoint's origin. */
/* URL -> profile: the longest urls prefix wins; scheme, host and port must be the same
 * (a default port written out or not); nothing else gets a token. */
static const char match_config[] = "[profile site]\nurls = https://api.example.com/\n"
				   "[profile billing]\nurls = https://api.example.com/billing/\n"
				   "[profile port]\nurls = https://api.example.com:8443/\n"
				   "[profile plain]\nurls = http://127.0.0.1:9000/v1\n";

static const struct {
	const char *url;
	const char *profile; /* NULL: no profile claims it */
} match_cases[] = {
	{ "https://api.example.com/things", "site" },
	{ "https://api.example.com", "site" },
	{ "https://API.Example.com:443/x", "site" },
	{ "https://api.example.com/billing/invoices?x=1", "billing" },
	/* a claim of /billing/ claims /billing too (git asks for .../repo.git of a claim
	 * written .../repo.git/), and its query, but nothing else that starts so */
	{ "https://api.example.com/billing", "billing" },
	{ "https://api.example.com/billing?x=1", "billing" },
	{ "https://api.example.com/billin", "site" },
	{ "https://api.example.com/billing-admin", "site" },
	{ "https://api.example.com/billing#x", NULL },
	/* A claim ends at a path segment; paths whose meaning depends on normalization are
	 * nobody's: dot segments, encoded dots, slashes, backslashes. */
	{ "https://api.example.com/billingx/y", "site" },
	{ "https://api.example.com/billing/../admin", NULL },
	{ "https://api.example.com/billing/./x", NULL },
	{ "https://api.example.com/billing/%2e%2e/admin", NULL },
	{ "https://api.example.com/billing/%2E%2E/admin", NULL },
	{ "https://api.example.com/billing%2fadmin", NULL },
	{ "https://api.example.com/billing\\..\\admin", NULL },
	{ "https://api.example.com/a/..", NULL },
	{ "http://127.0.0.1:9000/v1x", NULL },
	{ "http://127.0.0.1:9000/v1?q=1", "plain" },
	{ "https://api.example.com:8443/", "port" },
	{ "https://api.example.com:8444/", NULL },
	{ "http://api.example.com/things", NULL },
	{ "https://api.example.com.evil.test/", NULL },
	{ "https://evil.test/https://api.example.com/", NULL },
	{ "http://127.0.0.1:9000/v1/x", "plain" },
	{ "http://127.0.0.1:9000/v1", "plain" },
	{ "http://127.0.0.1:9000/v2", NULL },
	{ "https://user@api.example.com/", NULL },
	{ "not a url", NULL },
};

static void
test_config_match_url_table(void **state)
{
	struct config cfg;
	struct error err;
	size_t i;
	int failures = 0;

	(void)state;
	assert_int_equal(load_text(match_config, &cfg, &err), 0);
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		const struct profile *p = config_match_url(&cfg, match_cases[i].url);
		failures += mismatch_str(match_cases[i].url, "profile", p ? p->name : NULL,
					 match_cases[i].profile);
		if (match_cases[i].profile != NULL)
			failures += mismatch_int(match_cases[i].url, "claimed by site",
						 config_profile_claims(config_find(&cfg, "site"),
								       match_cases[i].url),
						 strncmp(match_cases[i].url, "https://", 8) == 0 &&
							 strstr(match_cases[i].url, ":84") == NULL);
	}
	config_free(&cfg);
	assert_int_equal(failures, 0);
}

/* Why a URL gets no token, told once for which, get --url and the plugins: what refuses
 * the URL itself, else the claims on its host (or every profile's), and the urls line
 * that would claim it — the whole message, pinned, with @PATH@ for the config file. */
static const char explain_config[] =
	"[profile site]\ntoken_url = https://login.example.com/token\n"
	"urls = https://api.example.com/v1/ https://api.example.com:8443/\n"
	"[profile local]\ntoken_url = http://127.0.0.1:9000/token\n";

static const struct {
	const char *url, *as_given, *chosen, *message;
} explain_cases[] = {
	{ "https://elsewhere.test/x", NULL, NULL,
	  "no profile claims https://elsewhere.test/x: no profile's urls are on "
	  "elsewhere.test (the profiles: aspose https://api.aspose.cloud/; site "
	  "https://api.example.com/v1/ https://api.example.com:8443/; local "
	  "http://127.0.0.1:9000/) — add https://elsewhere.test/x to the urls of the profile "
	  "meant for it, in its [profile NAME] of @PATH@ (a urls line replaces what the profile "
	  "claims by default: keep that in the line)" },
	{ "https://api.example.com/v2/things", NULL, NULL,
	  "no profile claims https://api.example.com/v2/things: the claims on api.example.com: "
	  "site https://api.example.com/v1/ https://api.example.com:8443/ — add "
	  "https://api.example.com/v2/ to the urls of profile site: urls = "
	  "https://api.example.com/v1/ https://api.example.com:8443/ https://api.example.com/v2/ "
	  "in [profile site] of @PATH@" },
	{ "http://api.example.com/v1/x", NULL, NULL,
	  "no profile claims http://api.example.com/v1/x: it is plain http to api.example.com, "
	  "and the token would travel unencrypted: no profile may claim such a URL — use "
	  "https://" },
	{ "api.example.com/v1/x", NULL, NULL,
	  "no profile claims api.example.com/v1/x: it is not an http:// or https:// URL, and no "
	  "profile claims such a URL — give an https:// URL" },
	{ "http://api.example.com/v1/x", "api.example.com/v1/x", NULL,
	  "no profile claims http://api.example.com/v1/x (api.example.com/v1/x has no scheme: "
	  "read as http://, as curl reads it): it is plain http to api.example.com, and the token "
	  "would travel unencrypted: no profile may claim such a URL — use https://" },
	{ "https://api.example.com/v1/../admin", NULL, NULL,
	  "no profile claims https://api.example.com/v1/../admin: its path has a dot segment (. "
	  "or ..) or an encoded dot, slash or backslash, which servers and tools resolve "
	  "differently, and no profile claims such a URL — write the path without them" },
	{ "https://user@api.example.com/v1/", NULL, NULL,
	  "no profile claims https://user@api.example.com/v1/: it has a user name or password (@) "
	  "before its host, and no profile claims such a URL — leave them out of the URL" },
	{ "https://api.example.com/v1/x#top", NULL, NULL,
	  "no profile claims https://api.example.com/v1/x#top: it has a fragment (#), and no "
	  "profile claims such a URL — leave out the #fragment" },
	{ "https://api.example.com/v1/x", NULL, "local",
	  "profile local does not claim https://api.example.com/v1/x: it claims "
	  "http://127.0.0.1:9000/; profile site claims it (with https://api.example.com/v1/) — "
	  "use profile site, or add https://api.example.com/v1/ to the urls of profile local" },
	{ "http://127.0.0.1:9001/", NULL, "local",
	  "profile local does not claim http://127.0.0.1:9001/: it claims "
	  "http://127.0.0.1:9000/ — add http://127.0.0.1:9001/ to the urls of profile local: "
	  "urls = http://127.0.0.1:9000/ http://127.0.0.1:9001/ in [profile local] of @PATH@" },
	/* what a user typed cannot end the message's line */
	{ "https://api.example.com/v1/a\nkeybearer: fake", NULL, NULL,
	  "no profile claims https://api.example.com/v1/a?keybearer: fake: it has a space or a "
	  "control character in it, and no profile claims such a URL — percent-encode it" },
	{ "https://api.example.com:8444/", NULL, NULL,
	  "no profile claims https://api.example.com:8444/: the claims on api.example.com: site "
	  "https://api.example.com/v1/ https://api.example.com:8443/ — add "
	  "https://api.example.com:8444/ to the urls of profile site: urls = "
	  "https://api.example.com/v1/ https://api.example.com:8443/ https://api.example.com:8444/ "
	  "in [profile site] of @PATH@" },
};

/* The urls entry a message suggests ("add ENTRY to the urls") must claim the URL. */
static int
mismatch_suggestion(const char *url, const char *message)
{
	const char *start = strstr(message, " add "), *end;
	char entry[512], *urls[1] = { entry };
	struct profile p = { .urls = urls, .url_count = 1 };

	if (start == NULL || strncmp(start, " add a prefix", 13) == 0)
		return 0;
	start += 5;
	end = strstr(start, " to the urls");
	if (end == NULL || (size_t)(end - start) >= sizeof(entry))
		return mismatch_contains(url, "message", message, " to the urls");
	snprintf(entry, sizeof(entry), "%.*s", (int)(end - start), start);
	return mismatch_int(url, "the suggested entry claims it", config_profile_claims(&p, url),
			    1);
}

static void
test_config_explain_unclaimed_table(void **state)
{
	char path[512], message[2048], want[2048];
	struct config cfg;
	struct error err;
	size_t i;
	int failures = 0;

	(void)state;
	assert_int_equal(load_file(explain_config, &cfg, &err, path, sizeof(path)), 0);
	for (i = 0; i < sizeof(explain_cases) / sizeof(explain_cases[0]); i++) {
		const char *mark = strstr(explain_cases[i].message, "@PATH@");
		const struct profile *chosen =
			explain_cases[i].chosen ? config_find(&cfg, explain_cases[i].chosen) : NULL;
		if (mark != NULL)
			snprintf(want, sizeof(want), "%.*s%s%s",
				 (int)(mark - explain_cases[i].message), explain_cases[i].message,
				 path, mark + strlen("@PATH@"));
		else
			snprintf(want, sizeof(want), "%s", explain_cases[i].message);
		config_explain_unclaimed(&cfg, chosen, explain_cases[i].url,
					 explain_cases[i].as_given, message, ERROR_MESSAGE_MAX);
		failures += mismatch_str(explain_cases[i].url, "message", message, want);
		failures += mismatch_suggestion(explain_cases[i].url, message);
	}
	config_free(&cfg);
	assert_int_equal(failures, 0);
}

/* Forty profiles do not fit in a message: those that do are listed whole, the rest
 * counted, and the advice still comes; a long URL is quoted with a mark, never cut bare. */
static void
test_config_explain_unclaimed_bounded(void **state)
{
	char text[8192], message[ERROR_MESSAGE_MAX], url[400], *piece, *saveptr = NULL;
	struct config cfg;
	struct error err;
	size_t used = 0;
	int i;

	(void)state;
	for (i = 0; i < 40; i++)
		used += (size_t)snprintf(
			text + used, sizeof(text) - used,
			"[profile p%02d]\nurls = https://host%02d.example/some/long/"
			"path/prefix/%02d/\n",
			i, i, i);
	assert_int_equal(load_text(text, &cfg, &err), 0);
	config_explain_unclaimed(&cfg, NULL, "https://other.example/x", NULL, message,
				 sizeof(message));
	assert_true(strlen(message) < sizeof(message) - 1);
	assert_non_null(strstr(message,
			       " more (keybearer status lists them)) — add "
			       "https://other.example/x to the urls of the profile meant"));
	/* every profile listed is listed whole: "pNN https://hostNN.example/.../NN/" */
	piece = strstr(message, "(the profiles: ") + strlen("(the profiles: ");
	for (piece = strtok_r(piece, ";", &saveptr); piece != NULL && strstr(piece, "more") == NULL;
	     piece = strtok_r(NULL, ";", &saveptr)) {
		int n = -1;
		char rest[128] = "";
		if (strcmp(piece, "aspose https://api.aspose.cloud/") == 0)
			continue;
		assert_int_equal(sscanf(piece,
					" p%d https://host%*d.example/some/long/path/prefix/%127s",
					&n, rest),
				 2);
		assert_true(strlen(rest) == 3 && rest[2] == '/');
	}
	config_free(&cfg);

	assert_int_equal(load_text("[profile a]\nurls = https://a.example/\n", &cfg, &err), 0);
	snprintf(url, sizeof(url), "https://b.example/%0350d", 7);
	config_explain_unclaimed(&cfg, NULL, url, NULL, message, sizeof(message));
	snprintf(text, sizeof(text),
		 "no profile claims %.200s…: no profile's urls are on b.example", url);
	assert_true(strncmp(message, text, strlen(text)) == 0);
	assert_non_null(strstr(message, " — add a prefix of it to the urls of the profile meant "
					"for it"));
	config_free(&cfg);
}

static void
test_config_default_urls(void **state)
{
	struct config cfg;
	struct error err;
	char path[512];
	int failures = 0;

	(void)state;
	assert_int_equal(load_file("[profile work]\ntoken_url = https://h:8443/oauth/token\n"
				   "[profile listed]\ntoken_url = https://h/t\n"
				   "urls = https://api.example/\n"
				   "[profile upper]\ntoken_url = HTTPS://Login.Example:443/t\n"
				   "[profile bare]\nclient_id = x\n",
				   &cfg, &err, path, sizeof(path)),
			 0);
	failures += mismatch_profile("work", &cfg, "work", ";urls=[https://h:8443/];");
	failures += mismatch_profile("listed", &cfg, "listed", ";urls=[https://api.example/];");
	failures += mismatch_profile("upper", &cfg, "upper", ";urls=[https://login.example/];");
	failures += mismatch_profile("bare", &cfg, "bare", ";urls=[];");
	failures +=
		mismatch_profile("aspose", &cfg, "aspose", ";urls=[https://api.aspose.cloud/];");
	config_free(&cfg);
	assert_int_equal(failures, 0);
}

static void
test_config_load_missing_explicit_file(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char path[512], expected[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist", scratch_dir);
	setenv("KEYBEARER_CONFIG", path, 1);
	assert_int_equal(config_load(&cfg, &err), -1);
	assert_int_equal(err.code, KB_EXIT_CONFIG);
	snprintf(expected, sizeof(expected),
		 "config file %s (from KEYBEARER_CONFIG) does not exist — create it or unset "
		 "KEYBEARER_CONFIG",
		 path);
	assert_string_equal(err.message, expected);
	assert_int_equal(cfg.count, 0);
}

/* Whoever can write the config can send the secret anywhere: group or other write bits
 * make it unusable, while read bits are harmless. */
static void
test_config_load_file_modes(void **state)
{
	static const struct {
		mode_t mode;
		int rc;
	} modes[] = { { 0600, 0 },  { 0640, 0 },  { 0644, 0 },
		      { 0664, -1 }, { 0602, -1 }, { 0666, -1 } };
	static const char text[] = FILE_A;
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct config cfg;
		struct error err = { 0 };
		char path[512], row[16], expected[2048];

		snprintf(row, sizeof(row), "mode %04o", (unsigned)modes[i].mode);
		write_file("config", text, strlen(text), modes[i].mode, path, sizeof(path));
		setenv("KEYBEARER_CONFIG", path, 1);
		failures += mismatch_int(row, "rc", config_load(&cfg, &err), modes[i].rc);
		if (modes[i].rc != 0) {
			failures += mismatch_int(row, "exit code", err.code, KB_EXIT_CONFIG);
			snprintf(
				expected, sizeof(expected),
				"config file %s is accessible to group or others (mode %04o) — run "
				"chmod %04o %s",
				path, (unsigned)modes[i].mode, (unsigned)(modes[i].mode & ~022u),
				path);
			failures += mismatch_str(row, "message", err.message, expected);
		}
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

static void
test_config_load_refuses_nul_byte(void **state)
{
	static const char text[] = "[profile a]\nclient_id = x\0y\n";
	struct config cfg;
	struct error err = { 0 };
	char path[512];

	(void)state;
	write_file("config", text, sizeof(text) - 1, 0600, path, sizeof(path));
	setenv("KEYBEARER_CONFIG", path, 1);
	assert_int_equal(config_load(&cfg, &err), -1);
	assert_int_equal(err.code, KB_EXIT_CONFIG);
	assert_non_null(strstr(err.message, "contains a NUL byte"));
}

/* Errors in a real file name that file, not a placeholder. */
static void
test_config_load_error_names_the_file(void **state)
{
	struct config cfg;
	struct error err;
	char path[512], expected[1024];

	(void)state;
	assert_int_equal(load_file("[profile a]\n\nclient = x\n", &cfg, &err, path, sizeof(path)),
			 -1);
	snprintf(expected, sizeof(expected), "%s:3: unknown key \"client\"", path);
	assert_non_null(strstr(err.message, expected));
}

static void
make_scratch_dir(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", scratch_dir, name);
	assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
}

#define FROM_XDG  "[profile from-xdg]\nclient_id = x\n"
#define FROM_HOME "[profile from-home]\nclient_id = x\n"

/* Without KEYBEARER_CONFIG: $XDG_CONFIG_HOME/keybearer/config, else ~/.config/keybearer;
 * a missing default file is no error. */
static void
test_config_load_default_locations(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char path[512], dir[512];

	(void)state;
	make_scratch_dir("xdg");
	make_scratch_dir("xdg/keybearer");
	write_file("xdg/keybearer/config", FROM_XDG, strlen(FROM_XDG), 0600, path, sizeof(path));
	make_scratch_dir("home");
	make_scratch_dir("home/.config");
	make_scratch_dir("home/.config/keybearer");
	write_file("home/.config/keybearer/config", FROM_HOME, strlen(FROM_HOME), 0600, path,
		   sizeof(path));

	snprintf(dir, sizeof(dir), "%s/xdg", scratch_dir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	snprintf(dir, sizeof(dir), "%s/home", scratch_dir);
	setenv("HOME", dir, 1);
	assert_int_equal(config_load(&cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/xdg/keybearer/config", scratch_dir);
	assert_string_equal(cfg.path, path);
	assert_non_null(config_find(&cfg, "from-xdg"));
	assert_null(config_find(&cfg, "from-home"));
	config_free(&cfg);

	/* A relative XDG_CONFIG_HOME is ignored, as the XDG specification asks. */
	setenv("XDG_CONFIG_HOME", "relative/xdg", 1);
	assert_int_equal(config_load(&cfg, &err), 0);
	snprintf(path, sizeof(path), "%s/home/.config/keybearer/config", scratch_dir);
	assert_string_equal(cfg.path, path);
	assert_non_null(config_find(&cfg, "from-home"));
	config_free(&cfg);

	snprintf(dir, sizeof(dir), "%s/empty-xdg", scratch_dir);
	setenv("XDG_CONFIG_HOME", dir, 1);
	assert_int_equal(config_load(&cfg, &err), 0);
	assert_null(cfg.path);
	assert_int_equal(cfg.count, 1);
	assert_string_equal(cfg.profiles[0].name, "aspose");
	assert_int_equal(err.code, KB_EXIT_OK);
	config_free(&cfg);
}

/* Dotfile managers link the config from a repository: a link to a private file is fine. */
static void
test_config_load_follows_symlink(void **state)
{
	struct config cfg;
	struct error err = { 0 };
	char target[512], link_path[512];

	(void)state;
	write_file("linked-target", FILE_A, strlen(FILE_A), 0600, target, sizeof(target));
	snprintf(link_path, sizeof(link_path), "%s/linked-config", scratch_dir);
	unlink(link_path);
	assert_int_equal(symlink(target, link_path), 0);
	setenv("KEYBEARER_CONFIG", link_path, 1);
	assert_int_equal(config_load(&cfg, &err), 0);
	assert_non_null(config_find(&cfg, "a"));
	config_free(&cfg);
}

struct mintable_case {
	const char *name;
	const char *text;
	const char *profile;
	const char *message; /* NULL: mintable; "@PATH@" stands for the config file's path */
};

static const struct mintable_case mintable_cases[] = {
	{ "complete", "[profile work]\ntoken_url = https://h/t\nclient_id = c\n", "work", NULL },
	{ "no client_id", "[profile work]\ntoken_url = https://h/t\n", "work",
	  "profile work has no client_id — set client_id in [profile work] in @PATH@ or "
	  "KEYBEARER_CLIENT_ID" },
	{ "no token_url", "[profile work]\nclient_id = c\n", "work",
	  "profile work has no token_url — set token_url (or an OIDC issuer) in [profile work] "
	  "in @PATH@ or KEYBEARER_TOKEN_URL" },
	{ "an issuer instead of token_url",
	  "[profile work]\nissuer = https://login.example/realm\nclient_id = c\n", "work", NULL },
	/* one client, many APIs: the advice names the section that holds the client */
	{ "inherits a base without client_id",
	  "[profile work]\ninherit = mid\n[profile mid]\ninherit = base\n"
	  "[profile base]\ntoken_url = https://h/t\n",
	  "work",
	  "profile work has no client_id — set client_id in [profile base] in @PATH@ or "
	  "KEYBEARER_CLIENT_ID" },
	{ "inherits a base with a stray key",
	  "[profile work]\ninherit = base\n[profile base]\ntoken_url = https://h/t\n"
	  "client_id = c\nsigning_alg = ES256\n",
	  "work",
	  "profile work has signing_alg, which auth_method client_secret_post does not use — "
	  "set the auth_method that uses it, or remove signing_alg from [profile base] in "
	  "@PATH@" },
	{ "inherits a complete base",
	  "[profile work]\ninherit = base\n[profile base]\n"
	  "token_url = https://h/t\nclient_id = c\n",
	  "work", NULL },
	{ "aspose without client_id", "", "aspose",
	  "profile aspose has no client_id — set client_id in [profile aspose] in @PATH@ or "
	  "KEYBEARER_CLIENT_ID" },
	/* key-based client authentication */
	{ "private_key_jwt, key in the keyring",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "private_key_jwt\n",
	  "work", NULL },
	{ "private_key_jwt with every key",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "private_key_jwt\nprivate_key = file:/k.pem\nsigning_alg = PS256\nkey_id = k1\n"
	  "assertion_audience = https://h/\n",
	  "work", NULL },
	{ "client_secret_jwt, HS256 said",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "client_secret_jwt\nsigning_alg = HS256\nkey_id = s1\n",
	  "work", NULL },
	{ "private_key without private_key_jwt",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nprivate_key = file:/k.pem\n",
	  "work",
	  "profile work has private_key, which auth_method client_secret_post does not use — set "
	  "the auth_method that uses it, or remove private_key from [profile work] in @PATH@" },
	{ "private_key with client_secret_jwt",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "client_secret_jwt\nprivate_key = command:pass show k\n",
	  "work",
	  "profile work has private_key, which auth_method client_secret_jwt does not use — set "
	  "the auth_method that uses it, or remove private_key from [profile work] in @PATH@" },
	{ "signing_alg with client_secret_basic",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "client_secret_basic\nsigning_alg = RS256\n",
	  "work",
	  "profile work has signing_alg, which auth_method client_secret_basic does not use — "
	  "set the auth_method that uses it, or remove signing_alg from [profile work] in "
	  "@PATH@" },
	{ "key_id with client_secret_post",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nkey_id = k1\n", "work",
	  "profile work has key_id, which auth_method client_secret_post does not use — set the "
	  "auth_method that uses it, or remove key_id from [profile work] in @PATH@" },
	{ "a secret file with private_key_jwt",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "private_key_jwt\nsecret = file:/s\n",
	  "work",
	  "profile work has secret, which auth_method private_key_jwt does not use — set the "
	  "auth_method that uses it, or remove secret from [profile work] in @PATH@" },
	{ "ES256 for client_secret_jwt",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "client_secret_jwt\nsigning_alg = ES256\n",
	  "work",
	  "signing_alg ES256 of profile work does not fit client_secret_jwt, which signs with the "
	  "secret (HS256) — set signing_alg = HS256, or auth_method = private_key_jwt for a "
	  "private key" },
	{ "HS256 for private_key_jwt",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "private_key_jwt\nsigning_alg = HS256\n",
	  "work",
	  "signing_alg HS256 of profile work does not fit private_key_jwt, which signs with a "
	  "private key — use RS256, PS256, ES256 or EdDSA, or auth_method = client_secret_jwt" },
	/* federated assertions and token exchange */
	{ "client_assertion from github-actions",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "client_assertion\nassertion = github-actions\n",
	  "work", NULL },
	{ "client_assertion without an assertion",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = "
	  "client_assertion\n",
	  "work",
	  "profile work uses auth_method = client_assertion but names no assertion — set "
	  "assertion = github-actions, env:NAME, file:PATH or command:CMD in [profile work] in "
	  "@PATH@" },
	{ "an assertion for a secret method",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nassertion = env:CI_TOKEN\n",
	  "work",
	  "profile work sets assertion but its auth_method is client_secret_post — set "
	  "auth_method = client_assertion in [profile work] in @PATH@, or remove assertion" },
	{ "token exchange of a file",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\ngrant_type = "
	  "token_exchange\nsubject_token = file:/t\n",
	  "work", NULL },
	{ "token exchange without a subject",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\ngrant_type = token_exchange\n",
	  "work",
	  "profile work uses grant_type = token_exchange but names no subject_token — set "
	  "subject_token = github-actions, env:NAME, file:PATH or command:CMD in [profile work] "
	  "in @PATH@" },
	{ "a subject without token exchange",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nsubject_token = env:T\n", "work",
	  "profile work sets subject_token, subject_token_type or requested_token_type without "
	  "grant_type = token_exchange — set grant_type = token_exchange in [profile work] in "
	  "@PATH@, or remove them" },
	{ "a public client exchanging without client_id",
	  "[profile work]\ntoken_url = https://h/t\nauth_method = none\ngrant_type = "
	  "token_exchange\nsubject_token = env:T\n",
	  "work", NULL },
	{ "none with client_credentials",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\nauth_method = none\n", "work",
	  "profile work uses auth_method = none with the client_credentials grant, which needs a "
	  "client that proves who it is — use grant_type = token_exchange with a subject_token, "
	  "or another auth_method, in [profile work] in @PATH@" },
	{ "a refresh token asked for",
	  "[profile work]\ntoken_url = https://h/t\nclient_id = c\ngrant_type = "
	  "token_exchange\nsubject_token = env:T\nrequested_token_type = "
	  "urn:ietf:params:oauth:token-type:refresh_token\n",
	  "work",
	  "profile work asks for requested_token_type "
	  "urn:ietf:params:oauth:token-type:refresh_token, which is no token a Bearer header "
	  "carries — use urn:ietf:params:oauth:token-type:access_token or "
	  "urn:ietf:params:oauth:token-type:jwt, or remove it" },
};

static void
test_config_check_mintable_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(mintable_cases) / sizeof(mintable_cases[0]); i++) {
		const struct mintable_case *c = &mintable_cases[i];
		const struct profile *p;
		struct config cfg;
		struct error err;
		char path[512], expected[1024];
		const char *mark;
		int rc;

		failures += mismatch_int(c->name, "config_load",
					 load_file(c->text, &cfg, &err, path, sizeof(path)), 0);
		p = config_find(&cfg, c->profile);
		if (p == NULL) {
			print_error("%s: no profile %s\n", c->name, c->profile);
			failures++;
			config_free(&cfg);
			continue;
		}
		rc = config_check_mintable(&cfg, p, &err);
		failures += mismatch_int(c->name, "rc", rc, c->message ? -1 : 0);
		failures += mismatch_int(c->name, "exit code", err.code,
					 c->message ? KB_EXIT_CONFIG : KB_EXIT_OK);
		if (c->message != NULL) {
			mark = strstr(c->message, "@PATH@");
			if (mark != NULL)
				snprintf(expected, sizeof(expected), "%.*s%s%s",
					 (int)(mark - c->message), c->message, path,
					 mark + strlen("@PATH@"));
			else
				snprintf(expected, sizeof(expected), "%s", c->message);
			failures += mismatch_str(c->name, "message", err.message, expected);
		}
		config_free(&cfg);
	}
	assert_int_equal(failures, 0);
}

/* Without a file, the message still says where a client_id would go. */
static void
test_config_check_mintable_without_file(void **state)
{
	struct config cfg;
	struct error err;

	(void)state;
	assert_int_equal(load_text("[profile work]\ntoken_url = https://h/t\n", &cfg, &err), 0);
	assert_int_equal(config_check_mintable(&cfg, config_find(&cfg, "work"), &err), -1);
	assert_int_equal(err.code, KB_EXIT_CONFIG);
	assert_string_equal(
		err.message,
		"profile work has no client_id — set client_id in [profile work] in the "
		"config file or KEYBEARER_CLIENT_ID");
	config_free(&cfg);
}

static void
test_config_auth_method_name(void **state)
{
	(void)state;
	assert_string_equal(config_auth_method_name(AUTH_CLIENT_SECRET_POST), "client_secret_post");
	assert_string_equal(config_auth_method_name(AUTH_CLIENT_SECRET_BASIC),
			    "client_secret_basic");
}

/* one client, many APIs */
/* What inherit = gives beyond describe_profile: the keyring item, the key-based and
 * federated identity keys, and which profile each inherited value came from. */
static void
add_inherited(const char *key, const char *from, void *ctx)
{
	char *out = ctx;
	size_t used = strlen(out);

	snprintf(out + used, 1024 - used, "%s%s=%s", used ? "," : "", key, from);
}

static void
describe_identity(const struct config *cfg, const struct profile *p, char *out, size_t size)
{
	char key[600], client_key[600], assertion[600], inherited[1024] = "";

	config_describe_private_key_source(p, key, sizeof(key));
	config_describe_client_key_source(p, client_key, sizeof(client_key));
	config_describe_token_source(&p->assertion, assertion, sizeof(assertion));
	config_each_inherited(cfg, p, add_inherited, inherited);
	snprintf(out, size,
		 ";issuer=%s;jwks_url=%s;private_key=%s;signing_alg=%s;key_id=%s;"
		 "assertion=%s;assertion_audience=%s;grant_type=%s;client_cert=%s;client_key=%s;"
		 "git_username=%s;keyring_timeout=%d;keyring=%s;inherited=[%s];",
		 OR_DASH(p->issuer), OR_DASH(p->jwks_url), key, OR_DASH(p->signing_alg),
		 OR_DASH(p->key_id), assertion, OR_DASH(p->assertion_audience),
		 config_grant_type_name(p->grant_type), OR_DASH(p->client_cert), client_key,
		 OR_DASH(p->git_username), p->keyring_timeout, config_keyring_profile(p),
		 inherited);
}

#define BASE_SECTION                                                                               \
	"[profile base]\n"                                                                         \
	"token_url = https://login.example.com/token\n"                                            \
	"client_id = app\n"                                                                        \
	"auth_method = client_secret_basic\n"                                                      \
	"secret = env:APP_SECRET\n"                                                                \
	"ca_file = /etc/ssl/corp.pem\n"                                                            \
	"scope = base-scope\n"                                                                     \
	"audience = base-audience\n"                                                               \
	"resource = urn:base\n"                                                                    \
	"urls = https://base.example/\n"                                                           \
	"refresh_margin = 60\n"
#define BASE_IDENTITY ";token_url=https://login.example.com/token;client_id=app;"
#define BASE_CLIENT   "auth_method=client_secret_basic;"
#define BASE_SOURCES  "secret=env:APP_SECRET;ca_file=/etc/ssl/corp.pem;"

struct inherit_case {
	const char *name;
	const char *text;
	const char *profile;
	const char *expected; /* describe_profile's fields */
	const char *identity; /* describe_identity's fields */
};

static const struct inherit_case inherit_cases[] = {
	{ "child before its base",
	  "[profile api]\ninherit = base\nscope = api://a/.default\nurls = https://a.example/\n"
	  "\n" BASE_SECTION,
	  "api",
	  BASE_IDENTITY "scope=api://a/.default;audience=-;resource=-;" BASE_CLIENT
			"urls=[https://a.example/];" BASE_SOURCES
			"timeout=30;refresh_margin=60;in_file=1;",
	  ";keyring=base;" },
	{ "child after its base",
	  BASE_SECTION "[profile api]\ninherit = base\nresource = https://a.example/\n", "api",
	  BASE_IDENTITY "scope=-;audience=-;resource=https://a.example/;" BASE_CLIENT
			"urls=[];" BASE_SOURCES "timeout=30;refresh_margin=60;in_file=1;",
	  ";keyring=base;" },
	{ "what came from the base", BASE_SECTION "[profile api]\ninherit = base\naudience = a\n",
	  "api", ";audience=a;",
	  ";inherited=[token_url=base,client_id=base,auth_method=base,secret=base,ca_file=base,"
	  "refresh_margin=base];" },
	/* own keys are never inherited: a child that sets none asks for none */
	{ "own keys not inherited", BASE_SECTION "[profile api]\ninherit = base\n", "api",
	  ";scope=-;audience=-;resource=-;auth_method=client_secret_basic;urls=[];", "" },
	{ "the base keeps its own", BASE_SECTION "[profile api]\ninherit = base\nscope = x\n",
	  "base",
	  ";scope=base-scope;audience=base-audience;resource=urn:base;"
	  "auth_method=client_secret_basic;urls=[https://base.example/];",
	  ";keyring=base;inherited=[];" },
	{ "operational key set in the child wins",
	  BASE_SECTION "[profile api]\ninherit = base\nrefresh_margin = 10\ntimeout = 5\n"
		       "git_username = bot\n",
	  "api", ";timeout=5;refresh_margin=10;", ";git_username=bot;" },
	{ "operational keys from the base",
	  "[profile base]\ntoken_url = https://t.example/token\ntimeout = 50\n"
	  "keyring_timeout = 9\ngit_username = x-token\nrefresh_margin = 0\n"
	  "[profile api]\ninherit = base\n",
	  "api", ";timeout=50;refresh_margin=0;",
	  ";git_username=x-token;keyring_timeout=9;keyring=base;inherited=[token_url=base,timeout="
	  "base,"
	  "refresh_margin=base,keyring_timeout=base,git_username=base];" },
	{ "chain of three, last first",
	  "[profile c]\ninherit = b\nscope = c\n[profile b]\ninherit = a\nscope = b\ntimeout = 7\n"
	  "[profile a]\ntoken_url = https://t.example/token\nclient_id = app\ntimeout = 9\n"
	  "refresh_margin = 20\n",
	  "c",
	  ";token_url=https://t.example/token;client_id=app;scope=c;audience=-;resource=-;"
	  "auth_method=client_secret_post;urls=[];secret=keyring;ca_file=-;timeout=7;"
	  "refresh_margin=20;",
	  ";keyring=a;inherited=[token_url=a,client_id=a,timeout=b,refresh_margin=a];" },
	{ "middle of a chain",
	  "[profile c]\ninherit = b\n[profile b]\ninherit = a\n"
	  "[profile a]\nclient_id = app\n",
	  "b", ";client_id=app;", ";keyring=a;inherited=[client_id=a];" },
	{ "two children of one base",
	  BASE_SECTION "[profile x]\ninherit = base\nscope = x\n[profile y]\ninherit = base\n"
		       "scope = y\n",
	  "y", BASE_IDENTITY "scope=y;", ";keyring=base;" },
	{ "section of a child split in two",
	  "[profile api]\nscope = s\n" BASE_SECTION "[profile api]\ninherit = base\n", "api",
	  BASE_IDENTITY "scope=s;", ";keyring=base;" },
	{ "issuer and jwks_url",
	  "[profile base]\nissuer = https://id.example/\njwks_url = https://id.example/keys\n"
	  "client_id = app\n[profile api]\ninherit = base\n",
	  "api", ";token_url=-;client_id=app;",
	  ";issuer=https://id.example/;jwks_url=https://id.example/keys;" },
	/* key-based client authentication */
	{ "private key",
	  "[profile base]\ntoken_url = https://t.example/token\nclient_id = app\n"
	  "auth_method = private_key_jwt\nprivate_key = file:/keys/app.pem\nsigning_alg = ES256\n"
	  "key_id = k1\nassertion_audience = https://t.example/\n[profile api]\ninherit = base\n",
	  "api", ";auth_method=private_key_jwt;",
	  ";private_key=file:/keys/app.pem;signing_alg=ES256;key_id=k1;assertion=(none);"
	  "assertion_audience=https://t.example/;" },
	/* federated assertions and token exchange */
	{ "federated assertion",
	  "[profile base]\ntoken_url = https://t.example/token\nclient_id = app\n"
	  "auth_method = client_assertion\nassertion = env:CI_TOKEN\n"
	  "[profile api]\ninherit = base\n",
	  "api", ";auth_method=client_assertion;", ";assertion=env:CI_TOKEN;" },
	/* mutual-TLS client authentication */
	{ "client certificate",
	  "[profile base]\ntoken_url = https://t.example/token\nclient_id = app\n"
	  "auth_method = tls_client_auth\nclient_cert = file:/c/app.pem\n"
	  "client_key = file:/c/app.key\n[profile api]\ninherit = base\n",
	  "api", ";auth_method=tls_client_auth;",
	  ";client_cert=/c/app.pem;client_key=file:/c/app.key;" },
	/* the built-in profile: Aspose's endpoint, the file's client id */
	{ "the built-in aspose as base",
	  "[profile words]\ninherit = aspose\nscope = x\n[profile aspose]\nclient_id = cid\n",
	  "words",
	  ";token_url=https://api.aspose.cloud/connect/token;client_id=cid;scope=x;audience=-;"
	  "resource=-;auth_method=client_secret_post;urls=[];",
	  ";keyring=aspose;inherited=[token_url=aspose,client_id=aspose];" },
};

static void
test_config_inherit_table(void **state)
{
	size_t i, k;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(inherit_cases) / sizeof(inherit_cases[0]); i++) {
		const struct inherit_case *c = &inherit_cases[i];
		/* a full load, and one that keeps only the profile: the same profile */
		for (k = 0; k < 2; k++) {
			struct config cfg;
			struct error err;
			const struct profile *p;
			char row[256], identity[4096];
			int rc = load_text_only(c->text, k ? c->profile : NULL, &cfg, &err);

			snprintf(row, sizeof(row), "%s%s", c->name, k ? " (keeping it alone)" : "");
			failures += mismatch_int(row, "rc", rc, 0);
			failures += mismatch_str(row, "message", err.message, "");
			p = config_find(&cfg, c->profile);
			if (rc == 0)
				failures += mismatch_profile(row, &cfg, c->profile, c->expected);
			if (p != NULL) {
				describe_identity(&cfg, p, identity, sizeof(identity));
				failures +=
					mismatch_contains(row, "identity", identity, c->identity);
			}
			config_free(&cfg);
		}
	}
	assert_int_equal(failures, 0);
}

struct inherit_error_case {
	const char *name;
	const char *text;
	const char *message; /* exact */
};

#define IDENTITY_ERROR(key)                                                                        \
	PATH ":3: " key " comes from profile base (inherit = base) — remove it here or drop "    \
	     "inherit"

static const struct inherit_error_case inherit_error_cases[] = {
	{ "inherits itself", "[profile work]\ninherit = work\n",
	  PATH ":2: profile work inherits itself — inherit names the profile whose client this one "
	       "uses" },
	{ "loop of two", "[profile work]\ninherit = other\n[profile other]\ninherit = work\n",
	  PATH ":2: inherit = other makes a loop (work → other → work) — a chain of inherit lines "
	       "must end at a profile that inherits none" },
	{ "loop of three",
	  "[profile a]\nclient_id = x\n[profile work]\ninherit = b\n[profile b]\ninherit = c\n"
	  "[profile c]\ninherit = work\n",
	  PATH ":4: inherit = b makes a loop (work → b → c → work) — a chain of inherit lines "
	       "must end at a profile that inherits none" },
	{ "chain into a loop",
	  "[profile work]\ninherit = b\n[profile b]\ninherit = c\n[profile c]\ninherit = b\n",
	  PATH ":4: inherit = c makes a loop (b → c → b) — a chain of inherit lines must end at a "
	       "profile that inherits none" },
	{ "unknown base", "[profile work]\nscope = x\ninherit = nobody\n",
	  PATH ":3: profile work inherits nobody, but there is no profile nobody — add [profile "
	       "nobody] with the client's token_url, client_id and secret, or fix the name" },
	{ "base named by case", "[profile work]\ninherit = Base\n[profile base]\nclient_id = x\n",
	  PATH ":2: profile work inherits Base, but there is no profile Base — add [profile Base] "
	       "with the client's token_url, client_id and secret, or fix the name" },
	{ "the env profile as base", "[profile work]\ninherit = env\n",
	  PATH ":2: profile work cannot inherit env: the env profile is what the KEYBEARER_* "
	       "variables describe, where they are set — inherit a [profile NAME] of this file "
	       "(its secret may be env:KEYBEARER_CLIENT_SECRET)" },
	{ "the built-in aspose inherits",
	  "[profile base]\nclient_id = x\n[profile aspose]\ninherit = base\n",
	  PATH ":4: the built-in profile aspose cannot inherit another — give this section a name "
	       "of its own" },
	{ "no profile name", "[profile work]\ninherit = a b\n",
	  PATH ":2: inherit \"a b\" is no profile name — name the [profile NAME] whose client this "
	       "profile uses" },
	{ "empty", "[profile work]\ninherit =\n",
	  PATH ":2: inherit is empty — give a value or remove the line" },
	{ "twice", "[profile work]\ninherit = base\ninherit = base\n[profile base]\n",
	  PATH ":3: inherit is given twice for profile work — keep one" },
	{ "twice over two sections",
	  "[profile work]\ninherit = base\n[profile base]\nclient_id = x\n[profile work]\n"
	  "inherit = base\n",
	  PATH ":6: inherit is given twice for profile work — keep one" },
	/* an identity key in a profile that inherits: before or after its inherit line */
	{ "token_url in the child",
	  "[profile work]\ninherit = base\ntoken_url = https://x/t\n" BASE_SECTION,
	  IDENTITY_ERROR("token_url") },
	{ "client_id before inherit",
	  "[profile work]\nscope = s\nclient_id = y\ninherit = base\n" BASE_SECTION,
	  IDENTITY_ERROR("client_id") },
	{ "issuer", "[profile work]\ninherit = base\nissuer = https://id.example/\n" BASE_SECTION,
	  IDENTITY_ERROR("issuer") },
	{ "jwks_url",
	  "[profile work]\ninherit = base\njwks_url = https://id.example/k\n" BASE_SECTION,
	  IDENTITY_ERROR("jwks_url") },
	{ "auth_method",
	  "[profile work]\ninherit = base\nauth_method = client_secret_post\n" BASE_SECTION,
	  IDENTITY_ERROR("auth_method") },
	{ "secret", "[profile work]\ninherit = base\nsecret = keyring\n" BASE_SECTION,
	  IDENTITY_ERROR("secret") },
	{ "ca_file", "[profile work]\ninherit = base\nca_file = /ca.pem\n" BASE_SECTION,
	  IDENTITY_ERROR("ca_file") },
	{ "private_key", "[profile work]\ninherit = base\nprivate_key = file:/k.pem\n" BASE_SECTION,
	  IDENTITY_ERROR("private_key") },
	{ "signing_alg", "[profile work]\ninherit = base\nsigning_alg = ES256\n" BASE_SECTION,
	  IDENTITY_ERROR("signing_alg") },
	{ "key_id", "[profile work]\ninherit = base\nkey_id = k\n" BASE_SECTION,
	  IDENTITY_ERROR("key_id") },
	{ "assertion_audience",
	  "[profile work]\ninherit = base\nassertion_audience = a\n" BASE_SECTION,
	  IDENTITY_ERROR("assertion_audience") },
	{ "assertion", "[profile work]\ninherit = base\nassertion = env:T\n" BASE_SECTION,
	  IDENTITY_ERROR("assertion") },
	{ "grant_type",
	  "[profile work]\ninherit = base\ngrant_type = client_credentials\n" BASE_SECTION,
	  IDENTITY_ERROR("grant_type") },
	{ "subject_token", "[profile work]\ninherit = base\nsubject_token = env:T\n" BASE_SECTION,
	  IDENTITY_ERROR("subject_token") },
	{ "subject_token_type",
	  "[profile work]\ninherit = base\nsubject_token_type = urn:x:y\n" BASE_SECTION,
	  IDENTITY_ERROR("subject_token_type") },
	{ "client_cert", "[profile work]\ninherit = base\nclient_cert = file:/c.pem\n" BASE_SECTION,
	  IDENTITY_ERROR("client_cert") },
	{ "client_key", "[profile work]\ninherit = base\nclient_key = keyring\n" BASE_SECTION,
	  IDENTITY_ERROR("client_key") },
	{ "empty client_id is set too",
	  "[profile work]\ninherit = base\nclient_id =\n" BASE_SECTION,
	  IDENTITY_ERROR("client_id") },
	{ "identity key of a child in a later section",
	  "[profile work]\ninherit = base\n" BASE_SECTION "[profile work]\nsecret = env:X\n",
	  PATH ":15: secret comes from profile base (inherit = base) — remove it here or drop "
	       "inherit" },
	/* the first error in the file is the one reported, whichever kind */
	{ "unknown key before a loop", "[profile work]\nbogus = 1\ninherit = work\n",
	  PATH ":2: unknown key \"bogus\" in [profile work] — see man 5 keybearer-config for the "
	       "keys" },
	{ "loop after an unknown key",
	  "[profile work]\ninherit = work\n[profile other]\nbogus = 1\n",
	  PATH ":4: unknown key \"bogus\" in [profile other] — see man 5 keybearer-config for the "
	       "keys" },
	{ "identity key before another's loop",
	  "[profile x]\ninherit = base\nclient_id = c\n[profile work]\ninherit = "
	  "work\n" BASE_SECTION,
	  PATH ":3: client_id comes from profile base (inherit = base) — remove it here or drop "
	       "inherit" },
	{ "loop before another's identity key",
	  "[profile work]\ninherit = work\n[profile x]\ninherit = base\nclient_id = "
	  "c\n" BASE_SECTION,
	  PATH ":2: profile work inherits itself — inherit names the profile whose client this one "
	       "uses" },
};

static void
test_config_inherit_error_table(void **state)
{
	static const char *const keeping[] = { NULL, "work", "other", "base" };
	size_t i, k;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(inherit_error_cases) / sizeof(inherit_error_cases[0]); i++) {
		const struct inherit_error_case *c = &inherit_error_cases[i];
		/* the same error whichever profile a load keeps */
		for (k = 0; k < sizeof(keeping) / sizeof(keeping[0]); k++) {
			struct config cfg;
			struct error err;
			char row[256];

			snprintf(row, sizeof(row), "%s (keeping %s)", c->name,
				 keeping[k] ? keeping[k] : "all");
			failures += mismatch_int(
				row, "rc", load_text_only(c->text, keeping[k], &cfg, &err), -1);
			failures += mismatch_int(row, "exit code", err.code, KB_EXIT_CONFIG);
			failures += mismatch_str(row, "message", err.message, c->message);
			config_free(&cfg);
		}
	}
	assert_int_equal(failures, 0);
}

/* A child that names no urls claims nothing: not its base's, nor the endpoint's origin
 * that a profile without urls claims, or the base and each child would claim one origin. */
static void
test_config_inherit_claims_only_its_urls(void **state)
{
	struct config cfg;
	struct error err;
	char path[512];

	(void)state;
	assert_int_equal(load_file("[profile api]\ninherit = base\n[profile both]\ninherit = base\n"
				   "urls = https://api.example/\n"
				   "[profile base]\ntoken_url = https://login.example.com/token\n",
				   &cfg, &err, path, sizeof(path)),
			 0);
	assert_int_equal(config_find(&cfg, "api")->url_count, 0);
	assert_int_equal(config_find(&cfg, "base")->url_count, 1);
	assert_string_equal(config_find(&cfg, "base")->urls[0], "https://login.example.com/");
	assert_ptr_equal(config_match_url(&cfg, "https://login.example.com/x"),
			 config_find(&cfg, "base"));
	assert_ptr_equal(config_match_url(&cfg, "https://api.example/v1"),
			 config_find(&cfg, "both"));
	assert_ptr_equal(config_base(&cfg, config_find(&cfg, "both")), config_find(&cfg, "base"));
	assert_null(config_base(&cfg, config_find(&cfg, "base")));
	config_free(&cfg);
	/* the filtered load of get: the child and its base, nothing else */
	setenv("KEYBEARER_PROFILE", "api", 1);
	assert_int_equal(config_load_selected(&cfg, NULL, &err), 0);
	assert_int_equal(cfg.count, 3); /* aspose, api, base */
	assert_non_null(config_find(&cfg, "base"));
	assert_null(config_find(&cfg, "both"));
	assert_string_equal(config_find(&cfg, "api")->token_url, "https://login.example.com/token");
	assert_int_equal(config_find(&cfg, "api")->url_count, 0);
	assert_string_equal(cfg.other_names, "both");
	config_free(&cfg);
}

/* login, logout and keygen are told which profile owns the keyring item. */
static void
test_config_refuse_inheriting(void **state)
{
	struct config cfg;
	struct error err;

	(void)state;
	assert_int_equal(load_text("[profile c]\ninherit = b\n[profile b]\ninherit = a\n"
				   "[profile a]\nclient_id = x\n",
				   &cfg, &err),
			 0);
	assert_int_equal(config_refuse_inheriting(config_find(&cfg, "a"), "login", "why", &err), 0);
	assert_int_equal(config_refuse_inheriting(config_find(&cfg, "c"), "login",
						  "one login serves every profile that inherits it",
						  &err),
			 -1);
	assert_int_equal(err.code, KB_EXIT_USAGE);
	assert_string_equal(
		err.message,
		"profile c takes its client from profile b (inherit = b): its keyring "
		"item is profile a's — run keybearer login --profile a (one login serves "
		"every profile that inherits it)");
	config_free(&cfg);
}

/* config_load_for_url keeps fewer profiles, never another answer: for each file and URL,
 * config_match_url, config_match_url_also and config_claim_on_origin name the same profile
 * (and entry) as after a full load, and the dropped profiles' env:NAME stay secret. */
static const struct {
	const char *name, *file, *url;
} for_url_cases[] = {
	{ "longest prefix wins",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\nsecret = env:SA\n"
	  "urls = https://api.example/\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\nsecret = env:SB\n"
	  "urls = https://api.example/v2/\n"
	  "[profile c]\ntoken_url = https://id.example/t\nclient_id = c\nsecret = env:SC\n"
	  "urls = https://other.example/\n",
	  "https://api.example/v2/x" },
	{ "a tie: the first in the file, and the other named",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\nurls = "
	  "https://api.example/\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\nurls = "
	  "https://api.example/\n",
	  "https://api.example/x" },
	{ "no urls: the token endpoint's origin",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\n"
	  "[profile b]\ntoken_url = https://api.example/t\nclient_id = b\n",
	  "https://api.example/x" },
	{ "the claim in a later section of the name",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\nurls = "
	  "https://b.example/\n"
	  "[profile a]\nurls = https://api.example/\nscope = s\n",
	  "https://api.example/x" },
	{ "a kept profile comes back in a later section",
	  "[profile a]\nurls = https://api.example/\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\n"
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\nscope = s\n",
	  "https://api.example/x" },
	{ "the claimer inherits a base defined after it",
	  "[profile child]\ninherit = base\nurls = https://api.example/\nscope = s\n"
	  "[profile other]\ntoken_url = https://id.example/t\nclient_id = o\n"
	  "[profile base]\ntoken_url = https://id.example/t\nclient_id = b\nsecret = env:SB\n",
	  "https://api.example/x" },
	{ "a chain of two bases, one before, one after",
	  "[profile root]\ntoken_url = https://id.example/t\nclient_id = r\nsecret = env:SR\n"
	  "[profile child]\ninherit = middle\nurls = https://api.example/\n"
	  "[profile middle]\ninherit = root\nurls = https://mid.example/\n",
	  "https://api.example/x" },
	{ "aspose's section changes the built-in",
	  "[profile aspose]\nurls = https://api.aspose.cloud/v4.0/\nclient_id = x\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\n",
	  "https://api.aspose.cloud/v4.0/words" },
	{ "nothing claims the URL's path, something its origin",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\nurls = "
	  "https://api.example/v1/\n",
	  "https://api.example/v2/x" },
	{ "no claim on the host at all",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\nurls = "
	  "https://api.example/\n",
	  "https://elsewhere.example/" },
	{ "default ports spelled and not",
	  "[profile a]\ntoken_url = https://id.example/t\nclient_id = a\n"
	  "urls = https://api.example:443/\n",
	  "https://api.example/x" },
	{ "aspose's section without urls changes the built-in",
	  "[profile aspose]\nclient_id = mine\nscope = s\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\n",
	  "https://api.aspose.cloud/v4.0/words" },
	{ "an urls line of no entry: still the token endpoint's origin",
	  "[profile a]\ntoken_url = https://api.example/t\nclient_id = a\nurls = ,\n"
	  "[profile b]\ntoken_url = https://id.example/t\nclient_id = b\n",
	  "https://api.example/x" },
};

static const char *
name_or_dash(const struct profile *p)
{
	return p != NULL ? p->name : "-";
}

static void
test_config_load_for_url_answers_as_full_load(void **state)
{
	static const char *const variables[] = { "SA", "SB", "SC", "SR", "NOT_SECRET" };
	char path[4096];
	size_t i, v;

	(void)state;
	for (i = 0; i < sizeof(for_url_cases) / sizeof(for_url_cases[0]); i++) {
		struct config full, part;
		struct error err;
		const struct profile *a, *b;
		const char *entry_a = NULL, *entry_b = NULL;

		print_message("%s\n", for_url_cases[i].name);
		assert_int_equal(load_file(for_url_cases[i].file, &full, &err, path, sizeof(path)),
				 0);
		memset(&err, 0, sizeof(err));
		assert_int_equal(config_load_for_url(&part, for_url_cases[i].url, &err), 0);
		assert_true(part.partial || part.count == full.count); /* or read whole again */
		assert_true(part.count <= full.count);
		a = config_match_url(&full, for_url_cases[i].url);
		b = config_match_url(&part, for_url_cases[i].url);
		assert_string_equal(name_or_dash(b), name_or_dash(a));
		if (a != NULL) {
			char da[4096], db[4096];
			describe_profile(a, da, sizeof(da));
			describe_profile(b, db, sizeof(db));
			assert_string_equal(db, da);
			assert_string_equal(
				name_or_dash(config_match_url_also(&part, for_url_cases[i].url, b)),
				name_or_dash(
					config_match_url_also(&full, for_url_cases[i].url, a)));
		}
		a = config_claim_on_origin(&full, for_url_cases[i].url, &entry_a);
		b = config_claim_on_origin(&part, for_url_cases[i].url, &entry_b);
		assert_string_equal(name_or_dash(b), name_or_dash(a));
		if (a != NULL)
			assert_string_equal(entry_b, entry_a);
		for (v = 0; v < sizeof(variables) / sizeof(variables[0]); v++)
			assert_int_equal(config_is_secret_variable(&part, variables[v],
								   strlen(variables[v])),
					 config_is_secret_variable(&full, variables[v],
								   strlen(variables[v])));
		/* why a URL got nothing is told from the whole file */
		{
			char why_full[1024], why_part[1024];
			config_explain_unclaimed(&full, NULL, "https://nowhere.example/", NULL,
						 why_full, sizeof(why_full));
			config_explain_unclaimed(&part, NULL, "https://nowhere.example/", NULL,
						 why_part, sizeof(why_part));
			assert_string_equal(why_part, why_full);
		}
		config_free(&full);
		config_free(&part);
	}
}

/* A file is read in 64 KiB pieces: lines across the seams, the last profile of a file of
 * thousands, and a NUL byte far into it (refused) all come out as from one buffer. */
static void
test_config_reads_file_in_pieces(void **state)
{
	size_t count = 4000, i, used = 0, cap = count * 160 + 1024;
	char *text = malloc(cap), path[4096], name[64];
	struct config cfg, whole;
	struct error err;
	const struct profile *p;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < count; i++)
		used += (size_t)snprintf(text + used, cap - used,
					 "[profile p%zu]\ntoken_url = https://id.example/t?%zu\n"
					 "client_id = client-%zu\nsecret = env:S%zu\n"
					 "urls = https://p%zu.example/\n\n",
					 i, i, i, i, i);
	assert_true(used > 4 * 64 * 1024);
	write_file("config", text, used, 0600, path, sizeof(path));
	setenv("KEYBEARER_CONFIG", path, 1);
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_load(&whole, &err), 0);
	assert_int_equal(whole.count, count + 1); /* and aspose */
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_load_selected(&cfg, "p3999", &err), 0);
	p = config_find(&cfg, "p3999");
	assert_non_null(p);
	assert_string_equal(p->client_id, "client-3999");
	assert_string_equal(p->token_url, "https://id.example/t?3999");
	/* every dropped profile's env:NAME is still a secret variable */
	assert_true(config_is_secret_variable(&cfg, "S17", 3));
	assert_false(config_is_secret_variable(&cfg, "S4000", 5));
	config_free(&cfg);
	for (i = 0; i < count; i += 997) {
		snprintf(name, sizeof(name), "https://p%zu.example/x", i);
		memset(&err, 0, sizeof(err));
		assert_int_equal(config_load_for_url(&cfg, name, &err), 0);
		assert_int_equal(cfg.count, 2); /* aspose and the claimer */
		p = config_match_url(&cfg, name);
		assert_non_null(p);
		snprintf(name, sizeof(name), "p%zu", i);
		assert_string_equal(p->name, name);
		config_free(&cfg);
	}
	config_free(&whole);
	/* a NUL byte in the third piece */
	text[3 * 64 * 1024 + 10] = '\0';
	write_file("config", text, used, 0600, path, sizeof(path));
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_load(&cfg, &err), -1);
	assert_int_equal(err.code, KB_EXIT_CONFIG);
	assert_non_null(strstr(err.message, "contains a NUL byte — save it as text"));
	free(text);
}

/* The index a load writes once a file has settled, and what a later load picks with it:
 * for every case file, config_load_selected of each profile and config_load_for_url give
 * what a full load gives, from the index (a load that read the file names the profiles it
 * dropped in other_names; one from the index does not) — and a file changed since is read
 * whole. */
#define PADDING 72000 /* whole lines of 100 bytes */

/* PADDING bytes of comment lines, then room for a 4 KiB case: a file of more than one read,
 * which gets an index. */
static char *
padded_config(void)
{
	char *padded = malloc(PADDING + 4096);
	size_t k;

	assert_non_null(padded);
	for (k = 0; k < PADDING; k += 100)
		memcpy(padded + k,
		       "; a comment of a hundred bytes, to make the file one an index is kept "
		       "for .........................\n",
		       100);
	return padded;
}

static void
test_config_index_picks_as_full_load(void **state)
{
	size_t count = sizeof(for_url_cases) / sizeof(for_url_cases[0]), i, k;
	char path[4096], run[3000], name[64], index_path[4096], *padded;
	struct config full, part;
	struct error err;
	struct stat st;

	(void)state;
	snprintf(run, sizeof(run), "%s/cache", scratch_dir);
	setenv("XDG_CACHE_HOME", run, 1); /* made 0700 by the first index */
	/* a file of one read is not indexed: each case behind 72 kB of comments */
	padded = padded_config();
	for (i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "case-%zu", i);
		assert_true(strlen(for_url_cases[i].file) < 4096);
		strcpy(padded + PADDING, for_url_cases[i].file);
		write_file(name, padded, strlen(padded), 0600, path, sizeof(path));
	}
	sleep(3); /* an index is written for a file that has not changed for 2 s */
	for (i = 0; i < count; i++) {
		print_message("%s\n", for_url_cases[i].name);
		snprintf(path, sizeof(path), "%s/case-%zu", scratch_dir, i);
		setenv("KEYBEARER_CONFIG", path, 1);
		memset(&err, 0, sizeof(err));
		assert_int_equal(config_load(&full, &err), 0); /* writes the index */
		memset(&err, 0, sizeof(err));
		assert_int_equal(config_load_for_url(&part, for_url_cases[i].url, &err), 0);
		assert_true(part.partial);
		{
			/* the profile that answers, as the full load has it, not just its name */
			const struct profile *a = config_match_url(&full, for_url_cases[i].url);
			const struct profile *b = config_match_url(&part, for_url_cases[i].url);
			char da[4096], db[4096];
			assert_string_equal(name_or_dash(b), name_or_dash(a));
			if (a != NULL) {
				describe_profile(a, da, sizeof(da));
				describe_profile(b, db, sizeof(db));
				assert_string_equal(db, da);
			}
		}
		config_free(&part);
		for (k = 0; k < full.count; k++) {
			const struct profile *want = &full.profiles[k], *got;
			char dw[4096], dg[4096];
			if (!want->in_file)
				continue;
			memset(&err, 0, sizeof(err));
			assert_int_equal(config_load_selected(&part, want->name, &err), 0);
			got = config_find(&part, want->name);
			assert_non_null(got);
			assert_null(part.other_names); /* picked by the index */
			describe_profile(want, dw, sizeof(dw));
			describe_profile(got, dg, sizeof(dg));
			assert_string_equal(dg, dw);
			assert_true(config_is_secret_variable(&part, "SB", 2) ==
				    config_is_secret_variable(&full, "SB", 2));
			config_free(&part);
		}
		config_free(&full);
	}
	/* one index per config path, private */
	{
		DIR *dir = opendir(run);
		struct dirent *e;
		size_t indexes = 0;
		assert_non_null(dir);
		snprintf(run, sizeof(run), "%s/cache/keybearer/config-index", scratch_dir);
		closedir(dir);
		assert_int_equal(stat(run, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
		dir = opendir(run);
		assert_non_null(dir);
		while ((e = readdir(dir)) != NULL) {
			if (strncmp(e->d_name, "config-", 7) != 0)
				continue;
			snprintf(index_path, sizeof(index_path), "%s/%s", run, e->d_name);
			assert_int_equal(stat(index_path, &st), 0);
			assert_int_equal(st.st_mode & 0777, 0600);
			assert_non_null(strstr(e->d_name, ".index"));
			assert_null(strstr(e->d_name, ".tmp"));
			indexes++;
		}
		closedir(dir);
		assert_int_equal(indexes, count);
	}
	/* a byte changed in place, same size: the index is not the file's any more */
	snprintf(path, sizeof(path), "%s/case-0", scratch_dir);
	setenv("KEYBEARER_CONFIG", path, 1);
	{
		int fd = open(path, O_WRONLY);
		const char *file = for_url_cases[0].file;
		const char *at = strstr(file, "client_id = a");
		assert_true(fd >= 0 && at != NULL);
		assert_int_equal(pwrite(fd, "z", 1, PADDING + (off_t)(at - file) + 12), 1);
		close(fd);
	}
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_load_selected(&part, "a", &err), 0);
	assert_string_equal(config_find(&part, "a")->client_id, "z");
	assert_non_null(part.other_names); /* read whole */
	config_free(&part);
	/* and a file of one read has none */
	write_file("small", for_url_cases[0].file, strlen(for_url_cases[0].file), 0600, path,
		   sizeof(path));
	setenv("KEYBEARER_CONFIG", path, 1);
	sleep(3);
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_load(&full, &err), 0);
	config_free(&full);
	assert_int_equal(config_load_selected(&part, "a", &err), 0);
	assert_non_null(part.other_names); /* read whole */
	config_free(&part);
	free(padded);
}

/* Files in dir whose names start with config- (the indexes). */
static size_t
count_indexes(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		n += strncmp(e->d_name, "config-", 7) == 0;
	closedir(d);
	return n;
}

static void
sleep_until(const struct timespec *t)
{
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, t, NULL) != 0)
		;
}

/* The settle rule is 2 s to the nanosecond, not two changes of the seconds digit: a file
 * written at X.85 s is not settled at X+2.15 s (1.3 s later), and is at X+2.95. */
static void
test_config_index_waits_two_whole_seconds(void **state)
{
	char path[4096], cache[3000], index_dir[4096], *text;
	struct timespec now, at;
	struct config cfg;
	struct error err;

	(void)state;
	snprintf(cache, sizeof(cache), "%s/settle-cache", scratch_dir);
	snprintf(index_dir, sizeof(index_dir), "%s/keybearer/config-index", cache);
	setenv("XDG_CACHE_HOME", cache, 1);
	text = padded_config();
	strcpy(text + PADDING, "[profile a]\nclient_id = a\n");
	clock_gettime(CLOCK_REALTIME, &now);
	at.tv_sec = now.tv_sec + (now.tv_nsec > 850000000L);
	at.tv_nsec = 850000000L;
	sleep_until(&at);
	write_file("settle", text, strlen(text), 0600, path, sizeof(path));
	setenv("KEYBEARER_CONFIG", path, 1);
	at.tv_sec += 2;
	at.tv_nsec = 150000000L;
	sleep_until(&at);
	memset(&err, 0, sizeof(err));
	assert_int_equal(config_load(&cfg, &err), 0);
	config_free(&cfg);
	assert_int_equal(count_indexes(index_dir), 0);
	at.tv_nsec = 950000000L;
	sleep_until(&at);
	assert_int_equal(config_load(&cfg, &err), 0);
	config_free(&cfg);
	assert_int_equal(count_indexes(index_dir), 1);
	/* a file stamped in the future (a clock set back since) is not settled either */
	{
		struct timespec times[2] = { { 0, UTIME_OMIT }, { 0, 0 } };
		clock_gettime(CLOCK_REALTIME, &times[1]);
		times[1].tv_sec += 60;
		assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
		at.tv_sec += 3;
		sleep_until(&at); /* its ctime (now) has settled; its mtime has not */
		assert_int_equal(config_load(&cfg, &err), 0);
		config_free(&cfg);
		assert_int_equal(config_load_selected(&cfg, "a", &err), 0);
		assert_non_null(cfg.other_names); /* read whole: the index is of the old times */
		config_free(&cfg);
	}
	free(text);
}

/* inih skips a BOM on the first line and every isspace() character before a header: so do
 * the checks of a header, which no such character gets past. */
static void
test_config_header_after_bom_or_blanks_is_checked(void **state)
{
	static const struct {
		const char *text, *message; /* NULL: loads */
	} cases[] = {
		{ "\xEF\xBB\xBF[profile env]\nclient_id = a\n",
		  PATH ":1: the profile name env is reserved for the profile the KEYBEARER_* "
		       "variables describe — rename the section" },
		{ "\xEF\xBB\xBF[x]\nclient_id = a\n",
		  PATH ":1: unknown section [x] — sections are written [profile NAME]" },
		{ "\f[profile x y]\nclient_id = b\n",
		  PATH ":1: bad profile name \"x y\" — use up to 40 letters, digits, '.', '_' or "
		       "'-'" },
		{ "\v[q]\nclient_id = b\n",
		  PATH ":1: unknown section [q] — sections are written [profile NAME]" },
		{ "\xEF\xBB\xBF[profile a]\nclient_id = a\n", NULL },
		{ "[profile a]\nurls = https://a.example/\n\f https://b.example/\nclient_id = a\n",
		  NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct error err;
		int rc = load_text(cases[i].text, &cfg, &err);

		print_message("case %zu\n", i);
		if (cases[i].message == NULL) {
			assert_int_equal(rc, 0);
			assert_non_null(config_find(&cfg, "a"));
		} else {
			assert_int_equal(rc, -1);
			assert_string_equal(err.message, cases[i].message);
		}
		config_free(&cfg);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		ENV_TEST(test_config_parse_table),
		ENV_TEST(test_config_builtin_aspose),
		ENV_TEST(test_config_file_overrides_aspose),
		ENV_TEST(test_config_error_table),
		ENV_TEST(test_config_load_keeps_one_profile),
		ENV_TEST(test_config_load_for_url_answers_as_full_load),
		ENV_TEST(test_config_reads_file_in_pieces),
		ENV_TEST(test_config_header_after_bom_or_blanks_is_checked),
		ENV_TEST(test_config_index_picks_as_full_load),
		ENV_TEST(test_config_index_waits_two_whole_seconds),
		ENV_TEST(test_config_line_length_limit),
		ENV_TEST(test_config_profile_name_length_limit),
		ENV_TEST(test_config_reports_first_error_first),
		ENV_TEST(test_config_home_expansion_needs_absolute_home),
		ENV_TEST(test_config_select_table),
		ENV_TEST(test_config_environment_defines_env_profile),
		ENV_TEST(test_config_environment_leaves_file_profiles_alone),
		ENV_TEST(test_config_environment_errors),
		ENV_TEST(test_config_default_urls),
		ENV_TEST(test_config_match_url_table),
		ENV_TEST(test_config_explain_unclaimed_table),
		ENV_TEST(test_config_explain_unclaimed_bounded),
		ENV_TEST(test_config_load_missing_explicit_file),
		ENV_TEST(test_config_load_file_modes),
		ENV_TEST(test_config_load_refuses_nul_byte),
		ENV_TEST(test_config_load_error_names_the_file),
		ENV_TEST(test_config_load_default_locations),
		ENV_TEST(test_config_load_follows_symlink),
		ENV_TEST(test_config_check_mintable_table),
		ENV_TEST(test_config_check_mintable_without_file),
		ENV_TEST(test_config_auth_method_name),
		ENV_TEST(test_config_inherit_table),
		ENV_TEST(test_config_inherit_error_table),
		ENV_TEST(test_config_inherit_claims_only_its_urls),
		ENV_TEST(test_config_refuse_inheriting),
	};

	return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
