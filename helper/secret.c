#include "secret.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safefile.h"

typedef int (*secret_resolver)(const struct profile *p, struct secret *s, struct error *err);

static int
secret_copy(struct secret *s, const char *value, size_t len, const struct profile *p,
	    const char *origin, struct error *err)
{
	if (len == 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "client secret for profile %s from %s is empty — put the secret "
				 "there",
				 p->name, origin);
	if (len > SECRET_MAX || memchr(value, '\0', len) != NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "client secret for profile %s from %s is not a text of at most "
				 "%d bytes — check what %s holds",
				 p->name, origin, SECRET_MAX, origin);
	s->size = len + 1;
	s->value = malloc(s->size);
	if (s->value == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	memcpy(s->value, value, len);
	s->value[len] = '\0';
	return 0;
}

static int
from_variable(const struct profile *p, const char *name, struct secret *s, struct error *err)
{
	const char *value = getenv(name);
	char origin[128];

	if (value == NULL || *value == '\0')
		return error_set(err, KB_EXIT_CONFIG,
				 "no client secret for profile %s: environment variable %s is not "
				 "set — export it (in CI, from a masked secret variable)",
				 p->name, name);
	snprintf(origin, sizeof(origin), "environment variable %s", name);
	return secret_copy(s, value, strlen(value), p, origin, err);
}

static int
resolve_none(const struct profile *p, struct secret *s, struct error *err)
{
	(void)s;
	return error_set(err, KB_EXIT_CONFIG,
			 "no client secret for profile %s — add secret = env:NAME or secret = "
			 "file:PATH to [profile %s] (in CI, describe the profile with "
			 "KEYBEARER_CLIENT_ID and KEYBEARER_CLIENT_SECRET instead)",
			 p->name, p->name);
}

static int
resolve_env(const struct profile *p, struct secret *s, struct error *err)
{
	return from_variable(p, p->secret_arg, s, err);
}

static int
resolve_file(const struct profile *p, struct secret *s, struct error *err)
{
	/* Mounted secrets are often symlinks (Kubernetes: mount with defaultMode 0400); the
	 * mode and owner of the target are what matter. */
	static const struct safefile_rules rules = {
		.what = "secret file",
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 077,
		.max_size = SECRET_MAX + 2,
		.code = KB_EXIT_CONFIG,
	};
	char *text = NULL, origin[4200];
	size_t len = 0, size;
	int rc;

	rc = safefile_read(AT_FDCWD, p->secret_arg, &rules, &text, &len, err);
	if (rc == 1)
		return error_set(err, KB_EXIT_CONFIG,
				 "secret file %s of profile %s does not exist — create it (mode "
				 "600) or fix secret = file:",
				 p->secret_arg, p->name);
	if (rc != 0)
		return -1;
	size = len + 1;
	/* Editors and `echo` end files with a newline that is not part of the secret. */
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	snprintf(origin, sizeof(origin), "file %s", p->secret_arg);
	rc = secret_copy(s, text, len, p, origin, err);
	safefile_free_secret(text, size);
	return rc;
}

static const struct {
	enum secret_kind kind;
	secret_resolver resolve;
} resolvers[] = {
	{ SECRET_NONE, resolve_none },
	{ SECRET_ENV, resolve_env },
	{ SECRET_FILE, resolve_file },
};

int
secret_resolve(const struct profile *p, struct secret *s, struct error *err)
{
	size_t i;

	s->value = NULL;
	s->size = 0;
	for (i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++) {
		if (resolvers[i].kind == p->secret_kind)
			return resolvers[i].resolve(p, s, err);
	}
	return error_set(err, KB_EXIT_INTERNAL, "unknown secret source — report this bug");
}

void
secret_free(struct secret *s)
{
	safefile_free_secret(s->value, s->size);
	s->value = NULL;
	s->size = 0;
}
