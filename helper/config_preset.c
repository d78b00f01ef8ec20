/* Built-in presets (aspose) and the "env" profile the KEYBEARER_* variables describe. */
#include "config.h"
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "url.h"

/* The variables that describe the "env" profile, so CI needs no file. They touch no other
 * profile: a variable exported for one service must not redirect another's secret. */
static const struct {
	const char *variable;
	const char *key;
	int names_client; /* set alone, it makes the env profile exist */
} env_profile_variables[] = {
	{ "KEYBEARER_TOKEN_URL", "token_url", 1 }, { "KEYBEARER_ISSUER", "issuer", 1 },
	{ "KEYBEARER_CLIENT_ID", "client_id", 1 }, { "KEYBEARER_SCOPE", "scope", 0 },
	{ "KEYBEARER_CA_FILE", "ca_file", 0 },
};

#define ENV_VARIABLE_COUNT  (sizeof(env_profile_variables) / sizeof(env_profile_variables[0]))
#define ENV_PRESET_VARIABLE "KEYBEARER_PRESET"
#define ASPOSE_TOKEN_URL    "https://api.aspose.cloud/connect/token"
#define ASPOSE_API_URL	    "https://api.aspose.cloud/"

/* Aspose Cloud's token endpoint and API: the built-in aspose profile, and the env profile
 * with KEYBEARER_PRESET=aspose. */
static int
apply_aspose_preset(struct profile *p, struct error *err)
{
	if (config_replace_string(&p->token_url, ASPOSE_TOKEN_URL, err) != 0)
		return -1;
	return config_profile_add_url(p, ASPOSE_API_URL, err);
}

int
config_add_builtin_profiles(struct config *cfg, struct error *err)
{
	struct profile *aspose;

	if (config_find(cfg, "aspose") != NULL)
		return 0;
	aspose = config_profile_add(cfg, "aspose", err);
	if (aspose == NULL)
		return -1;
	/* the preset gives them, as a file would: a profile that inherits aspose says so */
	aspose->set_keys = config_key_bit("token_url") | config_key_bit("urls");
	return apply_aspose_preset(aspose, err);
}

static const char *
getenv_nonempty(const char *name)
{
	const char *value = getenv(name);

	return value != NULL && *value != '\0' ? value : NULL;
}

/* Any KEYBEARER_* variable that describes a client makes the "env" profile exist, its secret
 * from KEYBEARER_CLIENT_SECRET. No endpoint is implied: an exported secret goes to the
 * endpoint the variables name (KEYBEARER_TOKEN_URL, KEYBEARER_ISSUER), or to Aspose's only
 * when KEYBEARER_PRESET=aspose says so; else config_check_mintable refuses to mint. */
int
config_add_env_profile(struct config *cfg, struct error *err)
{
	const char *preset = getenv_nonempty(ENV_PRESET_VARIABLE);
	struct profile *p;
	int wanted = preset != NULL;
	size_t i;

	for (i = 0; i < ENV_VARIABLE_COUNT; i++) {
		if (env_profile_variables[i].names_client &&
		    getenv_nonempty(env_profile_variables[i].variable) != NULL)
			wanted = 1;
	}
	if (!wanted)
		return 0;
	p = config_profile_add(cfg, ENV_PROFILE_NAME, err);
	if (p == NULL || config_replace_string(&p->secret_arg, ENV_SECRET_VARIABLE, err) != 0)
		return -1;
	p->secret_kind = SECRET_ENV;
	if (preset != NULL && strcmp(preset, "aspose") != 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s: unknown preset \"%.64s\" — the only preset is aspose (Aspose "
				 "Cloud); for another provider set KEYBEARER_TOKEN_URL instead",
				 ENV_PRESET_VARIABLE, preset);
	if (preset != NULL && apply_aspose_preset(p, err) != 0)
		return -1;
	for (i = 0; i < ENV_VARIABLE_COUNT; i++) {
		const char *value = getenv_nonempty(env_profile_variables[i].variable);
		if (value != NULL && config_set_key(p, env_profile_variables[i].key, value,
						    env_profile_variables[i].variable, err) != 0)
			return -1;
	}
	return 0;
}
