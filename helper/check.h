/* keybearer check [--profile P], the doctor: check.c is keybearer's half (config file,
 * profile, endpoint, cache directory), check_fetch.c keybearer-fetch's (lock, discovery,
 * secret, one mint that bypasses the cache, the cache write, the token's claims). */
#ifndef KEYBEARER_CHECK_H
#define KEYBEARER_CHECK_H

#include "error.h"

/* keybearer check: argv[0] is "check"; 1 asks for the command's help. Returns only when a
 * step failed before keybearer-fetch took over. */
int check_run(int argc, char **argv, struct error *err);

/* keybearer-fetch check --profile NAME: argv[1] is "check". */
int check_fetch_run(int argc, char **argv, struct error *err);

#endif
