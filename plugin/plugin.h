/* Host-tool credential protocols (git, Bazel, kubectl, cargo, Terraform, ...): one file per
 * tool in plugin/, one row per tool in the table keybearer's main.c dispatches on. Each
 * plugin reads its tool's request, picks the profile whose urls claim the URL asked about,
 * asks obtain_token() for a token, and writes its tool's answer — read, act, write.
 *
 * The table is empty until the plugins land (see the issue "Plugins: one profile, every host
 * tool's credential protocol"). */
#ifndef KEYBEARER_PLUGIN_H
#define KEYBEARER_PLUGIN_H

#include "error.h"

struct plugin {
	const char *name;    /* the keybearer subcommand: "git", "bazel", ... */
	const char *summary; /* one line for keybearer --help */
	int (*run)(int argc, char **argv, struct error *err);
};

#endif
