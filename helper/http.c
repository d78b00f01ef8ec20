#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "assertion.h"
#include "monotonic.h"
#include "notice.h"
#include "safefile.h"
#include "secret.h"
#include "url.h"

struct ca_bundle {
	char *pem;
	size_t len;
};

/* What the progress callback needs to say, once, that an answer is slow in coming. */
struct slow_answer {
	const struct http_target *target;
	long long started, deadline; /* monotonic ms */
};

/* libcurl calls this often while it waits; after about a second it is said once. */
static int
say_when_slow(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
	      curl_off_t ulnow)
{
	const struct slow_answer *slow = user;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (notice_due(NOTICE_ENDPOINT, slow->started))
		notice_say(NOTICE_ENDPOINT, "%s %s to answer (at most %lld s more)",
			   slow->target->what, slow->target->url,
			   (slow->deadline - monotonic_ms() + 999) / 1000);
	return 0;
}

struct body_buffer {
	char *data;
	size_t len;
	int overflowed;
};

static size_t
collect_body(char *chunk, size_t size, size_t count, void *user)
{
	struct body_buffer *buf = user;
	size_t n = size * count;

	if (buf->len + n > HTTP_REPLY_MAX) {
		buf->overflowed = 1;
		return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
	}
	memcpy(buf->data + buf->len, chunk, n);
	buf->len += n;
	return n;
}

static char *
header_copy(CURL *curl, const char *name)
{
	struct curl_header *h;

	if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return NULL;
	return strdup(h->value);
}

static long long
server_date(CURL *curl)
{
	struct curl_header *h;
	time_t when;

	if (curl_easy_header(curl, "Date", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return 0;
	when = curl_getdate(h->value, NULL);
	return when > 0 ? (long long)when : 0;
}

/* mutual-TLS client authentication: the TLS alerts a server sends when it will not take
 * our certificate (RFC 8446 section 6.2; OpenSSL's names for them). With TLS 1.3 they
 * come after the handshake seemed done, as the first read fails. */
static int
refused_certificate(CURLcode code, const char *why)
{
	static const char *const alerts[] = {
		"alert bad certificate",
		"alert certificate required",
		"alert unknown ca",
		"alert certificate unknown",
		"alert unsupported certificate",
		"alert certificate revoked",
		"alert certificate expired",
		"alert access denied",
		"alert handshake failure",
		"alert decrypt error",
	};
	size_t i;

	if (code != CURLE_SSL_CONNECT_ERROR && code != CURLE_RECV_ERROR && code != CURLE_SEND_ERROR)
		return 0;
	for (i = 0; i < sizeof(alerts) / sizeof(alerts[0]); i++) {
		if (strstr(why, alerts[i]) != NULL)
			return 1;
	}
	return 0;
}

static int
transport_error(CURLcode code, const char *detail, const struct redaction *redaction,
		const struct profile *p, const struct http_target *t,
		const struct body_buffer *body, struct error *err)
{
	const char *raw = detail[0] != '\0' ? detail : curl_easy_strerror(code);
	char why[CURL_ERROR_SIZE];

	/* libcurl's words may quote what the server sent after it read the request */
	if (redaction != NULL)
		token_excerpt(raw, strlen(raw), redaction, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", raw);
	if (t->mtls != NULL && refused_certificate(code, why))
		return error_set(err, KB_EXIT_REJECTED,
				 "%s %s refused the client certificate of profile %s (%s): %s — "
				 "check that client_cert is the one registered for client_id and "
				 "issued by a CA the server trusts",
				 t->what, t->url, p->name, config_auth_method_name(p->auth_method),
				 why);

	switch (code) {
	case CURLE_OPERATION_TIMEDOUT:
		return error_set(err, KB_EXIT_TRANSIENT,
				 "%s %s did not answer in time: %s — try again later, "
				 "or raise timeout (now %d s) in the profile",
				 t->what, t->url, why, p->timeout);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return error_set(err, KB_EXIT_CONFIG,
				 "TLS certificate of %s %s could not be verified: %s — "
				 "if it uses a private CA, set ca_file in the profile",
				 t->what, t->url, why);
	case CURLE_FILESIZE_EXCEEDED:
		return error_set(err, KB_EXIT_PROTOCOL,
				 "%s %s sent a reply larger than %d bytes — check "
				 "%s",
				 t->what, t->url, HTTP_REPLY_MAX, t->key);
	case CURLE_WRITE_ERROR:
		if (body->overflowed)
			return transport_error(CURLE_FILESIZE_EXCEEDED, "", redaction, p, t, body,
					       err);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return error_set(err, KB_EXIT_CONFIG, "%s %s cannot be used: %s — fix it", t->key,
				 t->url, why);
	default:
		break;
	}
	return error_set(err, KB_EXIT_TRANSIENT,
			 "cannot reach %s %s: %s — check the network, proxy settings "
			 "and %s",
			 t->what, t->url, why, t->key);
}

static struct curl_slist *
request_headers(const struct token_request *req)
{
	static const char *const fixed[] = {
		"Accept: application/json",
		"Expect:", /* no 100-continue round trip */
		"Content-Type: application/x-www-form-urlencoded",
	};
	/* a GET has no body, so no Content-Type */
	size_t i, count = sizeof(fixed) / sizeof(fixed[0]) - (req == NULL || req->body == NULL);
	struct curl_slist *list = NULL, *next;

	for (i = 0; i < count; i++) {
		next = curl_slist_append(list, fixed[i]);
		if (next == NULL)
			goto fail;
		list = next;
	}
	if (req != NULL && req->authorization != NULL) {
		next = curl_slist_append(list, req->authorization);
		if (next == NULL)
			goto fail;
		list = next;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

/* Wipes the copy of the Basic header curl_slist_append made, then frees the list. */
static void
request_headers_free(struct curl_slist *list)
{
	struct curl_slist *item;

	for (item = list; item != NULL; item = item->next)
		explicit_bzero(item->data, strlen(item->data));
	curl_slist_free_all(list);
}

/* Without a ca_file, the system store as libcurl was built to find it — but as its hashed
 * directory when it has one and OpenSSL (or a sibling) reads it: OpenSSL then opens the one
 * CA a chain needs, not the whole bundle (about 145 certificates parsed at every mint: 24 ms
 * of TLS set-up instead of 3). Other TLS libraries load every file of a directory, which
 * would cost more than the bundle. The directory is libcurl's own compiled-in one, never
 * the environment's SSL_CERT_DIR or SSL_CERT_FILE, so no variable can make another CA
 * trusted. Returns 1 when the directory alone is in use, 0 when libcurl's defaults are. */
static int
use_system_ca_directory(CURL *curl)
{
	static const char *const readers[] = { "OpenSSL/", "LibreSSL/", "BoringSSL", "quictls/",
					       "AWS-LC/" };
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
	struct stat st;
	size_t i;

	if (info->age < CURLVERSION_SEVENTH || info->capath == NULL || info->ssl_version == NULL ||
	    stat(info->capath, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	for (i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		if (strncmp(info->ssl_version, readers[i], strlen(readers[i])) == 0)
			break;
	}
	if (i == sizeof(readers) / sizeof(readers[0]))
		return 0;
	/* the directory first: a TLS backend without it leaves the defaults as they are */
	if (curl_easy_setopt(curl, CURLOPT_CAPATH, info->capath) != CURLE_OK)
		return 0;
	return curl_easy_setopt(curl, CURLOPT_CAINFO, NULL) == CURLE_OK;
}

/* Back to libcurl's compiled-in bundle and directory, for a directory whose hash links miss
 * a CA of the bundle (one appended to it by hand, an image that copied the bundle alone). */
static CURLcode
use_system_ca_defaults(CURL *curl)
{
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
	CURLcode rc = CURLE_OK;

	rc |= curl_easy_setopt(curl, CURLOPT_CAINFO, info->cainfo);
	rc |= curl_easy_setopt(curl, CURLOPT_CAPATH, info->capath);
	return rc;
}

/* The options that keep the secret where it belongs. Each is checked: a libcurl that
 * ignored one would fail open. ca holds the profile's CA file, or NULL; *ca_directory says
 * whether the system store is read as its directory alone. */
static int
restrict_transport(CURL *curl, const char *url, const struct url *endpoint,
		   const struct ca_bundle *ca, int *ca_directory, struct error *err)
{
	struct curl_blob blob;
	CURLcode rc = CURLE_OK;

	rc |= curl_easy_setopt(curl, CURLOPT_URL, url);
	rc |= curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, endpoint->scheme);
	rc |= curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	rc |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	rc |= curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca != NULL) {
		/* The profile's CA replaces the system store, whatever the environment says;
		 * handed over as read and checked, not as a path read again later. */
		blob.data = ca->pem;
		blob.len = ca->len;
		blob.flags = CURL_BLOB_COPY;
		rc |= curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
		rc |= curl_easy_setopt(curl, CURLOPT_CAINFO, NULL);
		rc |= curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
	} else {
		*ca_directory = use_system_ca_directory(curl);
	}
	if (url_host_is_loopback(endpoint->host))
		rc |= curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
	if (rc != CURLE_OK)
		return error_set(err, KB_EXIT_INTERNAL,
				 "this libcurl (%s) lacks an option keybearer needs to protect the "
				 "secret — install libcurl 7.85 or newer",
				 curl_version());
	return 0;
}

/* Reads the profile's ca_file under the config file's rules: a CA others could change
 * would let them read the secret. */
static int
ca_bundle_read(const struct profile *p, struct ca_bundle *ca, struct error *err)
{
	static const struct safefile_rules rules = {
		.what = "ca_file",
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 022,
		.max_size = 4 * 1024 * 1024,
		.code = KB_EXIT_CONFIG,
		.check_parents = 1,
	};
	int rc;

	ca->pem = NULL;
	ca->len = 0;
	if (p->ca_file == NULL)
		return 0;
	rc = safefile_read(AT_FDCWD, p->ca_file, &rules, &ca->pem, &ca->len, err);
	if (rc == 1)
		return error_set(err, KB_EXIT_CONFIG,
				 "ca_file %s of profile %s does not exist — fix ca_file",
				 p->ca_file, p->name);
	return rc;
}

/* mutual-TLS client authentication: the certificate chain and its key as blobs. The key is
 * not copied: libcurl reads it from our locked buffer, which outlives the handle and is
 * wiped; nothing reaches a file. */
static int
present_certificate(CURL *curl, const struct mtls_credentials *m, struct error *err)
{
	struct curl_blob cert = { m->cert.value, m->cert.size - 1, CURL_BLOB_COPY };
	struct curl_blob key = { m->key.value, m->key.size - 1, CURL_BLOB_NOCOPY };
	CURLcode rc = CURLE_OK;

	rc |= curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
	rc |= curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
	rc |= curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
	rc |= curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
	if (rc != CURLE_OK)
		return error_set(err, KB_EXIT_INTERNAL,
				 "this libcurl (%s) cannot take a client certificate from memory — "
				 "install libcurl 7.71 or newer, built with OpenSSL",
				 curl_version());
	return 0;
}

/* KEYBEARER_DEBUG=1: where the time of a request went (the cold path's breakdown). */
static void
debug_timings(CURL *curl, const struct profile *p)
{
	curl_off_t connect = 0, tls = 0, total = 0;

	curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connect);
	curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &tls);
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &total);
	if (tls < connect)
		tls = connect; /* plain http: no handshake */
	error_debug("profile %s: timing: connect %.3f ms, tls %.3f ms, request %.3f ms, "
		    "total %.3f ms",
		    p->name, connect / 1000.0, (tls - connect) / 1000.0, (total - tls) / 1000.0,
		    total / 1000.0);
}

int
http_request(const struct profile *p, const struct http_target *t, const struct token_request *req,
	     long timeout_ms, struct http_response *resp, struct error *err)
{
	char detail[CURL_ERROR_SIZE] = "";
	struct body_buffer body = { 0 };
	struct slow_answer slow;
	struct curl_slist *headers = NULL;
	struct ca_bundle ca_storage;
	struct url endpoint;
	CURL *curl = NULL;
	CURLcode code;
	int ca_directory = 0;
	long connect_timeout_ms = timeout_ms < CONFIG_CONNECT_TIMEOUT * 1000L
					  ? timeout_ms
					  : CONFIG_CONNECT_TIMEOUT * 1000L;
	int rc = -1;

	memset(resp, 0, sizeof(*resp));
	/* every URL, wherever it came from, passes the rules the config's must */
	if (url_check_endpoint(t->url, t->key, err) != 0)
		return -1;
	if (url_parse(t->url, &endpoint) != 0)
		return error_set(err, KB_EXIT_CONFIG, "%s %s cannot be used — fix it", t->key,
				 t->url);
	/* libcurl would log the TLS session keys there, and with them the secret (OpenSSL
	 * and GnuTLS builds read one name each). */
	unsetenv("SSLKEYLOGFILE");
	unsetenv("GNUTLS_KEYLOGFILE");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return error_set(err, KB_EXIT_INTERNAL,
				 "libcurl failed to start — reinstall "
				 "libcurl");
	if (ca_bundle_read(p, &ca_storage, err) != 0)
		return -1;
	body.data = malloc(HTTP_REPLY_MAX + 1);
	curl = curl_easy_init();
	headers = request_headers(req);
	if (body.data == NULL || curl == NULL || headers == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		goto out;
	}
	if (restrict_transport(curl, t->url, &endpoint, p->ca_file ? &ca_storage : NULL,
			       &ca_directory, err) != 0)
		goto out;
	if (t->mtls != NULL && present_certificate(curl, t->mtls, err) != 0)
		goto out;
	if (req != NULL && req->body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "keybearer/" KEYBEARER_VERSION);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_REPLY_MAX);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
	slow.target = t;
	slow.started = monotonic_ms();
	slow.deadline = slow.started + timeout_ms;
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, say_when_slow);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &slow);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	code = curl_easy_perform(curl);
	if (code == CURLE_PEER_FAILED_VERIFICATION && ca_directory &&
	    use_system_ca_defaults(curl) == CURLE_OK) {
		/* nothing was sent to a peer not verified; the bundle decides once more */
		error_debug("profile %s: the system CA directory did not verify %s: trying the "
			    "system bundle",
			    p->name, t->url);
		body.len = 0;
		body.overflowed = 0;
		detail[0] = '\0';
		code = curl_easy_perform(curl);
	}
	if (code != CURLE_OK) {
		transport_error(code, detail, req != NULL ? &req->redaction : NULL, p, t, &body,
				err);
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &resp->status);
	debug_timings(curl, p);
	resp->content_type = header_copy(curl, "Content-Type");
	resp->retry_after = header_copy(curl, "Retry-After");
	resp->location = header_copy(curl, "Location");
	resp->server_date = server_date(curl);
	body.data[body.len] = '\0';
	resp->body = body.data;
	resp->body_len = body.len;
	body.data = NULL;
	rc = 0;
out:
	if (body.data != NULL)
		safefile_free_secret(body.data, body.len);
	free(ca_storage.pem);
	request_headers_free(headers);
	curl_easy_cleanup(curl);
	return rc;
}

int
http_get_document(const struct profile *p, const struct http_target *t, struct http_response *resp,
		  struct error *err)
{
	if (http_request(p, t, NULL, (long)p->timeout * 1000, resp, err) != 0)
		return -1;
	if (resp->status != 200)
		return error_set(err, resp->status >= 500 ? KB_EXIT_TRANSIENT : KB_EXIT_PROTOCOL,
				 "%s %s answered HTTP %ld — check %s", t->what, t->url,
				 resp->status, t->key);
	return 0;
}

void
http_response_view(const struct http_response *resp, struct token_reply *reply)
{
	reply->status = resp->status;
	reply->content_type = resp->content_type;
	reply->retry_after = resp->retry_after;
	reply->location = resp->location;
	reply->server_date = resp->server_date;
	reply->body = resp->body;
	reply->body_len = resp->body_len;
}

void
http_response_free(struct http_response *resp)
{
	/* The body holds the token, or an echo of the request and with it the secret. */
	if (resp->body != NULL)
		safefile_free_secret(resp->body, resp->body_len);
	free(resp->content_type);
	free(resp->retry_after);
	free(resp->location);
	memset(resp, 0, sizeof(*resp));
}

int
http_retry_after_seconds(const char *value, time_t now)
{
	long long when;
	size_t digits;

	if (value == NULL || *value == '\0')
		return -1;
	/* delta-seconds is 1*DIGIT: no sign, no fraction, no unit */
	digits = strspn(value, "0123456789");
	if (digits > 0 && value[digits] == '\0') {
		if (digits > 6)
			return 86400;
		when = strtol(value, NULL, 10);
		return when <= 0 ? -1 : when > 86400 ? 86400 : (int)when;
	}
	/* an HTTP-date starts with the day's name */
	if (!isalpha((unsigned char)value[0]))
		return -1;
	when = (long long)curl_getdate(value, NULL);
	if (when <= (long long)now)
		return -1; /* unreadable, or already past: no wait asked */
	when -= (long long)now;
	return when > 86400 ? 86400 : (int)when;
}

int
http_mint(const struct profile *p, const struct token_credentials *creds, long long deadline_ms,
	  struct token_result *out, int *retry_after, struct error *err)
{
	const struct http_target target = { p->token_url, "token endpoint", "token_url",
					    creds->mtls };
	struct token_request req = { 0 };
	struct http_response resp = { 0 };
	struct assertion assertion = { 0 };
	struct token_credentials signed_creds;
	struct token_reply reply;
	long long left = deadline_ms - monotonic_ms();
	struct credential_source src;
	char origin[4200];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	*retry_after = -1;
	if (left < 1)
		left = 1;
	/* key-based client authentication: a fresh assertion (new jti, iat) every attempt,
	 * as a server that remembers jti refuses a replayed one */
	if (config_auth_signs_assertion(p->auth_method)) {
		credential_source_of(p, credential_for_method(p), &src);
		credential_origin(&src, origin, sizeof(origin));
		if (assertion_make(p, creds->secret, origin, p->token_url, &assertion, err) != 0)
			goto out;
		signed_creds = *creds;
		signed_creds.client_assertion = assertion.jwt;
		creds = &signed_creds;
	}
	if (token_request_build(p, creds, &req, err) != 0 ||
	    http_request(p, &target, &req, (long)left, &resp, err) != 0)
		goto out;
	http_response_view(&resp, &reply);
	reply.auth_method = p->auth_method;
	reply.signing_alg = assertion.jwt != NULL ? assertion.alg : NULL;
	reply.key_id = assertion.kid;
	reply.token_exchange = p->grant_type == GRANT_TOKEN_EXCHANGE;
	reply.requested_token_type = p->requested_token_type;
	*retry_after = http_retry_after_seconds(resp.retry_after, time(NULL));
	rc = token_reply_parse(&reply, &req.redaction, time(NULL), out, err);
out:
	http_response_free(&resp);
	token_request_free(&req);
	assertion_free(&assertion);
	return rc;
}
