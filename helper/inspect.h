/* keybearer inspect [--profile P | -] [--verify [--audience AUD]] */
#ifndef KEYBEARER_INSPECT_H
#define KEYBEARER_INSPECT_H

#include "error.h"

/* argv[0] is "inspect"; 1 asks for the command's help. */
int inspect_run(int argc, char **argv, struct error *err);

#endif
