/* The config file's index (config_index.h). It is trusted only for the very file it was
 * written for: device, inode, size, mtime and ctime to the nanosecond, and HOME (a ~/ path
 * reads differently with another). It is written only when the file had not changed for
 * SETTLED_SECONDS before it was opened, so that any later edit bears a later time (file
 * systems stamp to 2 s or finer) and cannot pass for the indexed version; one made while it
 * was read is caught by a second fstat. Only a clock set back can defeat this. Anything
 * unexpected in the index (a torn write, another format) and the file is read whole, as
 * without an index: an index makes a load faster, never different. */
#include "config_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sha256.h"

/* the version too: another keybearer may check the file by other rules */
#define INDEX_FORMAT	   "keybearer-config-index 1 " KEYBEARER_VERSION
#define SETTLED_SECONDS	   2
#define IDENTITY_MAX	   256
#define STALE_TEMP_SECONDS 30

/* Named after the file, not its path: a config behind a symbolic link that is switched
 * between files keeps an index for each. */
static void
index_name(const struct stat *file, char out[64])
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1], id[64];
	struct sha256 ctx;

	snprintf(id, sizeof(id), "%llu:%llu", (unsigned long long)file->st_dev,
		 (unsigned long long)file->st_ino);
	sha256_init(&ctx);
	sha256_update(&ctx, id, strlen(id));
	sha256_final(&ctx, digest);
	sha256_hex(digest, 16, hex);
	snprintf(out, 64, "config-%.32s.index", hex);
}

/* The first line of the index: what the file must still be for the index to be its. */
static void
identity_line(const struct stat *st, char out[IDENTITY_MAX])
{
	const char *home = getenv("HOME");
	unsigned char digest[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	struct sha256 ctx;

	sha256_init(&ctx);
	if (home != NULL)
		sha256_update(&ctx, home, strlen(home) + 1);
	sha256_final(&ctx, digest);
	sha256_hex(digest, 8, hex);
	snprintf(out, IDENTITY_MAX, "%s %llu %llu %lld %lld %ld %lld %ld %s\n", INDEX_FORMAT,
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec, hex);
}

/* The index's own directory: $XDG_CACHE_HOME/keybearer/config-index, else
 * ~/.cache/keybearer/config-index. Not the token cache's: what is there is the tokens' state
 * alone. It holds no secret (names, origins, variable names), so it may outlive a login.
 * Open (made 0700, when create) and ours and private, or -1. */
static int
open_index_dir(int create)
{
	const char *cache_home = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char base[4096], path[4200];
	struct stat st;
	int n, fd;

	if (cache_home != NULL && cache_home[0] == '/')
		n = snprintf(base, sizeof(base), "%s", cache_home);
	else if (home != NULL && home[0] == '/')
		n = snprintf(base, sizeof(base), "%s/.cache", home);
	else
		return -1;
	if (n < 0 || (size_t)n >= sizeof(base))
		return -1;
	snprintf(path, sizeof(path), "%s/keybearer/config-index", base);
	if (create) {
		char middle[4200];
		snprintf(middle, sizeof(middle), "%s/keybearer", base);
		(void)mkdir(base, 0700);
		(void)mkdir(middle, 0700);
		(void)mkdir(path, 0700);
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The index of path, open for reading when it is ours and private; NULL otherwise. */
static FILE *
open_index(const struct stat *file)
{
	int dirfd = open_index_dir(0), fd;
	struct stat st;
	char name[64];
	FILE *in = NULL;

	if (dirfd < 0)
		return NULL;
	index_name(file, name);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dirfd);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0 || (in = fdopen(fd, "r")) == NULL) {
		close(fd);
		return NULL;
	}
	return in;
}

/* Whether in (at its start) is the index of the file st describes. */
static int
index_is_current(FILE *in, const struct stat *st)
{
	char expected[IDENTITY_MAX], line[IDENTITY_MAX];

	identity_line(st, expected);
	return fgets(line, sizeof(line), in) != NULL && strcmp(line, expected) == 0;
}

static int
create_temp(int dirfd, const char *name, const struct timespec *now)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd = openat(dirfd, name, flags, 0600);
	struct stat st;

	if (fd < 0 && errno == EEXIST && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now->tv_sec - st.st_mtim.tv_sec > STALE_TEMP_SECONDS && unlinkat(dirfd, name, 0) == 0)
		fd = openat(dirfd, name, flags, 0600);
	return fd;
}

/* Whether t was SETTLED_SECONDS or more before now, to the nanosecond. */
static int
settled_before(const struct timespec *t, const struct timespec *now)
{
	long long seconds = (long long)now->tv_sec - (long long)t->tv_sec;

	return seconds > SETTLED_SECONDS ||
	       (seconds == SETTLED_SECONDS && now->tv_nsec >= t->tv_nsec);
}

/* Whether a and b are the same version of a file, by what an index is checked against. */
static int
same_identity(const struct stat *a, const struct stat *b)
{
	char line_a[IDENTITY_MAX], line_b[IDENTITY_MAX];

	identity_line(a, line_a);
	identity_line(b, line_b);
	return strcmp(line_a, line_b) == 0;
}

int
config_index_writer_open(struct config_index_writer *w, const struct stat *st,
			 const struct timespec *before_open)
{
	char identity[IDENTITY_MAX];
	struct timespec now;
	FILE *current;
	int fd;

	memset(w, 0, sizeof(*w));
	w->dirfd = -1;
	if (!settled_before(&st->st_mtim, before_open) ||
	    !settled_before(&st->st_ctim, before_open))
		return -1;
	w->file = *st;
	clock_gettime(CLOCK_REALTIME, &now);
	current = open_index(st);
	if (current != NULL) {
		int is_current = index_is_current(current, st);
		fclose(current);
		if (is_current)
			return -1;
	}
	w->dirfd = open_index_dir(1);
	if (w->dirfd < 0)
		return -1;
	index_name(st, w->name);
	/* One temp name per index: two writers at once, and the second writes none; one killed
	 * mid-way leaves a file the next writer takes for stale after a while. */
	snprintf(w->tmp_name, sizeof(w->tmp_name), ".%s.tmp", w->name);
	fd = create_temp(w->dirfd, w->tmp_name, &now);
	if (fd < 0 || (w->out = fdopen(fd, "w")) == NULL) {
		if (fd >= 0) {
			close(fd);
			unlinkat(w->dirfd, w->tmp_name, 0);
		}
		close(w->dirfd);
		w->dirfd = -1;
		return -1;
	}
	identity_line(st, identity);
	fputs(identity, w->out);
	return 0;
}

void
config_index_writer_visit(struct config_index_writer *w, long long offset, size_t length,
			  const char *name, int first, const char *inherit, const char *claims,
			  const char *variables)
{
	if (w->out == NULL)
		return;
	fprintf(w->out, "%lld %zu %c %s %s%s |%s\n", offset, length, first ? 'f' : 'r', name,
		inherit != NULL ? inherit : "-", claims, variables);
	w->visits++;
}

void
config_index_writer_default_claimer(struct config_index_writer *w, const char *name)
{
	if (w->out != NULL)
		fprintf(w->out, "d %s\n", name);
}

void
config_index_writer_abort(struct config_index_writer *w)
{
	if (w->out != NULL) {
		fclose(w->out);
		unlinkat(w->dirfd, w->tmp_name, 0);
	}
	if (w->dirfd >= 0)
		close(w->dirfd);
	memset(w, 0, sizeof(*w));
	w->dirfd = -1;
}

void
config_index_writer_commit(struct config_index_writer *w, int config_fd)
{
	struct stat now;
	int failed;

	/* changed while it was read, even within one tick: the index would be of neither */
	if (w->out == NULL || fstat(config_fd, &now) != 0 || !same_identity(&now, &w->file)) {
		config_index_writer_abort(w);
		return;
	}
	/* no fsync: a torn index lacks its end line, and is then not used */
	fprintf(w->out, "end %zu\n", w->visits);
	failed = fflush(w->out) != 0 || ferror(w->out);
	failed |= fclose(w->out) != 0;
	w->out = NULL;
	if (failed || renameat(w->dirfd, w->tmp_name, w->dirfd, w->name) != 0)
		unlinkat(w->dirfd, w->tmp_name, 0);
	config_index_writer_abort(w);
}

void
config_index_origin(const struct url *u, char *out, size_t size)
{
	snprintf(out, size, "%s://%s:%d", u->scheme, u->host, u->port);
}

/* One visit line, split in place: 0, or -1 when it is not one. */
struct visit {
	long long offset;
	size_t length;
	int first;
	char *name, *inherit;
	char *claims;	 /* space-separated origins */
	char *variables; /* space-separated names */
};

static int
split_visit(char *line, struct visit *v)
{
	char *end, *bar, *save = NULL;

	line[strcspn(line, "\n")] = '\0';
	bar = strchr(line, '|');
	if (bar == NULL)
		return -1;
	*bar = '\0';
	v->variables = bar + 1;
	errno = 0;
	v->offset = strtoll(line, &end, 10);
	if (errno != 0 || end == line || *end != ' ' || v->offset < 0)
		return -1;
	v->length = (size_t)strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != ' ' || (end[1] != 'f' && end[1] != 'r') || end[2] != ' ')
		return -1;
	v->first = end[1] == 'f';
	v->name = strtok_r(end + 3, " ", &save);
	v->inherit = v->name != NULL ? strtok_r(NULL, " ", &save) : NULL;
	if (v->name == NULL || v->inherit == NULL)
		return -1;
	v->claims = save != NULL ? save : (char *)"";
	return 0;
}

static int
has_word(char *words, const char *word)
{
	size_t len = strlen(word);
	char *at = words;

	while ((at = strstr(at, word)) != NULL) {
		if ((at == words || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
			return 1;
		at += len;
	}
	return 0;
}

struct range {
	long long offset;
	size_t length;
};

/* One pass over the visit lines: the ranges of the selected names; names the selection
 * gains (a claimer, a base); *again when one of them may have a visit this pass missed.
 * 0, or -1 when the index is not whole or not ours. */
static int
pick_pass(FILE *in, long data_start, const struct url *want, const char *origin,
	  struct name_set *selected, struct name_set *variables, struct range **ranges,
	  size_t *range_count, size_t *range_cap, int *again)
{
	struct name_set by_endpoint = { 0 }; /* claim origin by their endpoint, if no urls */
	char default_origin[URL_HOST_MAX + 34];
	char *line = NULL;
	size_t cap = 0, visits = 0;
	ssize_t n;
	int added, whole = 0;

	snprintf(default_origin, sizeof(default_origin), "d:%s", origin);

	*again = 0;
	*range_count = 0;
	if (fseek(in, data_start, SEEK_SET) != 0)
		return -1;
	while ((n = getline(&line, &cap, in)) > 0) {
		struct visit v;
		int chosen;
		if (strncmp(line, "end ", 4) == 0) {
			whole = strtoull(line + 4, NULL, 10) == visits;
			break;
		}
		if (strncmp(line, "d ", 2) == 0) {
			line[strcspn(line, "\n")] = '\0';
			if (name_set_find(&by_endpoint, line + 2) != NAME_INDEX_NONE &&
			    name_set_find(selected, line + 2) == NAME_INDEX_NONE) {
				if (name_set_add(selected, line + 2, &added) == NAME_INDEX_NONE)
					goto fail;
				*again = 1; /* its visits went by */
			}
			continue;
		}
		if (split_visit(line, &v) != 0)
			break;
		visits++;
		if (variables != NULL) {
			char *save = NULL, *word;
			for (word = strtok_r(v.variables, " ", &save); word != NULL;
			     word = strtok_r(NULL, " ", &save)) {
				if (name_set_add(variables, word, &added) == NAME_INDEX_NONE)
					goto fail;
			}
		}
		chosen = name_set_find(selected, v.name) != NAME_INDEX_NONE;
		if (!chosen && want != NULL && has_word(v.claims, default_origin) &&
		    name_set_add(&by_endpoint, v.name, &added) == NAME_INDEX_NONE)
			goto fail;
		if (!chosen && want != NULL && has_word(v.claims, origin)) {
			if (name_set_add(selected, v.name, &added) == NAME_INDEX_NONE)
				goto fail;
			chosen = 1;
			*again |= !v.first; /* its earlier visits went by */
		}
		if (!chosen)
			continue;
		if (*range_count == *range_cap) {
			size_t grown_cap = *range_cap ? *range_cap * 2 : 16;
			struct range *grown = realloc(*ranges, grown_cap * sizeof(*grown));
			if (grown == NULL)
				goto fail;
			*ranges = grown;
			*range_cap = grown_cap;
		}
		(*ranges)[(*range_count)++] = (struct range){ v.offset, v.length };
		if (strcmp(v.inherit, "-") != 0 &&
		    name_set_find(selected, v.inherit) == NAME_INDEX_NONE) {
			if (name_set_add(selected, v.inherit, &added) == NAME_INDEX_NONE)
				goto fail;
			*again = 1; /* the base may come before */
		}
	}
	free(line);
	name_set_free(&by_endpoint);
	return whole ? 0 : -1;
fail:
	free(line);
	name_set_free(&by_endpoint);
	return -1;
}

/* The ranges' bytes from the config file, in order: each a section from its header. */
static char *
read_ranges(int fd, const struct stat *st, const struct range *ranges, size_t count)
{
	size_t i, total = 0, used = 0;
	char *text;

	for (i = 0; i < count; i++) {
		if (ranges[i].length > (size_t)st->st_size ||
		    ranges[i].offset > (long long)st->st_size - (long long)ranges[i].length)
			return NULL;
		total += ranges[i].length;
	}
	text = malloc(total + 1);
	if (text == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		const char *start;
		if (pread(fd, text + used, ranges[i].length, ranges[i].offset) !=
		    (ssize_t)ranges[i].length)
			goto fail;
		start = text + used;
		while (start < text + used + ranges[i].length && (*start == ' ' || *start == '\t'))
			start++;
		if (start == text + used + ranges[i].length || *start != '[')
			goto fail;
		used += ranges[i].length;
	}
	text[used] = '\0';
	if (strlen(text) != used) /* a NUL byte: the file is not what was indexed */
		goto fail;
	return text;
fail:
	free(text);
	return NULL;
}

int
config_index_pick(int fd, const struct stat *st, const char *only, const struct url *want,
		  struct config_index_pick *pick)
{
	struct name_set selected = { 0 };
	struct range *ranges = NULL;
	size_t range_count = 0, range_cap = 0, passes;
	char origin[URL_HOST_MAX + 32] = "";
	FILE *in = open_index(st);
	long data_start;
	int again, added, rc = 1;

	memset(pick, 0, sizeof(*pick));
	if (in == NULL)
		return 1;
	if (!index_is_current(in, st) || (data_start = ftell(in)) < 0)
		goto out;
	if (want != NULL)
		config_index_origin(want, origin, sizeof(origin));
	if (only != NULL && name_set_add(&selected, only, &added) == NAME_INDEX_NONE)
		goto out;
	/* A load for a URL keeps the built-in aspose whatever it claims, and its section's
	 * keys with it (config.c's section_profile): [profile aspose] with a client_id only
	 * changes what answers for its built-in urls. */
	if (want != NULL && name_set_add(&selected, "aspose", &added) == NAME_INDEX_NONE)
		goto out;
	/* every pass that gains a name that may have come before goes again; a chain of
	 * inherit lines gains one a pass, and loops were refused before the index was written */
	for (passes = 0;; passes++) {
		if (pick_pass(in, data_start, want, origin, &selected,
			      passes == 0 ? &pick->variables : NULL, &ranges, &range_count,
			      &range_cap, &again) != 0)
			goto out;
		if (!again)
			break;
		if (passes > selected.count + 1)
			goto out;
	}
	if (only != NULL && range_count == 0)
		goto out; /* not a section of the file: the full read says so */
	pick->text = read_ranges(fd, st, ranges, range_count);
	if (pick->text != NULL)
		rc = 0;
out:
	if (rc != 0)
		config_index_pick_free(pick);
	free(ranges);
	name_set_free(&selected);
	fclose(in);
	return rc;
}

void
config_index_pick_free(struct config_index_pick *pick)
{
	free(pick->text);
	name_set_free(&pick->variables);
	memset(pick, 0, sizeof(*pick));
}
