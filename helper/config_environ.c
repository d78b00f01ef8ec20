/* The variables that hold secrets, kept from children and scrubbed before a secret command. */
#include "config.h"
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "url.h"

static int
same_name(const char *variable, const char *name, size_t len)
{
	return strlen(variable) == len && strncmp(variable, name, len) == 0;
}

/* Whether the profile reads the variable itself: its own commands may see it. */
static int
profile_reads_variable(const struct profile *p, const char *name)
{
	return (p->secret_kind == SECRET_ENV && strcmp(p->secret_arg, name) == 0) ||
	       (p->assertion.kind == TOKEN_SOURCE_ENV && strcmp(p->assertion.arg, name) == 0) ||
	       (p->subject_token.kind == TOKEN_SOURCE_ENV &&
		strcmp(p->subject_token.arg, name) == 0) ||
	       (strcmp(name, GITHUB_REQUEST_TOKEN_VARIABLE) == 0 &&
		(p->assertion.kind == TOKEN_SOURCE_GITHUB_ACTIONS ||
		 p->subject_token.kind == TOKEN_SOURCE_GITHUB_ACTIONS));
}

static void
unset_unless_read(const struct profile *keep, const char *name)
{
	if (keep == NULL || !profile_reads_variable(keep, name))
		unsetenv(name);
}

/* Whether name (len bytes, not terminated) is a variable of a profile the load dropped. */
static int
dropped_variable(const struct config *cfg, const char *name, size_t len)
{
	char copy[256];

	if (len >= sizeof(copy)) {
		size_t i;
		for (i = 0; i < cfg->dropped_variables.count; i++) {
			if (same_name(name_set_at(&cfg->dropped_variables, i), name, len))
				return 1;
		}
		return 0;
	}
	memcpy(copy, name, len);
	copy[len] = '\0';
	return name_set_find(&cfg->dropped_variables, copy) != NAME_INDEX_NONE;
}

int
config_is_secret_variable(const struct config *cfg, const char *name, size_t len)
{
	size_t i;

	if (len == strlen(ENV_SECRET_VARIABLE) && strncmp(name, ENV_SECRET_VARIABLE, len) == 0)
		return 1;
	/* federated assertions and token exchange: the runner's key to its ID tokens */
	if (len == strlen(GITHUB_REQUEST_TOKEN_VARIABLE) &&
	    strncmp(name, GITHUB_REQUEST_TOKEN_VARIABLE, len) == 0)
		return 1;
	if (cfg->dropped_variables.count > 0 && dropped_variable(cfg, name, len))
		return 1;
	for (i = 0; i < cfg->count; i++) {
		const struct profile *p = &cfg->profiles[i];
		if ((p->secret_kind == SECRET_ENV && same_name(p->secret_arg, name, len)) ||
		    (p->assertion.kind == TOKEN_SOURCE_ENV &&
		     same_name(p->assertion.arg, name, len)) ||
		    (p->subject_token.kind == TOKEN_SOURCE_ENV &&
		     same_name(p->subject_token.arg, name, len)))
			return 1;
	}
	return 0;
}

/* Variables that make a TLS library write the session keys to a file (curl's OpenSSL,
 * wolfSSL and rustls backends, NSS: SSLKEYLOGFILE; GnuTLS: GNUTLS_KEYLOGFILE too): with
 * them and a capture, the token is read as if sent in the clear. keybearer-fetch clears
 * SSLKEYLOGFILE for itself before libcurl starts. */
static int
is_key_log_variable(const char *name, size_t len)
{
	static const char *const names[] = { "SSLKEYLOGFILE", "GNUTLS_KEYLOGFILE" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
			return 1;
	}
	return 0;
}

char **
config_environment_without_secrets(const struct config *cfg)
{
	extern char **environ;
	size_t i, n = 0, kept = 0, len;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = malloc((n + 1) * sizeof(*env));
	if (env == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		len = strcspn(environ[i], "=");
		if (!config_is_secret_variable(cfg, environ[i], len) &&
		    !is_key_log_variable(environ[i], len))
			env[kept++] = environ[i];
	}
	env[kept] = NULL;
	return env;
}

void
config_scrub_secret_variables(const struct config *cfg, const struct profile *keep)
{
	size_t i;

	unset_unless_read(keep, ENV_SECRET_VARIABLE);
	unset_unless_read(keep, GITHUB_REQUEST_TOKEN_VARIABLE);
	for (i = 0; i < cfg->dropped_variables.count; i++)
		unset_unless_read(keep, name_set_at(&cfg->dropped_variables, i));
	for (i = 0; i < cfg->count; i++) {
		const struct profile *p = &cfg->profiles[i];
		if (p->secret_kind == SECRET_ENV)
			unset_unless_read(keep, p->secret_arg);
		if (p->assertion.kind == TOKEN_SOURCE_ENV)
			unset_unless_read(keep, p->assertion.arg);
		if (p->subject_token.kind == TOKEN_SOURCE_ENV)
			unset_unless_read(keep, p->subject_token.arg);
	}
}
