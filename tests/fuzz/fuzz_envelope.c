/* tests/fuzz/fuzz_envelope.c — the envelope's parsers on hostile input.
 *
 * Three targets from one input:
 *  1. the bytes as a record header (sync_env_header_parse: bounded, then signature);
 *  2. the bytes as a plaintext container table (sync_env_content_parse);
 *  3. the bytes as the DECRYPTED content of a validly signed and encrypted record: the input is
 *     encrypted and signed here with fixed test keys, following the documented layout, so the
 *     opener's container walk (table split across chunks, part sizes, trailing bytes) sees
 *     arbitrary plaintext behind valid crypto — what a buggy or malicious sender could send.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/keys.h"
#include "sync/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct keys *sender, *recipient;

static int noop_part(size_t part, const uint8_t *d, size_t len, void *arg)
{
	(void)part;
	(void)d;
	(void)len;
	(void)arg;
	return 0;
}

static void open_forged(const uint8_t *plain, size_t size)
{
	enum { CS = 1024 };
	uint32_t count = (uint32_t)((size + CS - 1) / CS);
	size_t hlen = sync_env_header_size(count);
	uint8_t *hdr = malloc(hlen), *ct = malloc((size_t)count * (CS + 17)), key[32];
	crypto_secretstream_xchacha20poly1305_state st;
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	struct buf_writer w;

	if (!hdr || !ct)
		goto out;
	buf_writer_init(&w, hdr, hlen);
	buf_write_bytes(&w, "PRGE", 4);
	buf_write_u8(&w, 1);
	buf_write_u8(&w, SYNC_ENV_CASE);
	buf_write_u8(&w, SYNC_PRIO_NORMAL);
	buf_write_u8(&w, 0);
	buf_write_bytes(&w, "0123456789abcdef", 16);
	for (int i = 0; i < 16; i++)
		buf_write_u8(&w, 0);
	buf_write_bytes(&w, &sender->pub, 64);
	buf_write_bytes(&w, &recipient->pub, 64);
	buf_write_u64(&w, 1);
	buf_write_u32(&w, CS);
	buf_write_u32(&w, count);
	buf_write_u64(&w, size);
	memset(key, 7, sizeof key);
	crypto_box_seal(buf_write_reserve(&w, 80), key, 32, recipient->pub.x25519);
	crypto_secretstream_xchacha20poly1305_init_push(&st, buf_write_reserve(&w, 24), key);
	for (uint32_t i = 0; i < count; i++) {
		size_t n = i + 1 < count ? CS : size - (size_t)i * CS;
		uint8_t *c = ct + (size_t)i * (CS + 17);
		crypto_secretstream_xchacha20poly1305_push(
		        &st, c, NULL, plain + (size_t)i * CS, n, NULL, 0,
		        i + 1 < count ? 0 : crypto_secretstream_xchacha20poly1305_TAG_FINAL);
		crypto_generichash(buf_write_reserve(&w, 32), 32, c, n + 17, NULL, 0);
	}
	crypto_sign_detached(buf_write_reserve(&w, 64), NULL, hdr, hlen - 64, sender->ed25519_sk);
	if (!buf_writer_ok(&w) || sync_env_header_parse(&h, hdr, hlen) != 0)
		__builtin_trap(); /* our own valid header must parse */
	if (sync_env_open_new(&o, h, recipient) != 0)
		__builtin_trap();
	for (uint32_t i = 0; i < count; i++) {
		size_t n = (i + 1 < count ? CS : size - (size_t)i * CS) + 17;
		if (sync_env_open_chunk(o, i, ct + (size_t)i * (CS + 17), n, noop_part, NULL) != 0)
			break;
	}
	(void)sync_env_open_done(o);
out:
	sync_env_open_free(o);
	sync_env_header_free(h);
	free(hdr);
	free(ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sync_env_header *h = NULL;
	struct sync_env_content *c = NULL;
	size_t used;

	if (!sender) {
		uint8_t s[64];
		memset(s, 1, sizeof s);
		if (keys_from_secret(s, &sender) != 0)
			return 0;
		memset(s, 2, sizeof s);
		if (keys_from_secret(s, &recipient) != 0)
			return 0;
	}
	if (sync_env_header_parse(&h, data, size) == 0) {
		/* only reachable with a genuinely signed header; check its chunks are sane */
		for (uint32_t i = 0; i < h->chunk_count && i < 4; i++)
			(void)sync_env_chunk_len(h, i);
		sync_env_header_free(h);
	}
	if (sync_env_content_parse(&c, &used, data, size) == 0) {
		if (used > size)
			__builtin_trap();
		sync_env_content_free(c);
	}
	if (size > 0 && size <= 64 * 1024)
		open_forged(data, size);
	return 0;
}
