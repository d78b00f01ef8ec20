/* one_post URL CA_FILE < FORM: one POST over TLS with libcurl and nothing else, the floor
 * of a cold get: the same libcurl and OpenSSL, no config, cache, lock or second process.
 * Prints its TLS handshake and round trip on stderr as keybearer-fetch's debug timings
 * do, so the benchmark divides its time by the same measure. */
#include <curl/curl.h>
#include <stdio.h>

static size_t
discard(char *data, size_t size, size_t count, void *user)
{
	(void)data;
	(void)user;
	return size * count;
}

int
main(int argc, char **argv)
{
	char form[4096];
	size_t len;
	curl_off_t connected, handshaken, answered;
	long status = 0;
	CURLcode rc;
	CURL *curl;

	if (argc != 3) {
		fputs("usage: one_post URL CA_FILE < FORM\n", stderr);
		return 64;
	}
	len = fread(form, 1, sizeof(form) - 1, stdin);
	form[len] = '\0';
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (curl = curl_easy_init()) == NULL)
		return 70;
	curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
	curl_easy_setopt(curl, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_CONNECT_TIME_T, &connected);
	curl_easy_getinfo(curl, CURLINFO_APPCONNECT_TIME_T, &handshaken);
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME_T, &answered);
	if (rc != CURLE_OK || status != 200) {
		fprintf(stderr, "one_post: %s, HTTP %ld\n", curl_easy_strerror(rc), status);
		return 1;
	}
	fprintf(stderr, "timing: tls %.3f ms, request %.3f ms\n", (handshaken - connected) / 1000.0,
		(answered - handshaken) / 1000.0);
	return 0;
}
