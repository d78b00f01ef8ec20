/* The index of a config file: where the bytes of each [profile NAME] section are, what its
 * urls (or its token endpoint) may claim, and the env:NAME variables it reads. Written beside
 * the token cache by a load that has checked the whole file, it lets a cached get or a host
 * tool's call read its few sections instead of ten thousand. */
#ifndef KEYBEARER_CONFIG_INDEX_H
#define KEYBEARER_CONFIG_INDEX_H

#include <stdio.h>
#include <sys/stat.h>

#include "nameindex.h"
#include "url.h"

struct config_index_writer {
	FILE *out;
	int dirfd;
	char name[64];	   /* config-<32 hex digits of a SHA-256 of its device and inode>.index */
	char tmp_name[96]; /* the file being written, renamed to name once whole */
	size_t visits;
	struct stat file; /* the config file as it was opened: it must be so still at commit */
};

/* Starts the index of the config file whose fstat is st when it needs one: none is
 * current, the file had not changed for a while when the clock read before_open (taken
 * before the file was opened), and the cache directory is there or can be made. 0 with w
 * open, or -1: no index is written (never an error for the load). */
int config_index_writer_open(struct config_index_writer *w, const struct stat *st,
			     const struct timespec *before_open);

/* One visit of a section: length bytes at offset, from its header line on. first: the
 * first visit of that name in the file. claims: " ORIGIN ..." (scheme://host:port) of its
 * urls, " d:ORIGIN" of its token endpoint; variables: " NAME ..." of its env: sources. */
void config_index_writer_visit(struct config_index_writer *w, long long offset, size_t length,
			       const char *name, int first, const char *inherit, const char *claims,
			       const char *variables);

/* A section with neither urls nor inherit: its "d:" claims (its endpoint's) hold. */
void config_index_writer_default_claimer(struct config_index_writer *w, const char *name);

/* Makes the index the current one (renamed into place whole) when the config file, open
 * as config_fd, is still the one it was opened as; drops it otherwise. */
void config_index_writer_commit(struct config_index_writer *w, int config_fd);
void config_index_writer_abort(struct config_index_writer *w);

/* What a current index picks from the file for a load that keeps one profile (only) or the
 * profiles that may claim a URL of want's origin: their sections' text with those of the
 * bases they inherit from, in file order, and every env:NAME of the file. */
struct config_index_pick {
	char *text;
	struct name_set variables;
};

/* 0 with pick filled from the open config file (fd, st); 1 when there is no current index
 * for it, or it does not know only: the caller reads the file. */
int config_index_pick(int fd, const struct stat *st, const char *only, const struct url *want,
		      struct config_index_pick *pick);
void config_index_pick_free(struct config_index_pick *pick);

/* "scheme://host:port" of u, as claims are written. */
void config_index_origin(const struct url *u, char *out, size_t size);

#endif
