/* The Secret Service client, built as keybearer-keyring.so (keyring_module.h): every call
 * bounded by the profile's keyring_timeout, never D-Bus's own 25 s per call. Only this
 * module links libsecret and GLib; keybearer-fetch loads it when a keyring item is needed. */
#include "keyring_module.h"
#include "notice.h" /* NOTICE_AFTER_MS; the notice itself is keybearer-fetch's */

#include <libsecret/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* How long a cancelled call may take to notice before we stop waiting for it. */
#define KEYRING_GRACE_US (1000 * 1000)

/* Each credential is an item of its own schema: libsecret matches the schema's name too, so
 * a search for the secret never finds the key, nor the other way round. */
#define ITEM_ATTRIBUTES                                                                            \
	{                                                                                          \
		{ "profile", SECRET_SCHEMA_ATTRIBUTE_STRING },                                     \
			{ "token_url", SECRET_SCHEMA_ATTRIBUTE_STRING },                           \
			{ "client_id", SECRET_SCHEMA_ATTRIBUTE_STRING }, { NULL, 0 },              \
	}

static const struct {
	SecretSchema schema;
	const char *what;  /* in messages */
	const char *label; /* of the item, as a keyring manager lists it */
	const char *mime;
} item_kinds[] = {
	[CREDENTIAL_SECRET] = { { .name = KEYRING_SCHEMA,
				  .flags = SECRET_SCHEMA_NONE,
				  .attributes = ITEM_ATTRIBUTES },
				"secret",
				"",
				"text/plain" },
	/* key-based client authentication */
	[CREDENTIAL_PRIVATE_KEY] = { { .name = KEYRING_KEY_SCHEMA,
				       .flags = SECRET_SCHEMA_NONE,
				       .attributes = ITEM_ATTRIBUTES },
				     "private key",
				     " private key",
				     "application/x-pem-file" },
	/* mutual-TLS client authentication */
	[CREDENTIAL_CLIENT_KEY] = { { .name = KEYRING_CLIENT_KEY_SCHEMA,
				      .flags = SECRET_SCHEMA_NONE,
				      .attributes = ITEM_ATTRIBUTES },
				    "client key",
				    " client key",
				    "application/x-pem-file" },
};

/* One conversation with the Secret Service, under one deadline. */
struct keyring_call {
	const struct keyring_subject *p;
	enum credential_item item;
	const SecretSchema *schema;
	GCancellable *cancel;
	GSource *deadline; /* cancels the call when it fires */
	GSource *slow;	   /* says, once, that the call is taking long */
	int seconds;
	gint64 started;
	SecretService *service;
};

/* An async operation's result, once its callback has run. */
struct pending {
	GAsyncResult *result;
};

static void
on_ready(GObject *source, GAsyncResult *result, gpointer user)
{
	(void)source;
	((struct pending *)user)->result = g_object_ref(result);
}

static gboolean
cancel_call(gpointer cancel)
{
	g_cancellable_cancel(cancel);
	return G_SOURCE_REMOVE;
}

static gboolean
say_slow(gpointer user)
{
	const struct keyring_call *call = user;
	gint64 left = (gint64)call->seconds * 1000000 - (g_get_monotonic_time() - call->started);
	char what[512];

	snprintf(what, sizeof(what), "the Secret Service (profile %s; at most %lld s more)",
		 call->p->name, (long long)(left > 0 ? (left + 999999) / 1000000 : 0));
	call->p->notice(what);
	return G_SOURCE_REMOVE;
}

static void
drop_source(GSource **source)
{
	if (*source != NULL) {
		g_source_destroy(*source);
		g_source_unref(*source);
		*source = NULL;
	}
}

static void
deadline_start(struct keyring_call *call, int seconds)
{
	drop_source(&call->deadline);
	drop_source(&call->slow);
	call->seconds = seconds;
	call->started = g_get_monotonic_time();
	call->deadline = g_timeout_source_new((guint)seconds * 1000);
	g_source_set_callback(call->deadline, cancel_call, call->cancel, NULL);
	g_source_attach(call->deadline, NULL);
	call->slow = g_timeout_source_new(NOTICE_AFTER_MS);
	g_source_set_callback(call->slow, say_slow, call, NULL);
	g_source_attach(call->slow, NULL);
}

static void
call_begin(struct keyring_call *call, const struct keyring_subject *p)
{
	memset(call, 0, sizeof(*call));
	call->p = p;
	call->item = p->item;
	call->schema = &item_kinds[p->item].schema;
	call->cancel = g_cancellable_new();
	deadline_start(call, p->timeout_seconds);
}

static void
call_end(struct keyring_call *call)
{
	drop_source(&call->deadline);
	drop_source(&call->slow);
	g_clear_object(&call->service);
	g_clear_object(&call->cancel);
}

static int
timed_out(const struct keyring_call *call, struct error *err)
{
	return error_set(err, KB_EXIT_TRANSIENT,
			 "the Secret Service did not answer within %d s (profile %s) — is the "
			 "keyring daemon stuck? restart it, or raise keyring_timeout",
			 call->seconds, call->p->name);
}

/* Runs the main loop until the pending operation finishes or the deadline has cancelled
 * it; a call that ignores its cancellation is abandoned after a short grace. */
static int
await(struct keyring_call *call, struct pending *pending, struct error *err)
{
	gint64 give_up = 0;

	while (pending->result == NULL) {
		if (!g_cancellable_is_cancelled(call->cancel)) {
			g_main_context_iteration(NULL, TRUE);
			continue;
		}
		if (give_up == 0)
			give_up = g_get_monotonic_time() + KEYRING_GRACE_US;
		if (g_get_monotonic_time() >= give_up)
			return timed_out(call, err);
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(10 * 1000);
	}
	return 0;
}

static int
service_failed(const struct keyring_call *call, const GError *gerr, const char *doing,
	       struct error *err)
{
	if (g_cancellable_is_cancelled(call->cancel))
		return timed_out(call, err);
	return error_set(err, KB_EXIT_TRANSIENT,
			 "%s for profile %s failed: %s — check that your keyring (GNOME Keyring, "
			 "KWallet, KeePassXC) is running",
			 doing, call->p->name, gerr != NULL ? gerr->message : "unknown error");
}

static int
no_service(const struct keyring_subject *p, const char *why, struct error *err)
{
	return error_set(
		err, KB_EXIT_CONFIG,
		"no Secret Service available for profile %s (%s) — for headless use, set "
		"secret = file:PATH, env:NAME or command:CMD in [profile %s], or use the "
		"env profile (KEYBEARER_TOKEN_URL, KEYBEARER_CLIENT_ID, KEYBEARER_CLIENT_SECRET)",
		p->name, why, p->name);
}

/* Without a session bus address GLib would try to autolaunch one through X11; a helper
 * in CI or over SSH must fail at once instead. $XDG_RUNTIME_DIR/bus is the systemd user
 * bus, which GLib would use anyway. */
static int
session_bus_check(const struct keyring_subject *p, struct error *err)
{
	const char *address = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	char path[4200], *escaped, *value;
	struct stat st;

	if (address != NULL && *address != '\0')
		return 0;
	if (runtime != NULL && *runtime == '/') {
		snprintf(path, sizeof(path), "%s/bus", runtime);
		if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
			escaped = g_dbus_address_escape_value(path);
			value = g_strconcat("unix:path=", escaped, NULL);
			setenv("DBUS_SESSION_BUS_ADDRESS", value, 1);
			g_free(value);
			g_free(escaped);
			return 0;
		}
	}
	return no_service(p, "no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set", err);
}

static int
service_connect(struct keyring_call *call, SecretServiceFlags flags, struct error *err)
{
	struct pending pending = { NULL };
	GError *gerr = NULL;
	int rc = -1;

	if (session_bus_check(call->p, err) != 0)
		return -1;
	secret_service_get(flags, call->cancel, on_ready, &pending);
	if (await(call, &pending, err) != 0)
		goto out;
	call->service = secret_service_get_finish(pending.result, &gerr);
	if (call->service != NULL)
		rc = 0;
	else if (g_cancellable_is_cancelled(call->cancel))
		timed_out(call, err);
	else
		no_service(call->p, gerr != NULL ? gerr->message : "unknown error", err);
out:
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	return rc;
}

static GHashTable *
item_attributes(const struct keyring_call *call)
{
	const struct keyring_subject *p = call->p;

	/* one client, many APIs: a profile that inherits uses its base's item */
	return secret_attributes_build(call->schema, "profile", p->item_profile, "token_url",
				       p->token_url, "client_id", p->client_id, NULL);
}

static int
search(struct keyring_call *call, GHashTable *attributes, SecretSearchFlags flags, GList **items,
       struct error *err)
{
	struct pending pending = { NULL };
	GError *gerr = NULL;
	int rc = -1;

	*items = NULL;
	secret_service_search(call->service, call->schema, attributes, flags, call->cancel,
			      on_ready, &pending);
	if (await(call, &pending, err) != 0)
		goto out;
	*items = secret_service_search_finish(call->service, pending.result, &gerr);
	if (gerr != NULL)
		service_failed(call, gerr, "searching the keyring", err);
	else
		rc = 0;
out:
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	return rc;
}

static int
has_display(void)
{
	const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");

	return (x11 != NULL && *x11 != '\0') || (wayland != NULL && *wayland != '\0');
}

static int
locked_headless(const struct keyring_subject *p, struct error *err)
{
	return error_set(err, KB_EXIT_CONFIG,
			 "the keyring holding the secret of profile %s is locked and there is no "
			 "display to ask for its password — unlock it (log in to the desktop, or "
			 "gnome-keyring-daemon --unlock), or use secret = file:, env: or command: "
			 "for headless use",
			 p->name);
}

/* Asks the service to unlock objects with its own prompt; the deadline allows for a
 * person typing a password. */
static int
unlock(struct keyring_call *call, GList *objects, struct error *err)
{
	struct pending pending = { NULL };
	GError *gerr = NULL;
	char what[512];
	int rc = -1;

	if (!has_display())
		return locked_headless(call->p, err);
	deadline_start(call, call->p->prompt_timeout_seconds);
	/* a person is asked: that wait is long from the start */
	snprintf(what, sizeof(what), "the keyring's unlock prompt (profile %s; at most %d s)",
		 call->p->name, call->p->prompt_timeout_seconds);
	call->p->notice(what);
	secret_service_unlock(call->service, objects, call->cancel, on_ready, &pending);
	if (await(call, &pending, err) != 0)
		goto out;
	if (secret_service_unlock_finish(call->service, pending.result, NULL, &gerr) > 0)
		rc = 0;
	else if (gerr != NULL)
		service_failed(call, gerr, "unlocking the keyring", err);
	else
		error_set(err, KB_EXIT_CONFIG,
			  "the keyring holding the secret of profile %s stayed locked (the unlock "
			  "prompt was dismissed) — unlock it and try again",
			  call->p->name);
out:
	deadline_start(call, call->p->timeout_seconds);
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	return rc;
}

static int
load_secret(struct keyring_call *call, SecretItem *item, struct error *err)
{
	struct pending pending = { NULL };
	GError *gerr = NULL;
	int rc = -1;

	secret_item_load_secret(item, call->cancel, on_ready, &pending);
	if (await(call, &pending, err) != 0)
		goto out;
	if (secret_item_load_secret_finish(item, pending.result, &gerr))
		rc = 0;
	else
		service_failed(call, gerr, "reading the keyring", err);
out:
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	return rc;
}

static int
missing(const struct keyring_call *call, struct error *err)
{
	const char *name = call->p->name;

	if (call->item == CREDENTIAL_CLIENT_KEY)
		return error_set(err, KB_EXIT_CONFIG,
				 "no client key stored for profile %s — run keybearer login "
				 "--client-key FILE --profile %s, or set client_key = file:/path",
				 name, name);
	if (call->item == CREDENTIAL_PRIVATE_KEY)
		return error_set(err, KB_EXIT_CONFIG,
				 "no private key stored for profile %s — run keybearer keygen "
				 "--profile %s, or keybearer login --private-key FILE --profile %s",
				 name, name, name);
	return error_set(err, KB_EXIT_CONFIG,
			 "no secret stored for profile %s — run keybearer login --profile %s", name,
			 name);
}

static int
module_lookup(const struct keyring_subject *p, keyring_take_fn take, void *ctx, struct error *err)
{
	struct keyring_call call;
	GHashTable *attributes;
	GList *found = NULL;
	SecretItem *item;
	SecretValue *value = NULL;
	const gchar *bytes;
	gsize len;
	int rc = -1;

	call_begin(&call, p);
	attributes = item_attributes(&call);
	/* Search without unlocking: a locked item comes back without its secret, which
	 * tells "locked" from "missing" (a plain lookup cannot). */
	if (service_connect(&call, SECRET_SERVICE_OPEN_SESSION, err) != 0 ||
	    search(&call, attributes, SECRET_SEARCH_ALL | SECRET_SEARCH_LOAD_SECRETS, &found,
		   err) != 0)
		goto out;
	if (found == NULL) {
		missing(&call, err);
		goto out;
	}
	item = found->data;
	if (secret_item_get_locked(item) &&
	    (unlock(&call, found, err) != 0 || load_secret(&call, item, err) != 0))
		goto out;
	value = secret_item_get_secret(item);
	if (value == NULL && load_secret(&call, item, err) == 0)
		value = secret_item_get_secret(item);
	if (value == NULL) {
		if (err->code == KB_EXIT_OK)
			service_failed(&call, NULL, "reading the keyring", err);
		goto out;
	}
	bytes = secret_value_get(value, &len);
	rc = take(ctx, bytes, len, err);
out:
	if (value != NULL)
		secret_value_unref(value);
	g_list_free_full(found, g_object_unref);
	g_hash_table_unref(attributes);
	call_end(&call);
	return rc;
}

static int
default_collection_unlocked(struct keyring_call *call, struct error *err)
{
	struct pending pending = { NULL };
	SecretCollection *collection = NULL;
	GError *gerr = NULL;
	GList *objects;
	int rc = -1;

	secret_collection_for_alias(call->service, SECRET_COLLECTION_DEFAULT,
				    SECRET_COLLECTION_NONE, call->cancel, on_ready, &pending);
	if (await(call, &pending, err) != 0)
		goto out;
	collection = secret_collection_for_alias_finish(pending.result, &gerr);
	if (gerr != NULL) {
		service_failed(call, gerr, "opening the default keyring", err);
		goto out;
	}
	if (collection == NULL || !secret_collection_get_locked(collection)) {
		rc = 0; /* none yet: the service makes one when we store */
		goto out;
	}
	objects = g_list_append(NULL, collection);
	rc = unlock(call, objects, err);
	g_list_free(objects);
out:
	g_clear_object(&collection);
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	return rc;
}

static int
clear_items(struct keyring_call *call, int *removed, struct error *err)
{
	/* Only this profile's item for this token endpoint and client: another config file
	 * may have a profile of the same name. */
	GHashTable *attributes = call->p->token_url != NULL && call->p->client_id != NULL
					 ? item_attributes(call)
					 : secret_attributes_build(call->schema, "profile",
								   call->p->item_profile, NULL);
	struct pending pending = { NULL };
	GError *gerr = NULL;
	int rc = -1;

	*removed = 0;
	secret_service_clear(call->service, call->schema, attributes, call->cancel, on_ready,
			     &pending);
	if (await(call, &pending, err) != 0)
		goto out;
	*removed = secret_service_clear_finish(call->service, pending.result, &gerr);
	if (gerr != NULL)
		service_failed(call, gerr,
			       call->item == CREDENTIAL_SECRET
				       ? "removing the old secret from the keyring"
				       : "removing the old private key from the keyring",
			       err);
	else
		rc = 0;
out:
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	g_hash_table_unref(attributes);
	return rc;
}

static int
module_store(const struct keyring_subject *p, const char *secret, struct error *err)
{
	enum credential_item item = p->item;
	struct keyring_call call;
	struct pending pending = { NULL };
	GHashTable *attributes;
	SecretValue *value = secret_value_new(secret, -1, item_kinds[item].mime);
	GError *gerr = NULL;
	char *label = g_strdup_printf("keybearer%s: %s (%s)", item_kinds[item].label, p->name,
				      p->client_id);
	int rc = -1;

	call_begin(&call, p);
	attributes = item_attributes(&call);
	/* Rotation: the service replaces an item with the same attributes, so the old secret
	 * stays until the new one is safely stored. */
	if (service_connect(&call, SECRET_SERVICE_OPEN_SESSION, err) != 0 ||
	    default_collection_unlocked(&call, err) != 0)
		goto out;
	secret_service_store(call.service, call.schema, attributes, SECRET_COLLECTION_DEFAULT,
			     label, value, call.cancel, on_ready, &pending);
	if (await(&call, &pending, err) != 0)
		goto out;
	if (secret_service_store_finish(call.service, pending.result, &gerr))
		rc = 0;
	else
		service_failed(&call, gerr,
			       item == CREDENTIAL_SECRET ? "storing the secret in the keyring"
							 : "storing the private key in the keyring",
			       err);
out:
	g_clear_error(&gerr);
	g_clear_object(&pending.result);
	g_free(label);
	secret_value_unref(value);
	g_hash_table_unref(attributes);
	call_end(&call);
	return rc;
}

static int
module_clear(const struct keyring_subject *p, int *removed, struct error *err)
{
	struct keyring_call call;
	int rc;

	call_begin(&call, p);
	rc = service_connect(&call, SECRET_SERVICE_NONE, err);
	if (rc == 0)
		rc = default_collection_unlocked(&call, err);
	if (rc == 0)
		rc = clear_items(&call, removed, err);
	call_end(&call);
	return rc;
}

static int
module_probe(const struct keyring_subject *p, enum keyring_state *state, struct error *err)
{
	struct keyring_call call;
	GHashTable *attributes;
	GList *found = NULL, *item;
	int rc = -1;

	call_begin(&call, p);
	attributes = item_attributes(&call);
	if (service_connect(&call, SECRET_SERVICE_NONE, err) != 0 ||
	    search(&call, attributes, SECRET_SEARCH_ALL, &found, err) != 0)
		goto out;
	*state = found == NULL ? KEYRING_MISSING : KEYRING_LOCKED;
	for (item = found; item != NULL; item = item->next) {
		if (!secret_item_get_locked(item->data))
			*state = KEYRING_STORED;
	}
	rc = 0;
out:
	g_list_free_full(found, g_object_unref);
	g_hash_table_unref(attributes);
	call_end(&call);
	return rc;
}

/* The module's one symbol (KEYRING_MODULE_SYMBOL): everything else stays inside. */
__attribute__((visibility("default"))) const struct keyring_module keybearer_keyring_module = {
	.abi = KEYRING_MODULE_ABI,
	.version = KEYBEARER_VERSION,
	.lookup = module_lookup,
	.store = module_store,
	.clear = module_clear,
	.probe = module_probe,
};
