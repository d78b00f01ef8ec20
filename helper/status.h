/* keybearer status [--profile P] [--json] */
#ifndef KEYBEARER_STATUS_H
#define KEYBEARER_STATUS_H

#include "error.h"

/* argv[0] is "status"; 1 asks for the command's help. */
int status_run(int argc, char **argv, struct error *err);

#endif
