/* common/keys.c — site key pairs and key files (see keys.h). */
#include "common/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET_BYTES 64
#define SECRET_B64   (sodium_base64_ENCODED_LEN(SECRET_BYTES, sodium_base64_VARIANT_ORIGINAL))
#define FILE_MAX     512 /* a key file is one line of ~90 bytes; anything far larger is not ours */

int keys_from_secret(const uint8_t secret[64], struct keys **out)
{
	struct keys *k;

	if (sodium_init() < 0)
		return -EIO;
	k = sodium_malloc(sizeof *k);
	if (!k)
		return -ENOMEM;
	memcpy(k->x25519_sk, secret, KEYS_X25519_BYTES);
	if (crypto_scalarmult_base(k->pub.x25519, k->x25519_sk) != 0 ||
	    crypto_sign_seed_keypair(k->pub.ed25519, k->ed25519_sk, secret + 32) != 0) {
		keys_free(k);
		return KEYS_EFORMAT;
	}
	*out = k;
	return 0;
}

void keys_free(struct keys *k)
{
	if (k)
		sodium_free(k); /* sodium_free wipes before releasing */
}

int keys_generate(const char *path, struct keys_pub *pub)
{
	uint8_t *secret = NULL;
	char *text = NULL;
	struct keys *k = NULL;
	size_t len;
	int fd = -1, ret;

	if (sodium_init() < 0)
		return -EIO;
	secret = sodium_malloc(SECRET_BYTES);
	text = sodium_malloc(SECRET_B64 + 1);
	if (!secret || !text) {
		ret = -ENOMEM;
		goto out;
	}
	randombytes_buf(secret, SECRET_BYTES);
	if ((ret = keys_from_secret(secret, &k)) != 0)
		goto out;
	sodium_bin2base64(text, SECRET_B64, secret, SECRET_BYTES, sodium_base64_VARIANT_ORIGINAL);
	len = strlen(text);
	text[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = errno == EEXIST ? KEYS_EEXIST : -errno;
		goto out;
	}
	/* O_CREAT honours the umask, which can only remove bits; make sure it is exactly 0600. */
	if (fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		ret = errno ? -errno : -EIO;
		unlink(path);
		goto out;
	}
	if (pub)
		*pub = k->pub;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	keys_free(k);
	sodium_free(secret);
	sodium_free(text);
	return ret;
}

int keys_load(const char *path, struct keys **out)
{
	uint8_t *secret = NULL;
	char *text = NULL;
	struct stat st;
	size_t n = 0, binlen = 0;
	const char *end = NULL;
	ssize_t r;
	int fd, ret;

	if (sodium_init() < 0)
		return -EIO;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = KEYS_EFORMAT;
		goto out;
	}
	if (st.st_mode & 077) {
		ret = KEYS_EPERM;
		goto out;
	}
	secret = sodium_malloc(SECRET_BYTES);
	text = sodium_malloc(FILE_MAX + 1);
	if (!secret || !text) {
		ret = -ENOMEM;
		goto out;
	}
	while (n < FILE_MAX && (r = read(fd, text + n, FILE_MAX - n)) > 0)
		n += (size_t)r;
	if (n >= FILE_MAX) {
		ret = KEYS_EFORMAT;
		goto out;
	}
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		n--;
	text[n] = '\0';
	if (sodium_base642bin(secret, SECRET_BYTES, text, n, NULL, &binlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != SECRET_BYTES || (end && *end)) {
		ret = KEYS_EFORMAT;
		goto out;
	}
	ret = keys_from_secret(secret, out);
out:
	close(fd);
	if (text)
		sodium_memzero(text, FILE_MAX + 1);
	sodium_free(secret);
	sodium_free(text);
	return ret;
}

void keys_pub_encode(const struct keys_pub *pub, char out[KEYS_PUB_B64_LEN])
{
	uint8_t raw[KEYS_PUB_BYTES];

	memcpy(raw, pub->x25519, KEYS_X25519_BYTES);
	memcpy(raw + KEYS_X25519_BYTES, pub->ed25519, KEYS_ED25519_PK);
	sodium_bin2base64(out, KEYS_PUB_B64_LEN, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
}

int keys_pub_decode(const char *text, struct keys_pub *out)
{
	uint8_t raw[KEYS_PUB_BYTES];
	size_t binlen = 0, n;
	const char *end = NULL;

	if (!text)
		return KEYS_EFORMAT;
	while (*text == ' ' || *text == '\t')
		text++;
	n = strlen(text);
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' ||
	                 text[n - 1] == '\r'))
		n--;
	if (n != KEYS_PUB_B64_LEN - 1)
		return KEYS_EFORMAT;
	if (sodium_base642bin(raw, sizeof raw, text, n, NULL, &binlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != sizeof raw || end != text + n)
		return KEYS_EFORMAT;
	memcpy(out->x25519, raw, KEYS_X25519_BYTES);
	memcpy(out->ed25519, raw + KEYS_X25519_BYTES, KEYS_ED25519_PK);
	return 0;
}

const char *keys_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case KEYS_EPERM:
		return "private key file is accessible by group or others (chmod 600 it)";
	case KEYS_EFORMAT:
		return "not a Pirogue key (bad base64 or length)";
	case KEYS_EEXIST:
		return "key file already exists (refusing to overwrite)";
	}
	return err < 0 && err > -4096 ? strerror(-err) : "unknown key error";
}
