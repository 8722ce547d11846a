/* tests/unit/test_keys.c — key files: 0600, no overwrite, refuse loose permissions, round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/keys.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/pirogue-keys-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static void test_generate_writes_0600_and_loads_same_public_key(void **state)
{
	char path[128];
	struct keys_pub pub;
	struct keys *k = NULL;
	struct stat st;
	uint8_t sig[crypto_sign_BYTES], shared1[32], shared2[32], other_sk[32], other_pk[32];

	path_in(path, sizeof path, "site.key");
	umask(0); /* even with a permissive umask the file must be 0600 */
	assert_int_equal(keys_generate(path, &pub), 0);
	umask(022);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keys_load(path, &k), 0);
	assert_memory_equal(&k->pub, &pub, sizeof pub);
	/* the loaded keys work: a signature verifies and DH agrees */
	crypto_sign_detached(sig, NULL, (const uint8_t *)"hello", 5, k->ed25519_sk);
	assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)"hello", 5, pub.ed25519),
	                 0);
	randombytes_buf(other_sk, sizeof other_sk);
	assert_int_equal(crypto_scalarmult_base(other_pk, other_sk), 0);
	assert_int_equal(crypto_scalarmult(shared1, k->x25519_sk, other_pk), 0);
	assert_int_equal(crypto_scalarmult(shared2, other_sk, pub.x25519), 0);
	assert_memory_equal(shared1, shared2, 32);
	keys_free(k);
}

static void test_refuses_to_overwrite(void **state)
{
	char path[128];
	struct keys_pub a, b;

	path_in(path, sizeof path, "once.key");
	assert_int_equal(keys_generate(path, &a), 0);
	assert_int_equal(keys_generate(path, &b), KEYS_EEXIST);
}

static void test_refuses_group_or_world_readable_key(void **state)
{
	char path[128];
	struct keys *k = NULL;

	path_in(path, sizeof path, "loose.key");
	assert_int_equal(keys_generate(path, NULL), 0);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(keys_load(path, &k), KEYS_EPERM);
	assert_null(k);
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(keys_load(path, &k), KEYS_EPERM);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(keys_load(path, &k), 0);
	keys_free(k);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
}

static void test_refuses_malformed_key_files(void **state)
{
	char path[128];
	struct keys *k = NULL;

	path_in(path, sizeof path, "bad.key");
	write_file(path, "not base64 at all!!\n");
	assert_int_equal(keys_load(path, &k), KEYS_EFORMAT);
	write_file(path, "AAAA\n"); /* valid base64, wrong length */
	assert_int_equal(keys_load(path, &k), KEYS_EFORMAT);
	path_in(path, sizeof path, "missing.key");
	assert_true(keys_load(path, &k) < 0);
	assert_null(k);
	assert_int_equal(keys_load(dir, &k), KEYS_EFORMAT); /* a directory */
}

static void test_public_key_text_round_trip_and_refusals(void **state)
{
	uint8_t secret[64];
	struct keys *k = NULL;
	struct keys_pub back;
	char text[KEYS_PUB_B64_LEN], padded[KEYS_PUB_B64_LEN + 8];

	randombytes_buf(secret, sizeof secret);
	assert_int_equal(keys_from_secret(secret, &k), 0);
	keys_pub_encode(&k->pub, text);
	assert_int_equal(strlen(text), 88);
	assert_int_equal(keys_pub_decode(text, &back), 0);
	assert_memory_equal(&back, &k->pub, sizeof back);
	snprintf(padded, sizeof padded, "  %s\n", text);
	assert_int_equal(keys_pub_decode(padded, &back), 0);
	text[10] = '*';
	assert_int_equal(keys_pub_decode(text, &back), KEYS_EFORMAT);
	assert_int_equal(keys_pub_decode("", &back), KEYS_EFORMAT);
	assert_int_equal(keys_pub_decode(NULL, &back), KEYS_EFORMAT);
	keys_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_generate_writes_0600_and_loads_same_public_key),
	        cmocka_unit_test(test_refuses_to_overwrite),
	        cmocka_unit_test(test_refuses_group_or_world_readable_key),
	        cmocka_unit_test(test_refuses_malformed_key_files),
	        cmocka_unit_test(test_public_key_text_round_trip_and_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
