/* client-go's exec credential plugin (client.authentication.k8s.io/v1 and v1beta1): the
 * ExecCredential request comes in KUBERNETES_EXEC_INFO, the answer goes to stdout. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "strictjson.h"

static const char *const api_versions[] = {
	"client.authentication.k8s.io/v1",
	"client.authentication.k8s.io/v1beta1",
};

int
kubectl_parse_exec_info(const char *info, const char **api_version, char **server,
			struct error *err)
{
	struct json_object *request, *spec, *cluster, *member;
	const char *version, *url;
	size_t i;
	int rc = -1;

	*api_version = api_versions[0];
	*server = NULL;
	if (info == NULL || *info == '\0')
		return 0; /* an old client: v1's shape is v1beta1's */
	request = strictjson_parse(info, strlen(info));
	version = request != NULL && json_object_is_type(request, json_type_object)
			  ? strictjson_get_string(request, "apiVersion")
			  : NULL;
	for (i = 0; version != NULL && i < sizeof(api_versions) / sizeof(api_versions[0]); i++) {
		if (strcmp(version, api_versions[i]) == 0) {
			*api_version = api_versions[i];
			rc = 0;
		}
	}
	if (rc != 0) {
		error_set(err, KB_EXIT_DATA,
			  "KUBERNETES_EXEC_INFO is not an ExecCredential of %s or %s — set the "
			  "kubeconfig's exec apiVersion to one of them",
			  api_versions[0], api_versions[1]);
	} else if (json_object_object_get_ex(request, "spec", &spec) &&
		   json_object_object_get_ex(spec, "cluster", &cluster) &&
		   json_object_object_get_ex(cluster, "server", &member)) {
		/* a server that is there but unreadable is not "no cluster info": the token
		 * would go to a cluster nobody checked */
		url = strictjson_string(member);
		if (url == NULL)
			rc = error_set(err, KB_EXIT_DATA,
				       "KUBERNETES_EXEC_INFO's spec.cluster.server is not a string "
				       "free of NUL bytes — check the cluster's server in the "
				       "kubeconfig");
		else if ((*server = strdup(url)) == NULL)
			rc = error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	}
	json_object_put(request);
	return rc;
}

static char *
render_credential(const char *api_version, const struct cache_record *rec)
{
	struct json_object *answer = json_object_new_object(), *status = json_object_new_object();
	char expires[32], *text = NULL;

	output_rfc3339(rec->expires_at, expires, sizeof(expires));
	json_object_object_add(answer, "apiVersion", json_object_new_string(api_version));
	json_object_object_add(answer, "kind", json_object_new_string("ExecCredential"));
	json_object_object_add(status, "token", json_object_new_string(rec->access_token));
	json_object_object_add(status, "expirationTimestamp", json_object_new_string(expires));
	json_object_object_add(answer, "status", status);
	text = output_json_line(answer);
	json_object_put(answer);
	return text;
}

int
plugin_kubectl(int argc, char **argv, struct error *err)
{
	const char *profile_flag = NULL, *api_version;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	char *server = NULL, *text;
	int rc = -1, found;

	if (argc == 3 && strcmp(argv[1], "--profile") == 0)
		profile_flag = argv[2];
	else if (argc != 1)
		return error_set(err, KB_EXIT_USAGE,
				 "kubectl plugin arguments: expected [--profile "
				 "P] — see keybearer kubectl --help");
	if (kubectl_parse_exec_info(getenv("KUBERNETES_EXEC_INFO"), &api_version, &server, err) !=
	    0)
		return -1;
	/* only what answers: the profile named, else those that may claim the server */
	if ((profile_flag != NULL ? config_load_selected(&cfg, profile_flag, err)
	     : server != NULL	  ? config_load_for_url(&cfg, server, err)
				  : config_load(&cfg, err)) != 0)
		goto out;
	/* With provideClusterInfo the server is known, and must be one the profile claims. */
	found = server != NULL ? plugin_token_for_url(&cfg, server, profile_flag, &p, &rec, err)
			       : plugin_token_for_profile(&cfg, profile_flag, &p, &rec, err);
	if (found == 1) {
		char why[ERROR_MESSAGE_MAX];
		config_explain_unclaimed(&cfg, profile_flag != NULL ? p : NULL, server, NULL, why,
					 sizeof(why));
		error_set(err, KB_EXIT_CONFIG, "%s", why);
	} else if (found == 0) {
		text = render_credential(api_version, &rec);
		rc = output_answer(text, err);
		safefile_free_string(text);
	}
	cache_record_free(&rec);
	config_free(&cfg);
out:
	free(server);
	return rc;
}
