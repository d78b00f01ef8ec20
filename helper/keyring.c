/* keyring.h over the keyring module (keyring_module.h), loaded the first time a keyring item
 * is needed: a profile whose credentials are elsewhere never maps libsecret or GLib, which
 * used to be a third of every keybearer-fetch start. The module is looked for only beside
 * the running keybearer-fetch, and checked like a file we trust before it is loaded. */
#include "keyring.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyring_module.h"
#include "monotonic.h"
#include "notice.h"
#include "safefile.h"

/* far above the module's size, even sanitized; a bound on what is mapped, nothing more */
#define MODULE_MAX_SIZE (64L * 1024 * 1024)

static const struct keyring_module *loaded;

/* What a module that cannot be used tells: why, and what to do instead. */
static int
refuse(const struct profile *p, enum credential_item item, const char *path, const char *why,
       struct error *err)
{
	struct credential_source src;

	credential_source_of(p, item, &src);
	return error_set(err, KB_EXIT_INTERNAL,
			 "cannot load the keyring module %s: %s — reinstall keybearer (the module "
			 "belongs beside keybearer-fetch), or set %s = file:PATH or command:CMD in "
			 "[profile %s] to keep the %s out of the keyring",
			 path, why, src.key, p->name, src.what);
}

/* DIR/keybearer-keyring.so, DIR the directory of the running executable as the kernel
 * resolved it: no search path, no environment variable, no relative name. */
static int
module_path(char *out, size_t size)
{
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;
	int n;

	if (len <= 0 || (size_t)len >= sizeof(exe) - 1 || exe[0] != '/')
		return -1;
	exe[len] = '\0';
	/* " (deleted)" after an upgrade replaced it is part of the last component only */
	slash = strrchr(exe, '/');
	*slash = '\0';
	n = snprintf(out, size, "%s/%s", exe, KEYRING_MODULE_FILE);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The module, loaded once: a regular file of root's or ours that only its owner may write,
 * in directories only root or we may change (safefile.h's check_parents), loaded from the
 * descriptor that was checked, so that what was checked is what is loaded. */
static const struct keyring_module *
module_load(const struct profile *p, enum credential_item item, struct error *err)
{
	static const struct safefile_rules rules = {
		.what = "keyring module",
		.refuse_symlink = 1,
		.allow_root_owner = 1,
		.forbidden = 022,
		.max_size = MODULE_MAX_SIZE,
		.code = KB_EXIT_INTERNAL,
		.check_parents = 1,
	};
	const struct keyring_module *m;
	long long started = monotonic_us();
	char path[PATH_MAX + 32], by_fd[64], why[600];
	struct stat st;
	void *handle;
	int fd;

	if (loaded != NULL)
		return loaded;
	if (module_path(path, sizeof(path)) != 0) {
		refuse(p, item, KEYRING_MODULE_FILE,
		       "the directory of keybearer-fetch is unknown (is /proc mounted?)", err);
		return NULL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0) {
		refuse(p, item, path, errno == ELOOP ? "it is a symbolic link" : strerror(errno),
		       err);
		return NULL;
	}
	if (safefile_check(fd, path, &rules, &st, err) != 0 ||
	    safefile_check_parents(path, &rules, err) != 0) {
		close(fd);
		return NULL;
	}
	snprintf(by_fd, sizeof(by_fd), "/proc/self/fd/%d", fd);
	handle = dlopen(by_fd, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (handle == NULL) {
		const char *said = dlerror(), *prefix = strstr(said, by_fd);
		/* "/proc/self/fd/N: invalid ELF header": the path is already in the message */
		if (prefix == said && strncmp(said + strlen(by_fd), ": ", 2) == 0)
			said += strlen(by_fd) + 2;
		snprintf(why, sizeof(why), "%s", said);
		refuse(p, item, path, why, err);
		return NULL;
	}
	m = dlsym(handle, KEYRING_MODULE_SYMBOL);
	if (m == NULL || m->abi != KEYRING_MODULE_ABI || m->version == NULL ||
	    strcmp(m->version, KEYBEARER_VERSION) != 0) {
		/* only a table of this layout is read further than its abi */
		const char *version = m != NULL && m->abi == KEYRING_MODULE_ABI ? m->version : NULL;
		snprintf(why, sizeof(why), "it is not the module of keybearer-fetch %s%s%s",
			 KEYBEARER_VERSION, version != NULL ? " but of " : "",
			 version != NULL ? version : "");
		refuse(p, item, path, why, err);
		/* GLib cannot be unloaded: the handle stays, unused */
		return NULL;
	}
	error_debug("timing: keyring module %s loaded in %.3f ms", path,
		    (monotonic_us() - started) / 1000.0);
	loaded = m;
	return loaded;
}

static void
say_waiting(const char *what)
{
	notice_say(NOTICE_KEYRING, "%s", what);
}

static void
subject_of(const struct profile *p, enum credential_item item, struct keyring_subject *s)
{
	memset(s, 0, sizeof(*s));
	s->name = p->name;
	/* one client, many APIs: a profile that inherits uses its base's item */
	s->item_profile = config_keyring_profile(p);
	s->token_url = config_endpoint_identity(p);
	s->client_id = p->client_id;
	s->item = item;
	s->timeout_seconds = p->keyring_timeout;
	s->prompt_timeout_seconds = CONFIG_KEYRING_PROMPT_SECONDS;
	s->notice = say_waiting;
}

struct taking {
	struct secret *out;
	const struct profile *p;
	const struct credential_source *src;
};

static int
take(void *ctx, const char *bytes, size_t len, struct error *err)
{
	const struct taking *t = ctx;

	return credential_take(t->out, bytes, len, t->p, t->src, "the keyring", err);
}

int
keyring_lookup(const struct profile *p, struct secret *out, struct error *err)
{
	struct credential_source src;

	credential_source_of(p, CREDENTIAL_SECRET, &src);
	return keyring_lookup_item(p, &src, out, err);
}

int
keyring_lookup_item(const struct profile *p, const struct credential_source *src,
		    struct secret *out, struct error *err)
{
	const struct keyring_module *m = module_load(p, src->item, err);
	struct taking t = { out, p, src };
	struct keyring_subject s;

	if (m == NULL)
		return -1;
	subject_of(p, src->item, &s);
	return m->lookup(&s, take, &t, err);
}

int
keyring_store(const struct profile *p, const char *secret, struct error *err)
{
	return keyring_store_item(p, CREDENTIAL_SECRET, secret, err);
}

int
keyring_store_item(const struct profile *p, enum credential_item item, const char *value,
		   struct error *err)
{
	const struct keyring_module *m = module_load(p, item, err);
	struct keyring_subject s;

	if (m == NULL)
		return -1;
	subject_of(p, item, &s);
	return m->store(&s, value, err);
}

int
keyring_clear(const struct profile *p, int *removed, struct error *err)
{
	return keyring_clear_item(p, CREDENTIAL_SECRET, removed, err);
}

int
keyring_clear_item(const struct profile *p, enum credential_item item, int *removed,
		   struct error *err)
{
	const struct keyring_module *m = module_load(p, item, err);
	struct keyring_subject s;

	*removed = 0;
	if (m == NULL)
		return -1;
	subject_of(p, item, &s);
	return m->clear(&s, removed, err);
}

int
keyring_probe(const struct profile *p, enum keyring_state *state, struct error *err)
{
	return keyring_probe_item(p, CREDENTIAL_SECRET, state, err);
}

int
keyring_probe_item(const struct profile *p, enum credential_item item, enum keyring_state *state,
		   struct error *err)
{
	const struct keyring_module *m = module_load(p, item, err);
	struct keyring_subject s;

	if (m == NULL)
		return -1;
	subject_of(p, item, &s);
	return m->probe(&s, state, err);
}
