/* common/keys.h — a site's long-term key pair and its files.
 *
 * Each site (clinic or hub) has one X25519 key pair (Noise static key) and one Ed25519 key pair
 * (record signatures), generated independently (no key reuse across primitives).
 *
 * Private key file: one line, base64 (sodium "original" variant) of 64 bytes:
 *     x25519_secret[32] || ed25519_seed[32]
 * written with mode 0600, created exclusively and fsync'd. Loading refuses a file that is
 * readable or writable by group or others (KEYS_EPERM), like ssh does.
 *
 * Public key ("the site's public key", what `pirogue keygen` prints and `pirogue enroll` takes):
 * base64 of 64 bytes x25519_public[32] || ed25519_public[32] (88 characters).
 *
 * Secrets live in sodium_malloc memory (guarded, mlocked where possible) and are wiped on free.
 */
#ifndef PIROGUE_COMMON_KEYS_H
#define PIROGUE_COMMON_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define KEYS_X25519_BYTES 32
#define KEYS_ED25519_PK   32
#define KEYS_ED25519_SK   64
#define KEYS_PUB_BYTES    64
#define KEYS_PUB_B64_LEN  89 /* 88 characters + NUL */

#define KEYS_EPERM   (ERR_BASE_COMMON - 20) /* private key file group/world accessible */
#define KEYS_EFORMAT (ERR_BASE_COMMON - 21) /* not a Pirogue key (bad base64 / length) */
#define KEYS_EEXIST  (ERR_BASE_COMMON - 22) /* refusing to overwrite an existing key file */

struct keys_pub {
	uint8_t x25519[KEYS_X25519_BYTES];
	uint8_t ed25519[KEYS_ED25519_PK];
};

/* Held in sodium_malloc memory: always obtain through keys_load()/keys_from_secret(). */
struct keys {
	uint8_t x25519_sk[KEYS_X25519_BYTES];
	uint8_t ed25519_sk[KEYS_ED25519_SK]; /* libsodium layout: seed || pk */
	struct keys_pub pub;
};

/* Creates a new key file at path (fails with KEYS_EEXIST if it exists). On success, if pub is
 * not NULL, fills it with the new public key. Calls sodium_init() itself. */
int keys_generate(const char *path, struct keys_pub *pub) __attribute__((warn_unused_result));

/* Loads a private key file. On success *out is a sodium_malloc'd struct keys to release with
 * keys_free(). Errors: -errno, KEYS_EPERM, KEYS_EFORMAT. */
int keys_load(const char *path, struct keys **out) __attribute__((warn_unused_result));

/* Builds keys from raw secret material (64 bytes: x25519 secret || ed25519 seed); for tests. */
int keys_from_secret(const uint8_t secret[64], struct keys **out)
        __attribute__((warn_unused_result));

/* Wipes and releases; NULL is fine. */
void keys_free(struct keys *k);

/* Public key <-> text (KEYS_PUB_B64_LEN incl. NUL). Decode accepts surrounding blanks;
 * returns KEYS_EFORMAT on anything else. */
void keys_pub_encode(const struct keys_pub *pub, char out[KEYS_PUB_B64_LEN]);
int keys_pub_decode(const char *text, struct keys_pub *out) __attribute__((warn_unused_result));

const char *keys_strerror(int err);

#endif
