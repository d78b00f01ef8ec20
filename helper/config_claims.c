/* URL claims: which profile's token may go to a URL (urls prefixes, the default origin), and
 * why none goes to a URL, in words. */
#include "config.h"
#include "config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

/* A profile without urls may send its token only to its token endpoint's origin. */
int
config_apply_default_urls(struct config *cfg, struct error *err)
{
	char origin[URL_HOST_MAX + 32];
	size_t i;

	for (i = 0; i < cfg->count; i++) {
		struct profile *p = &cfg->profiles[i];
		/* one client, many APIs: a profile that inherits claims only what it names,
		 * or a base and its every child would claim the same origin */
		if (p->url_count > 0 || p->inherit != NULL || config_endpoint_identity(p) == NULL ||
		    url_origin(config_endpoint_identity(p), origin, sizeof(origin)) != 0)
			continue;
		if (config_profile_add_url(p, origin, err) != 0)
			return -1;
	}
	return 0;
}

static const char *
path_or_root(const struct url *u)
{
	return u->path[0] == '/' ? u->path : "/";
}

/* Whether the urls entry prefix is on want's origin: the same scheme, host and port. */
static int
same_origin(const struct url *want, const struct url *prefix)
{
	return strcmp(want->scheme, prefix->scheme) == 0 && strcmp(want->host, prefix->host) == 0 &&
	       want->port == prefix->port;
}

int
config_profile_may_claim(const struct profile *p, const struct url *want)
{
	const char *endpoint = config_endpoint_identity(p);
	struct url entry;
	size_t i;

	for (i = 0; i < p->url_count; i++) {
		if (url_parse(p->urls[i], &entry) == 0 && same_origin(want, &entry))
			return 1;
	}
	/* without urls it claims its endpoint's origin (config_apply_default_urls) */
	return p->url_count == 0 && p->inherit == NULL && endpoint != NULL &&
	       url_parse(endpoint, &entry) == 0 && same_origin(want, &entry);
}

/* The length of p's longest urls prefix of want, or -1 when none matches; *entry is then
 * the index of that urls entry. */
static long
claim_length(const struct profile *p, const struct url *want, size_t *entry)
{
	struct url prefix;
	long best = -1;
	size_t j, len;

	for (j = 0; j < p->url_count; j++) {
		if (url_parse(p->urls[j], &prefix) != 0 || !same_origin(want, &prefix))
			continue;
		len = strlen(path_or_root(&prefix));
		if (strncmp(path_or_root(want), path_or_root(&prefix), len) != 0) {
			/* a claim written with its trailing slash claims the path without it:
			 * urls = https://host/team/repo.git/ is meant for .../repo.git, which is
			 * what git asks about */
			if (len < 2 || path_or_root(&prefix)[len - 1] != '/' ||
			    strncmp(path_or_root(want), path_or_root(&prefix), len - 1) != 0 ||
			    strchr("?", path_or_root(want)[len - 1]) == NULL)
				continue;
			len--;
		}
		/* /api claims /api, /api/x and /api?q, but not /api-admin */
		else if (path_or_root(&prefix)[len - 1] != '/' &&
			 strchr("/?", path_or_root(want)[len]) == NULL)
			continue;
		if ((long)len > best) {
			best = (long)len;
			*entry = j;
		}
	}
	return best;
}

const char *
config_profile_claim(const struct profile *p, const char *url)
{
	struct url want;
	size_t entry = 0;

	if (url_parse(url, &want) != 0 || claim_length(p, &want, &entry) < 0)
		return NULL;
	return p->urls[entry];
}

const struct profile *
config_claim_on_origin(const struct config *cfg, const char *url, const char **entry)
{
	struct url want, prefix;
	size_t i, j;

	if (url_parse(url, &want) != 0)
		return NULL;
	for (i = 0; i < cfg->count; i++) {
		const struct profile *p = &cfg->profiles[i];
		for (j = 0; j < p->url_count; j++) {
			if (url_parse(p->urls[j], &prefix) == 0 &&
			    strcmp(want.scheme, prefix.scheme) == 0 &&
			    strcmp(want.host, prefix.host) == 0 && want.port == prefix.port) {
				*entry = p->urls[j];
				return p;
			}
		}
	}
	return NULL;
}

int
config_profile_claims(const struct profile *p, const char *url)
{
	return config_profile_claim(p, url) != NULL;
}

const struct profile *
config_match_url(const struct config *cfg, const char *url)
{
	const struct profile *best = NULL;
	struct url want;
	long best_len = -1, len;
	size_t i, entry;

	if (url_parse(url, &want) != 0)
		return NULL;
	for (i = 0; i < cfg->count; i++) {
		len = claim_length(&cfg->profiles[i], &want, &entry);
		if (len > best_len) {
			best = &cfg->profiles[i];
			best_len = len;
		}
	}
	return best;
}

const struct profile *
config_match_url_also(const struct config *cfg, const char *url, const struct profile *best)
{
	struct url want;
	size_t i, entry;
	long len;

	if (url_parse(url, &want) != 0)
		return NULL;
	len = claim_length(best, &want, &entry);
	for (i = 0; len >= 0 && i < cfg->count; i++) {
		if (&cfg->profiles[i] != best &&
		    claim_length(&cfg->profiles[i], &want, &entry) == len)
			return &cfg->profiles[i];
	}
	return NULL;
}

/* A message built piece by piece: a piece that does not fit whole is left out whole, so
 * the text is never cut inside a name or a URL. */
struct text {
	char *buf;
	size_t size, used;
};

static int __attribute__((format(printf, 2, 3))) text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->used >= t->size)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->size - t->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->size - t->used) {
		t->buf[t->used] = '\0';
		return -1;
	}
	t->used += (size_t)n;
	return 0;
}

#define QUOTE_MAX	  200 /* bytes of a URL quoted in a message */
#define EXPLAIN_ROOM_TODO 360 /* kept for the what-to-do while the profiles are listed */
#define EXPLAIN_ENTRY_MAX 300 /* a urls entry longer than this is not suggested */

/* A URL as a message quotes it: up to QUOTE_MAX bytes (ending on a whole UTF-8
 * character), "…" marking a longer one, and '?' for a control byte, so that what a user
 * typed can neither end the line nor pass for more of the message. */
static const char *
quote(const char *url, char out[QUOTE_MAX + 4])
{
	size_t len = strlen(url), keep = len > QUOTE_MAX ? QUOTE_MAX : len, i;

	while (keep < len && keep > 0 && ((unsigned char)url[keep] & 0xc0) == 0x80)
		keep--;
	for (i = 0; i < keep; i++)
		out[i] = (unsigned char)url[i] < 0x20 || url[i] == 0x7f ? '?' : url[i];
	if (keep < len) {
		memcpy(out + keep, "…", 3);
		keep += 3;
	}
	out[keep] = '\0';
	return out;
}

/* The profile's urls, space-separated, as a urls line would list them; -1 when they do
 * not all fit. */
static int
add_urls(struct text *t, const struct profile *p)
{
	size_t used = t->used, i;

	for (i = 0; i < p->url_count; i++) {
		if (text_add(t, "%s%s", i ? " " : "", p->urls[i]) != 0) {
			t->used = used;
			t->buf[used] = '\0';
			return -1;
		}
	}
	return 0;
}

/* add_urls, when room bytes are left after them; else nothing (-1). */
static int
add_urls_leaving(struct text *t, const struct profile *p, size_t room)
{
	size_t used = t->used;

	if (add_urls(t, p) == 0 && t->size - t->used >= room)
		return 0;
	t->used = used;
	t->buf[used] = '\0';
	return -1;
}

/* The profiles and what they claim, as many as fit before room is left for the advice:
 * "aspose https://api.aspose.cloud/; main https://h/api/"; with only_host, only the
 * profiles with a claim on that host. Returns how many profiles were listed. */
static size_t
add_claims(struct text *t, const struct config *cfg, const char *only_host, size_t room)
{
	size_t i, listed = 0, left_out = 0;
	struct url prefix;

	for (i = 0; i < cfg->count; i++) {
		const struct profile *p = &cfg->profiles[i];
		size_t j, used = t->used, on_host = 0;
		for (j = 0; only_host != NULL && j < p->url_count; j++)
			on_host += url_parse(p->urls[j], &prefix) == 0 &&
				   strcmp(prefix.host, only_host) == 0;
		if (only_host != NULL && on_host == 0)
			continue;
		if (text_add(t, "%s%s ", listed ? "; " : "", p->name) ||
		    (p->url_count == 0 ? text_add(t, "(no urls)") : add_urls_leaving(t, p, room))) {
			t->used = used;
			t->buf[used] = '\0';
			left_out++;
			continue;
		}
		listed++;
	}
	if (left_out > 0)
		text_add(t, "%s%zu more (keybearer status lists them)", listed ? "; and " : "",
			 left_out);
	return listed + left_out;
}

/* The urls entry that would claim url and little else: its origin and first path
 * segment ("https://h/api/" for https://h/api/v1/x). 0, or -1 when it does not fit. */
static int
suggested_entry(const char *url, char *out, size_t size)
{
	struct url want;
	size_t used, segment;
	const char *path;

	if (url_parse(url, &want) != 0 || url_origin(url, out, size) != 0)
		return -1;
	path = path_or_root(&want) + 1;
	segment = strcspn(path, "/?");
	if (path[segment] == '/')
		segment++;
	used = strlen(out);
	if (used + segment >= size || used + segment > EXPLAIN_ENTRY_MAX)
		return -1;
	memcpy(out + used, path, segment);
	out[used + segment] = '\0';
	return 0;
}

static int
has_claim_on_host(const struct config *cfg, const char *host)
{
	struct url prefix;
	size_t i, j;

	for (i = 0; i < cfg->count; i++) {
		for (j = 0; j < cfg->profiles[i].url_count; j++) {
			if (url_parse(cfg->profiles[i].urls[j], &prefix) == 0 &&
			    strcmp(prefix.host, host) == 0)
				return 1;
		}
	}
	return 0;
}

/* The one profile with a claim on host, or NULL (none, or several). */
static const struct profile *
only_profile_on_host(const struct config *cfg, const char *host)
{
	const struct profile *found = NULL;
	struct url prefix;
	size_t i, j;

	for (i = 0; i < cfg->count; i++) {
		for (j = 0; j < cfg->profiles[i].url_count; j++) {
			if (url_parse(cfg->profiles[i].urls[j], &prefix) != 0 ||
			    strcmp(prefix.host, host) != 0)
				continue;
			if (found != NULL && found != &cfg->profiles[i])
				return NULL;
			found = &cfg->profiles[i];
		}
	}
	return found;
}

const struct profile *
config_only_file_profile(const struct config *cfg)
{
	const struct profile *found = NULL;
	size_t i, count = 0;

	for (i = 0; i < cfg->count; i++) {
		if (cfg->profiles[i].in_file) {
			found = &cfg->profiles[i];
			count++;
		}
	}
	return count == 1 ? found : NULL;
}

/* "— add ENTRY to the urls of profile P: urls = ... ENTRY in [profile P] of FILE". */
static void
add_advice(struct text *t, const struct config *cfg, const struct profile *target,
	   const char *entry)
{
	char *path = NULL;
	const char *file;
	size_t used = t->used;

	if (cfg->path == NULL)
		config_default_path(&path);
	file = cfg->path != NULL ? cfg->path : path != NULL ? path : "the config file";
	if (target != NULL && !target->in_file && strcmp(target->name, ENV_PROFILE_NAME) == 0) {
		if (text_add(t,
			     " — the env profile claims only its token endpoint's origin: "
			     "describe the client in a [profile NAME] of %s, with urls = %s",
			     file, entry) != 0)
			text_add(t, " — describe the client in a [profile NAME] of the config "
				    "file, with urls that claim it");
	} else if (target != NULL) {
		if (text_add(t, " — add %s to the urls of profile %s: urls = ", entry,
			     target->name) != 0 ||
		    add_urls(t, target) != 0 ||
		    text_add(t, "%s%s in [profile %s] of %s", target->url_count ? " " : "", entry,
			     target->name, file) != 0) {
			t->used = used;
			t->buf[used] = '\0';
			text_add(t, " — add %s to the urls of profile %s", entry, target->name);
		}
	} else if (text_add(t,
			    " — add %s to the urls of the profile meant for it, in its "
			    "[profile NAME] of %s (a urls line replaces what the profile "
			    "claims by default: keep that in the line)",
			    entry, file) != 0) {
		text_add(t, " — add %s to the urls of the profile meant for it", entry);
	}
	free(path);
}

void
config_explain_unclaimed(const struct config *cfg, const struct profile *chosen, const char *url,
			 const char *as_given, char *out, size_t size)
{
	struct text t = { out, size, 0 };
	const struct profile *claimer, *target;
	const char *refusal, *advice;
	char entry[EXPLAIN_ENTRY_MAX + 1], quoted[QUOTE_MAX + 4];
	struct url want;

	if (cfg->partial) {
		/* the claims elsewhere, or every profile, are told: of the whole file */
		struct config whole;
		struct error ignored = { 0 };
		if (config_load(&whole, &ignored) == 0) {
			config_explain_unclaimed(
				&whole, chosen != NULL ? config_find(&whole, chosen->name) : NULL,
				url, as_given, out, size);
			config_free(&whole);
			return;
		}
	}
	out[0] = '\0';
	if (chosen != NULL)
		text_add(&t, "profile %s does not claim %s", chosen->name, quote(url, quoted));
	else
		text_add(&t, "no profile claims %s", quote(url, quoted));
	if (as_given != NULL && strcmp(as_given, url) != 0)
		text_add(&t, " (%s has no scheme: read as http://, as curl reads it)",
			 quote(as_given, quoted));
	refusal = url_refusal(url, &advice);
	if (refusal != NULL) {
		text_add(&t, ": %s, and no profile claims such a URL — %s", refusal, advice);
		return;
	}
	url_parse(url, &want);
	if (strcmp(want.scheme, "http") == 0 && !url_host_is_loopback(want.host)) {
		text_add(&t,
			 ": it is plain http to %s, and the token would travel unencrypted: no "
			 "profile may claim such a URL — use https://",
			 want.host);
		return;
	}
	claimer = config_match_url(cfg, url);
	if (chosen != NULL) {
		text_add(&t, ": it claims ");
		if (chosen->url_count == 0)
			text_add(&t, "nothing");
		else if (add_urls_leaving(&t, chosen, EXPLAIN_ROOM_TODO) != 0)
			text_add(&t, "%zu other prefixes (keybearer status lists them)",
				 chosen->url_count);
		if (claimer != NULL)
			text_add(&t, "; profile %s claims it (with %s)", claimer->name,
				 config_profile_claim(claimer, url));
		target = chosen;
	} else {
		target = only_profile_on_host(cfg, want.host);
		if (has_claim_on_host(cfg, want.host)) {
			text_add(&t, ": the claims on %s: ", want.host);
			add_claims(&t, cfg, want.host, EXPLAIN_ROOM_TODO);
		} else {
			text_add(&t, ": no profile's urls are on %s (the profiles: ", want.host);
			if (add_claims(&t, cfg, NULL, EXPLAIN_ROOM_TODO) == 0)
				text_add(&t, "none");
			text_add(&t, ")");
		}
		if (target == NULL)
			target = config_only_file_profile(cfg);
	}
	if (chosen != NULL && claimer != NULL) {
		if (suggested_entry(url, entry, sizeof(entry)) == 0)
			text_add(&t, " — use profile %s, or add %s to the urls of profile %s",
				 claimer->name, entry, chosen->name);
		else
			text_add(&t, " — use profile %s", claimer->name);
	} else if (suggested_entry(url, entry, sizeof(entry)) == 0) {
		add_advice(&t, cfg, target, entry);
	} else {
		text_add(&t, " — add a prefix of it to the urls of the profile meant for it");
	}
}
