/* What the config files share among themselves and no one else: config.c reads the file,
 * config_preset.c adds the built-in and env profiles, config_claims.c holds the URL-claim
 * rules, config_select.c picks a profile, config_environ.c knows the secret variables. */
#ifndef KEYBEARER_CONFIG_INTERNAL_H
#define KEYBEARER_CONFIG_INTERNAL_H

#include "config.h"
#include "url.h"

#define ENV_PROFILE_NAME    "env"
#define ENV_SECRET_VARIABLE "KEYBEARER_CLIENT_SECRET"

/* config.c: a profile with the defaults, no name check (the presets' names are ours). */
struct profile *config_profile_add(struct config *cfg, const char *name, struct error *err);
int config_replace_string(char **field, const char *value, struct error *err);
int config_profile_add_url(struct profile *p, const char *url, struct error *err);
/* The bit of the key named in set_keys masks. */
unsigned long long config_key_bit(const char *key);

/* config_preset.c */
int config_add_builtin_profiles(struct config *cfg, struct error *err);
int config_add_env_profile(struct config *cfg, struct error *err);

/* config_claims.c: a profile without urls claims its token endpoint's origin. */
int config_apply_default_urls(struct config *cfg, struct error *err);
/* Whether p may claim a URL of want's origin: an urls entry on it, or, with no urls and no
 * inherit, its endpoint's origin. What a URL-filtered load keeps. */
int config_profile_may_claim(const struct profile *p, const struct url *want);
/* The one profile of the file, or NULL. */
const struct profile *config_only_file_profile(const struct config *cfg);

#endif
