/* The lock file's state: what a failed refresh leaves for every other caller, how long it
 * holds whatever the wall clock does, and the keyed mark that tells a new secret from the
 * refused one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fingerprint.h"
#include "lockstate.h"
#include "rows.h"
#include "sha256.h"
#include "token.h"

#define BOOT  "0b5d1e39-7c4a-4f0e-9a53-3d2e6f1a8b7c"
#define OTHER "11111111-2222-3333-4444-555555555555"
#define PROF  "aaaa000000000000000000000000000000000000000000000000000000000000"

/* RFC 4231, test cases 1, 2 and 6 (a key longer than the block). */
static void
test_hmac_vectors(void **state)
{
	unsigned char key1[20], key6[131], mac[SHA256_DIGEST_SIZE];
	char hex[65];

	(void)state;
	memset(key1, 0x0b, sizeof(key1));
	sha256_hmac(key1, sizeof(key1), "Hi There", 8, mac);
	sha256_hex(mac, sizeof(mac), hex);
	assert_string_equal(hex,
			    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	sha256_hmac("Jefe", 4, "what do ya want for nothing?", 28, mac);
	sha256_hex(mac, sizeof(mac), hex);
	assert_string_equal(hex,
			    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key6, 0xaa, sizeof(key6));
	sha256_hmac(key6, sizeof(key6), "Test Using Larger Than Block-Size Key - Hash Key First",
		    54, mac);
	sha256_hex(mac, sizeof(mac), hex);
	assert_string_equal(hex,
			    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static int
memory_lock_file(void)
{
	int fd = memfd_create("keybearer-test-lock", MFD_CLOEXEC);
	char zeros[CACHE_LOCK_FILE_SIZE] = { 0 };

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, zeros, sizeof(zeros), 0), (ssize_t)sizeof(zeros));
	return fd;
}

static struct cache
test_cache(void)
{
	struct cache c = { .dirfd = -1 };

	snprintf(c.key, sizeof(c.key), "%s", PROF);
	return c;
}

static void
test_state_round_trip(void **state)
{
	struct cache c = test_cache();
	struct lockstate st = { 0 }, back;
	char *token = malloc(TOKEN_MAX_LENGTH + 1);
	int fd = memory_lock_file();

	(void)state;
	/* the largest state there is: a whole message and the longest token */
	memset(token, 'A', TOKEN_MAX_LENGTH);
	token[TOKEN_MAX_LENGTH] = '\0';
	st.failure.failed_at = 1700000000;
	st.failure.failed_boot = 5000;
	snprintf(st.failure.boot_id, sizeof(st.failure.boot_id), BOOT);
	st.failure.hold = 300;
	st.failure.code = KB_EXIT_REJECTED;
	st.failure.source = LOCKSTATE_ENDPOINT;
	snprintf(st.failure.profile, sizeof(st.failure.profile), PROF);
	snprintf(st.failure.secret_mark, sizeof(st.failure.secret_mark), "%064d", 7);
	snprintf(st.failure.secret_origin, sizeof(st.failure.secret_origin), "file 1:2:3:4.5:6.7");
	memset(st.failure.message, 'm', sizeof(st.failure.message) - 1);
	st.spare.access_token = token;
	st.spare.obtained_at = 1700000000;
	st.spare.expires_at = 1700003600;
	st.spare.obtained_boot = 5000;
	snprintf(st.spare.boot_id, sizeof(st.spare.boot_id), BOOT);
	assert_int_equal(lockstate_write(&c, fd, &st), 0);
	assert_int_equal(lockstate_read(&c, fd, &back), 0);
	assert_int_equal(memcmp(&back.failure, &st.failure, sizeof(st.failure)), 0);
	assert_string_equal(back.spare.access_token, token);
	assert_int_equal(back.spare.obtained_boot, 5000);
	lockstate_free(&back);

	/* an empty state clears both, in place */
	memset(&st, 0, sizeof(st));
	assert_int_equal(lockstate_write(&c, fd, &st), 0);
	assert_int_equal(lockstate_read(&c, fd, &back), 0);
	assert_int_equal(back.failure.failed_at, 0);
	assert_null(back.spare.access_token);
	assert_int_equal(lseek(fd, 0, SEEK_END), CACHE_LOCK_FILE_SIZE);
	close(fd);
	free(token);
}

/* What is not a state of this profile's is no state at all. */
static void
test_state_foreign_or_corrupt(void **state)
{
	static const char *const texts[] = {
		"",
		"keybearer-backoff/1 1700000000 1700000030\nold format\n",
		"{\"format\":\"keybearer-lock/1\",\"key\":\"bbbb\",\"failure\":{}}",
		"{\"format\":\"keybearer-lock/2\",\"key\":\"" PROF "\"}",
		"{\"format\":\"keybearer-lock/1\",\"key\":\"" PROF
		"\",\"failure\":{\"failed_at\":1}}",
		"{\"format\":\"keybearer-lock/1\",\"key\":\"" PROF
		"\",\"failure\":{\"failed_at\":1,"
		"\"failed_boot\":1,\"hold\":30,\"code\":75,\"source\":\"somewhere\",\"boot_id\":"
		"\"\","
		"\"profile\":\"\",\"secret_mark\":\"\",\"secret_origin\":\"\",\"message\":\"m\"}}",
		/* a message that would not be one line of status */
		"{\"format\":\"keybearer-lock/1\",\"key\":\"" PROF
		"\",\"failure\":{\"failed_at\":1,"
		"\"failed_boot\":1,\"hold\":30,\"code\":75,\"source\":\"endpoint\",\"boot_id\":"
		"\"\","
		"\"profile\":\"\",\"secret_mark\":\"\",\"secret_origin\":\"\",\"message\":"
		"\"a\\nb\"}}",
		"{\"format\":\"keybearer-lock/1\",\"key\":\"" PROF
		"\",\"spare\":{\"format\":\"x\"}} ",
	};
	struct cache c = test_cache();
	struct lockstate back;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		int fd = memory_lock_file();
		assert_int_equal(pwrite(fd, texts[i], strlen(texts[i]), 0),
				 (ssize_t)strlen(texts[i]));
		assert_int_equal(lockstate_read(&c, fd, &back), 0);
		if (back.failure.failed_at != 0 || back.spare.access_token != NULL)
			fail_msg("text %zu was taken for a state", i);
		close(fd);
	}
}

struct holds_case {
	const char *name;
	long long failed_at, failed_boot;
	const char *failed_boot_id;
	long long hold;
	const char *profile;
	long long wall, boot;
	const char *now_boot_id;
	long long holds;
};

static const struct holds_case holds_cases[] = {
	{ "just failed", 1000, 500, BOOT, 30, PROF, 1000, 500, BOOT, 30 },
	{ "10 s later", 1000, 500, BOOT, 30, PROF, 1010, 510, BOOT, 20 },
	{ "hold over", 1000, 500, BOOT, 30, PROF, 1030, 530, BOOT, 0 },
	/* the wall clock stepped back a day: the boot clock still ends the hold in time */
	{ "clock stepped back", 1000, 500, BOOT, 30, PROF, 1000 - 86400, 520, BOOT, 10 },
	/* ... or forward: no earlier retry */
	{ "clock stepped forward", 1000, 500, BOOT, 30, PROF, 1000 + 86400, 510, BOOT, 20 },
	{ "another boot", 1000, 500, BOOT, 30, PROF, 1010, 10, OTHER, 0 },
	{ "boot clock behind", 1000, 500, BOOT, 30, PROF, 1010, 400, BOOT, 0 },
	{ "the profile changed", 1000, 500, BOOT, 30, "bbbb", 1010, 510, BOOT, 0 },
	{ "nothing recorded", 0, 0, "", 0, PROF, 1010, 510, BOOT, 0 },
	/* no boot clock on either side: the wall clock, and a step back ends the hold */
	{ "wall clock only", 1000, -1, "", 300, PROF, 1100, -1, "", 200 },
	{ "wall clock only, stepped back", 1000, -1, "", 300, PROF, 990, -1, "", 0 },
	{ "no boot id here", 1000, 500, BOOT, 300, PROF, 1100, 600, "", 200 },
};

static void
test_failure_holds_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(holds_cases) / sizeof(holds_cases[0]); i++) {
		const struct holds_case *c = &holds_cases[i];
		struct lockstate_failure f = { 0 };
		struct cache_clock now = { c->wall, c->boot, "" };
		f.failed_at = c->failed_at;
		f.failed_boot = c->failed_boot;
		snprintf(f.boot_id, sizeof(f.boot_id), "%s", c->failed_boot_id);
		f.hold = c->hold;
		snprintf(f.profile, sizeof(f.profile), "%s", c->profile);
		snprintf(now.boot_id, sizeof(now.boot_id), "%s", c->now_boot_id);
		failures += mismatch_int(c->name, "holds", lockstate_failure_holds(&f, &now, PROF),
					 c->holds);
	}
	assert_int_equal(failures, 0);
}

/* Only the endpoint's final answers are rejections a new secret may change. */
static void
test_failure_is_rejection(void **state)
{
	static const struct {
		enum lockstate_source source;
		enum exit_code code;
		int rejection;
	} cases[] = {
		{ LOCKSTATE_ENDPOINT, KB_EXIT_REJECTED, 1 },
		{ LOCKSTATE_ENDPOINT, KB_EXIT_PROTOCOL, 1 },
		{ LOCKSTATE_ENDPOINT, KB_EXIT_TRANSIENT, 0 },
		{ LOCKSTATE_DISCOVERY, KB_EXIT_PROTOCOL, 0 },
		{ LOCKSTATE_KEYRING, KB_EXIT_TRANSIENT, 0 },
		{ LOCKSTATE_CACHE, KB_EXIT_IO, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lockstate_failure f = { 0 };
		f.source = cases[i].source;
		f.code = cases[i].code;
		assert_int_equal(lockstate_failure_is_rejection(&f), cases[i].rejection);
	}
}

struct changed_case {
	const char *name;
	const char *recorded_mark, *recorded_origin, *mark, *origin;
	int changed;
};

static const struct changed_case changed_cases[] = {
	{ "same mark", "aa", "", "aa", "", 0 },
	{ "other mark", "aa", "", "bb", "", 1 },
	/* the content decides when both marks are there: a touched file is the same secret */
	{ "same mark, file touched", "aa", "file 1", "aa", "file 2", 0 },
	/* the key is gone: nothing rules a new secret out */
	{ "key gone", "aa", "", "", "", 1 },
	/* no kernel keyring: the secret file's identity */
	{ "no marks, same file", "", "file 1", "", "file 1", 0 },
	{ "no marks, file replaced", "", "file 1", "", "file 2", 1 },
	{ "no marks, no file", "", "", "", "", 0 },
	{ "a mark now, none then", "", "", "aa", "", 0 },
};

static void
test_fingerprint_changed_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(changed_cases) / sizeof(changed_cases[0]); i++) {
		const struct changed_case *c = &changed_cases[i];
		struct fingerprint recorded = { 0 }, now = { 0 };
		snprintf(recorded.mark, sizeof(recorded.mark), "%s", c->recorded_mark);
		snprintf(recorded.origin, sizeof(recorded.origin), "%s", c->recorded_origin);
		snprintf(now.mark, sizeof(now.mark), "%s", c->mark);
		snprintf(now.origin, sizeof(now.origin), "%s", c->origin);
		failures += mismatch_int(c->name, "changed", fingerprint_changed(&recorded, &now),
					 c->changed);
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmac_vectors),
		cmocka_unit_test(test_state_round_trip),
		cmocka_unit_test(test_state_foreign_or_corrupt),
		cmocka_unit_test(test_failure_holds_table),
		cmocka_unit_test(test_failure_is_rejection),
		cmocka_unit_test(test_fingerprint_changed_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
