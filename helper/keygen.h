/* keybearer-fetch's key commands: keygen (a new key pair, the private half kept, the public
 * half printed to register), login --private-key (an existing key kept) and key-status
 * (status's view of the key: its type and kid, never the key). */
#ifndef KEYBEARER_KEYGEN_H
#define KEYBEARER_KEYGEN_H

#include "config.h"
#include "error.h"

int keygen_run(int argc, char **argv, struct error *err);

/* Stores the private key of path ("-": stdin) for p, after reading it as a private key;
 * says its kid and type on stderr. */
int keygen_store_existing(const struct profile *p, const char *path, struct error *err);

/* mutual-TLS client authentication: stores the PEM key of path ("-": stdin) as p's
 * client_key = keyring item, once it is known to be the key of p's client_cert. */
int keygen_store_client_key(const struct profile *p, const char *path, struct error *err);

int keygen_key_status(int argc, char **argv, struct error *err);

#endif
