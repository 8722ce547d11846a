/* tests/fuzz/fuzz_noise.c — libFuzzer target for common/noise.c's untrusted-input paths.
 *
 * The first input byte picks the path, the rest is the untrusted message:
 *   0: IK message 1 read by a hub (responder);
 *   1: XX message 2 read by an initiator that has sent message 1;
 *   2: a transport datagram: 8-byte little-endian nonce then ciphertext, through the replay
 *      window and noise_cipher_decrypt_at.
 * The handshake objects are created once and reused: a rejected message must change nothing,
 * so the handshake hash is checked to be unchanged after every rejected input (abort if not).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct noise_handshake *ik_resp, *xx_init;
static uint8_t ik_h0[NOISE_HASH_LEN], xx_h0[NOISE_HASH_LEN];
static struct noise_cipher *rx;
static struct noise_replay replay;

static void setup(void)
{
	uint8_t is[32], rs[32], rs_pub[32], e[32], msg[128];
	struct noise_handshake *a = NULL, *b = NULL;
	struct noise_cipher *tx = NULL;
	size_t len, plen;

	memset(is, 0x11, 32);
	memset(rs, 0x22, 32);
	memset(e, 0x33, 32);
	if (sodium_init() < 0 || noise_public_key(rs_pub, rs) != 0)
		abort();
	if (noise_handshake_new(&ik_resp, NOISE_IK, NOISE_RESPONDER, NULL, 0, rs, NULL) != 0 ||
	    noise_handshake_set_ephemeral(ik_resp, e) != 0)
		abort();
	noise_handshake_hash(ik_resp, ik_h0);

	if (noise_handshake_new(&xx_init, NOISE_XX, NOISE_INITIATOR, NULL, 0, is, NULL) != 0 ||
	    noise_handshake_set_ephemeral(xx_init, e) != 0 ||
	    noise_handshake_write_message(xx_init, NULL, 0, msg, sizeof msg, &len) != 0)
		abort();
	noise_handshake_hash(xx_init, xx_h0);

	/* A real session for the transport path. */
	if (noise_handshake_new(&a, NOISE_IK, NOISE_INITIATOR, NULL, 0, is, rs_pub) != 0 ||
	    noise_handshake_new(&b, NOISE_IK, NOISE_RESPONDER, NULL, 0, rs, NULL) != 0 ||
	    noise_handshake_write_message(a, NULL, 0, msg, sizeof msg, &len) != 0 ||
	    noise_handshake_read_message(b, msg, len, NULL, 0, &plen) != 0 ||
	    noise_handshake_write_message(b, NULL, 0, msg, sizeof msg, &len) != 0 ||
	    noise_handshake_read_message(a, msg, len, NULL, 0, &plen) != 0 ||
	    noise_handshake_split(b, &tx, &rx) != 0)
		abort();
	noise_cipher_free(tx);
	noise_handshake_free(a);
	noise_handshake_free(b);
	noise_replay_init(&replay);
}

/* Reads msg with hs; on rejection the hash must be what it was. */
static void read_untrusted(struct noise_handshake **hs, const uint8_t h0[NOISE_HASH_LEN],
                           const uint8_t *msg, size_t len)
{
	static uint8_t payload[NOISE_MSG_MAX];
	uint8_t h[NOISE_HASH_LEN], key[32];
	size_t plen;

	if (noise_handshake_read_message(*hs, msg, len, payload, sizeof payload, &plen) == 0) {
		/* Only a genuine message can get here; start over so later inputs are tested
		 * against the same initial state. */
		noise_handshake_free(ik_resp);
		noise_handshake_free(xx_init);
		noise_cipher_free(rx);
		setup();
		return;
	}
	noise_handshake_hash(*hs, h);
	if (memcmp(h, h0, sizeof h) != 0 || noise_handshake_is_done(*hs))
		abort();
	if (*hs == ik_resp && noise_handshake_remote_static(*hs, key) == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[NOISE_MSG_MAX];
	uint64_t nonce = 0;
	int i;

	if (rx == NULL)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		read_untrusted(&ik_resp, ik_h0, data + 1, size - 1);
		break;
	case 1:
		read_untrusted(&xx_init, xx_h0, data + 1, size - 1);
		break;
	default:
		if (size < 9)
			return 0;
		for (i = 0; i < 8; i++)
			nonce |= (uint64_t)data[1 + i] << (8 * i);
		if (noise_replay_check(&replay, nonce) != 0)
			return 0;
		if (noise_cipher_decrypt_at(rx, nonce, NULL, 0, data + 9, size - 9, out) == 0 &&
		    noise_replay_update(&replay, nonce) != 0)
			abort();
		/* The window itself also takes arbitrary counters without misbehaving. */
		if (noise_replay_update(&replay, nonce) == 0 &&
		    noise_replay_check(&replay, nonce) == 0)
			abort();
		break;
	}
	return 0;
}
