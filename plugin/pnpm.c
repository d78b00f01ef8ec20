/* pnpm's tokenHelper (`//registry.example.com/:tokenHelper=/abs/path` in ~/.npmrc). pnpm
 * runs the helper through a shell, with no arguments and nothing on stdin, and takes its
 * stdout, trailing white space cut, as the whole Authorization header value. A profile is
 * therefore named by the helper's own name: a link keybearer-pnpm-PROFILE to keybearer
 * (`keybearer pnpm --link` makes it), or a wrapper running `keybearer pnpm --profile P`. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "plugin.h"
#include "safefile.h"

#define PNPM_LINK_PREFIX "keybearer-pnpm-"

/* What a path may hold for pnpm: it checks the value as a path, then hands it to /bin/sh
 * -c, so a character the shell reads (a space, a quote, $, ~, ...) would run something
 * else than the path checked. */
static const char shell_safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				 "0123456789/._+,@%=:-";

const char *
plugin_pnpm_link_profile(const char *program)
{
	size_t n = strlen(PNPM_LINK_PREFIX);

	if (strncmp(program, PNPM_LINK_PREFIX, n) != 0 || program[n] == '\0')
		return NULL;
	return program + n;
}

/* "Bearer <token>": the header value pnpm sends to the registry of the .npmrc line. */
static int
answer(const char *profile_flag, struct error *err)
{
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	char *text = NULL;
	int rc = -1;

	if (config_load_selected(&cfg, profile_flag, err) != 0)
		return -1;
	if (plugin_token_for_profile(&cfg, profile_flag, &p, &rec, err) != 0)
		goto out;
	if (asprintf(&text, "Bearer %s\n", rec.access_token) < 0) {
		text = NULL;
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	rc = output_answer(text, err);
out:
	safefile_free_string(text);
	cache_record_free(&rec);
	config_free(&cfg);
	return rc;
}

static const struct safefile_rules link_rules = {
	.what = "pnpm --link: the directory",
	.allow_root_owner = 1,
	.forbidden = 022,
	.code = KB_EXIT_IO,
	.check_parents = 1,
};

/* The directory of the link: absolute, whole, and nobody else's to change, since pnpm
 * runs whatever the name comes to point at. */
static int
link_directory(const char *given, char *dir, struct error *err)
{
	const char *home = getenv("HOME");
	char fallback[PATH_MAX];
	struct stat st;

	if (given == NULL) {
		if (home == NULL || *home != '/' ||
		    snprintf(fallback, sizeof(fallback), "%s/.local/bin", home) >=
			    (int)sizeof(fallback))
			return error_set(err, KB_EXIT_USAGE,
					 "pnpm --link: no directory given and HOME is not an "
					 "absolute path — name the directory: keybearer pnpm "
					 "--link PROFILE DIR");
		given = fallback;
	}
	if (realpath(given, dir) == NULL)
		return error_set(err, KB_EXIT_IO,
				 "pnpm --link: cannot use the directory %.*s%s: %s — create it "
				 "(mkdir -p) or name another",
				 PLUGIN_QUOTE(given, 200), strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return error_set(err, KB_EXIT_IO,
				 "pnpm --link: %.*s%s is not a directory — name a directory",
				 PLUGIN_QUOTE(dir, 200));
	if ((st.st_uid != getuid() && st.st_uid != 0) || (st.st_mode & 022) != 0)
		return error_set(err, KB_EXIT_IO,
				 "pnpm --link: others can change %.*s%s (owner %ld, mode %04o), "
				 "and so what pnpm runs — use a directory that is yours alone, "
				 "such as ~/.local/bin",
				 PLUGIN_QUOTE(dir, 200), (long)st.st_uid,
				 (unsigned)(st.st_mode & 07777));
	/* and the directories above it: whoever can change one can swap the link */
	if (safefile_check_parents(dir, &link_rules, err) != 0)
		return -1;
	if (strspn(dir, shell_safe) != strlen(dir))
		return error_set(err, KB_EXIT_USAGE,
				 "pnpm --link: pnpm runs its tokenHelper through a shell, which "
				 "would split the path %.*s%s — use a directory whose path has "
				 "only letters, digits and /._+,@%%=:-",
				 PLUGIN_QUOTE(dir, 200));
	return 0;
}

/* Makes dir/name a link to target, or finds it made: never replaces another file. */
static int
make_link(const char *dir, const char *name, const char *target, struct error *err)
{
	char found[PATH_MAX];
	struct stat st;
	ssize_t n;
	int dirfd, rc = 0;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0)
		return error_set(err, KB_EXIT_IO, "pnpm --link: cannot open %.*s%s: %s — check it",
				 PLUGIN_QUOTE(dir, 200), strerror(errno));
	if (symlinkat(target, dirfd, name) == 0)
		goto out;
	if (errno != EEXIST) {
		rc = error_set(err, KB_EXIT_IO,
			       "pnpm --link: cannot make %s/%s: %s — check the directory", dir,
			       name, strerror(errno));
		goto out;
	}
	/* there already: fine if it is this very link, else it is someone's file */
	n = readlinkat(dirfd, name, found, sizeof(found) - 1);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) && n > 0 &&
	    (size_t)n < sizeof(found) - 1) {
		found[n] = '\0';
		if (strcmp(found, target) == 0)
			goto out;
	}
	rc = error_set(err, KB_EXIT_IO,
		       "pnpm --link: %s/%s exists and is not a link to %s — remove it, or "
		       "name another directory",
		       dir, name, target);
out:
	close(dirfd);
	return rc;
}

/* One .npmrc line per URL the profile claims: "//host[:port]/path/:tokenHelper=PATH",
 * npm's way of naming a registry's settings. */
static int
print_npmrc_lines(const struct profile *p, const char *link, struct error *err)
{
	char *text = NULL;
	size_t i, len = 0;
	FILE *out = open_memstream(&text, &len);
	int rc;

	for (i = 0; out != NULL && i < p->url_count; i++) {
		const char *rest = strstr(p->urls[i], "://");
		if (rest != NULL)
			fprintf(out, "/%s:tokenHelper=%s\n", rest + 2, link);
	}
	rc = out == NULL || fclose(out) != 0
		     ? error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory")
		     : output_answer(text, err);
	free(text);
	return rc;
}

static int
make_pnpm_link(const char *profile_name, const char *given_dir, struct error *err)
{
	char dir[PATH_MAX], self[PATH_MAX], *link = NULL, *name = NULL;
	const struct profile *p;
	struct config cfg;
	ssize_t n;
	int rc = -1;

	if (config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, profile_name, err);
	if (p == NULL)
		goto out;
	if (p->url_count == 0) {
		error_set(err, KB_EXIT_CONFIG,
			  "pnpm --link: profile %s has no urls, so no registry to name in .npmrc "
			  "— add the registry's URL to urls in [profile %s]",
			  p->name, p->name);
		goto out;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n >= sizeof(self) - 1) {
		error_set(err, KB_EXIT_INTERNAL,
			  "pnpm --link: cannot find keybearer's own path in /proc/self/exe — "
			  "check that /proc is mounted");
		goto out;
	}
	self[n] = '\0';
	if (link_directory(given_dir, dir, err) != 0)
		goto out;
	if (asprintf(&name, PNPM_LINK_PREFIX "%s", p->name) < 0 ||
	    asprintf(&link, "%s/%s", dir, name) < 0) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	if (make_link(dir, name, self, err) == 0)
		rc = print_npmrc_lines(p, link, err);
out:
	free(name);
	free(link);
	config_free(&cfg);
	return rc;
}

int
plugin_pnpm(int argc, char **argv, struct error *err)
{
	if (argc == 1)
		return answer(NULL, err);
	if (argc == 3 && (strcmp(argv[1], "--profile") == 0 || strcmp(argv[1], "-p") == 0))
		return answer(argv[2], err);
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--link") == 0)
		return make_pnpm_link(argv[2], argc == 4 ? argv[3] : NULL, err);
	return error_set(err, KB_EXIT_USAGE,
			 "pnpm arguments: expected --profile P, or --link P [DIR] — see "
			 "keybearer pnpm --help");
}

int
plugin_pnpm_named(const char *profile, int argc, char **argv, struct error *err)
{
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		const struct plugin *self = plugin_find("pnpm", NULL);
		fputs(self->help, stdout);
		return 0;
	}
	if (argc != 1)
		return error_set(err, KB_EXIT_USAGE,
				 "%s%s takes no arguments: it is pnpm's tokenHelper for profile "
				 "%s — see keybearer pnpm --help",
				 PNPM_LINK_PREFIX, profile, profile);
	return answer(profile, err);
}
