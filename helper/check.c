/* keybearer check [--profile P]: a doctor. keybearer's half looks at what it can see
 * itself — the config file, the profile it selects, the token endpoint's URL, the cache
 * directory — and then becomes `keybearer-fetch check`, which takes the lock, resolves the
 * secret, mints once bypassing the cache and writes the new token to it. Each step is a
 * line with its verdict and time; the first failing step ends the check, and its exit code
 * is the check's. */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "checkstep.h"
#include "cli.h"
#include "config.h"
#include "obtain.h"
#include "url.h"

/* The config file's facts: config_load has refused it unless it and the directories above
 * it are closed to others' writes, so this says what it found. */
static int
check_config(struct config *cfg, struct error *err)
{
	struct checkstep step;
	struct stat st, link;
	char *path = NULL;
	const char *from;

	checkstep_start(&step, "config");
	if (config_load(cfg, err) != 0)
		return checkstep_fail(&step, err);
	if (cfg->path == NULL) {
		from = config_default_path(&path);
		if (from != NULL)
			checkstep_ok(&step,
				     "no config file: looked for %s (from %s); only the "
				     "built-in and environment profiles",
				     path, from);
		else
			checkstep_ok(&step, "no config file: neither KEYBEARER_CONFIG, "
					    "XDG_CONFIG_HOME nor HOME is set");
		free(path);
		return 0;
	}
	if (stat(cfg->path, &st) != 0) { /* gone since config_load read it */
		error_set(err, KB_EXIT_CONFIG, "config file %s is gone: %s — check it", cfg->path,
			  strerror(errno));
		config_free(cfg);
		return checkstep_fail(&step, err);
	}
	checkstep_ok(&step,
		     "%s%s: mode %04o, %s; neither it nor a directory above it can be changed by "
		     "anyone else",
		     cfg->path,
		     lstat(cfg->path, &link) == 0 && S_ISLNK(link.st_mode) ? " (a symbolic link)"
									   : "",
		     (unsigned)(st.st_mode & 07777), st.st_uid == geteuid() ? "yours" : "root's");
	return 0;
}

static int
check_profile(const struct config *cfg, const char *name, const struct profile **p,
	      struct error *err)
{
	struct checkstep step;
	char source[4200], urls[1024] = "";
	const char *why;
	size_t i, used = 0;

	checkstep_start(&step, "profile");
	*p = config_select_why(cfg, name, &why, err);
	if (*p == NULL || config_check_mintable(cfg, *p, err) != 0)
		return checkstep_fail(&step, err);
	for (i = 0; i < (*p)->url_count && used < sizeof(urls); i++) {
		int n = snprintf(urls + used, sizeof(urls) - used, " %s", (*p)->urls[i]);
		if (n < 0 || (size_t)n >= sizeof(urls) - used) {
			snprintf(urls + used, sizeof(urls) - used, " and %zu more",
				 (*p)->url_count - i);
			break;
		}
		used += (size_t)n;
	}
	config_describe_secret_source(*p, source, sizeof(source));
	checkstep_ok(&step, "%s (%s): client_id %s, %s, secret %s; its token goes to%s", (*p)->name,
		     why, (*p)->client_id, config_auth_method_name((*p)->auth_method), source,
		     (*p)->url_count ? urls : " no URL (urls is empty)");
	return 0;
}

static void
check_endpoint(const struct profile *p)
{
	struct checkstep step;
	struct url u;

	checkstep_start(&step, "endpoint");
	if (p->token_url == NULL) {
		checkstep_ok(&step,
			     "issuer %s: its discovery document names the token endpoint "
			     "(read next)",
			     p->issuer);
		return;
	}
	/* config_load has checked it as url_check_endpoint does */
	if (url_parse(p->token_url, &u) == 0 && strcmp(u.scheme, "http") == 0)
		checkstep_ok(&step, "%s: plain http, which keybearer allows only on this machine",
			     p->token_url);
	else if (p->ca_file != NULL)
		checkstep_ok(&step, "%s: https, its certificate checked against %s", p->token_url,
			     p->ca_file);
	else
		checkstep_ok(&step, "%s: https, its certificate checked against the system's CAs",
			     p->token_url);
}

static int
check_cache(const struct profile *p, struct error *err)
{
	struct checkstep step;
	struct cache c;

	checkstep_start(&step, "cache");
	if (cache_open(&c, p, 1, err) != 0)
		return checkstep_fail(&step, err);
	checkstep_ok(&step, "%s: a private directory of yours", c.dir);
	cache_close(&c);
	return 0;
}

int
check_run(int argc, char **argv, struct error *err)
{
	struct cli_options opts;
	struct config cfg;
	const struct profile *p;
	struct checkstep step;
	char *args[4] = { "check", "--profile", NULL, NULL };
	int rc;

	rc = cli_parse_options(argc, argv, "profile", &opts, err);
	if (rc != 0)
		return rc;
	if (check_config(&cfg, err) != 0)
		return -1;
	rc = check_profile(&cfg, opts.profile, &p, err);
	if (rc == 0) {
		check_endpoint(p);
		rc = check_cache(p, err);
	}
	if (rc == 0) {
		/* the rest needs the secret: keybearer-fetch's work, on the same stdout */
		args[2] = p->name;
		fflush(stdout);
		checkstep_start(&step, "fetch");
		obtain_exec_fetch("check", 3, args, err);
		rc = checkstep_fail(&step, err);
	}
	config_free(&cfg);
	return rc;
}
