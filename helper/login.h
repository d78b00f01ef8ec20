/* keybearer-fetch's keyring commands: login (store, with rotation), logout, and the
 * keyring-status probe `keybearer status` asks for. */
#ifndef KEYBEARER_LOGIN_H
#define KEYBEARER_LOGIN_H

#include "error.h"

int login_run(int argc, char **argv, struct error *err);
int login_logout(int argc, char **argv, struct error *err);
int login_keyring_status(int argc, char **argv, struct error *err);

#endif
