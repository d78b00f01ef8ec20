/* keybearer-fetch verify: checks a token keybearer inspect --verify hands over on stdin
 * against the profile's issuer: the signature with its JWKS (jwks_url, or the issuer's
 * jwks_uri), then expiry, issuer and audience. Prints one "verified: ..." line, or fails
 * with exit 77 and the reason. */
#ifndef KEYBEARER_VERIFY_H
#define KEYBEARER_VERIFY_H

#include "error.h"

int verify_run(int argc, char **argv, struct error *err);

#endif
