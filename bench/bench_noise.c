/* bench/bench_noise.c — Noise session core speed on one core, against raw libsodium.
 *
 * Rows (see bench/run.sh):
 *   - full IK handshakes/s (both sides in this process: new, 2 messages, split, free) against
 *     raw crypto_scalarmult ops/s. One handshake costs 12 X25519 operations (each side: its
 *     public key, its ephemeral, 4 DH), so the ratio handshakes/s ÷ scalarmult/s is at best
 *     1/12 = 0.083. What is below that is mostly sodium_malloc: each secure allocation +
 *     free costs 55-135 us of CPU here depending on machine load (mmap, guard pages, mlock),
 *     and a handshake makes four (two handshake states, one cipher pair per side), which also
 *     makes this row noisy on a busy machine; BLAKE2b/HMAC and AEAD are a few us in all.
 *   - transport encrypt MB/s (noise_cipher_encrypt) with 1200-byte and 64 KiB (65519-byte, the
 *     largest Noise payload) messages against crypto_aead_chacha20poly1305_ietf_encrypt on the
 *     same sizes, ratio in %.
 * Rates are per CPU-second of this thread (CLOCK_THREAD_CPUTIME_ID), so a busy shared machine
 * slows the run but not the numbers; each measure is the best of 3 rounds, interleaved with its
 * anchor. BENCH_SECONDS (default 0.5) sets the CPU time of one round.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/noise.h"

#define ROUNDS 3

static double round_secs = 0.5;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs fn(arg) repeatedly for round_secs of CPU; returns calls per CPU-second. */
static double rate(void (*fn)(void *), void *arg)
{
	double t0 = cpu_now(), t;
	unsigned long n = 0;

	do {
		fn(arg);
		n++;
		t = cpu_now();
	} while (t - t0 < round_secs);
	return (double)n / (t - t0);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_noise: %s: %s\n", what, noise_strerror(err));
	exit(1);
}

/* ---- X25519 anchor and handshakes ---- */

struct hs_ctx {
	uint8_t is[32], rs[32], rs_pub[32], a[32], b[32];
};

static void one_scalarmult(void *arg)
{
	struct hs_ctx *c = arg;

	/* Feed the output back so the call cannot be optimised away or cached. */
	if (crypto_scalarmult(c->a, c->is, c->b) != 0)
		die("scalarmult", NOISE_EDH);
	memcpy(c->b, c->a, 32);
}

static void one_handshake(void *arg)
{
	struct hs_ctx *c = arg;
	struct noise_handshake *i = NULL, *r = NULL;
	struct noise_cipher *itx = NULL, *irx = NULL, *rtx = NULL, *rrx = NULL;
	uint8_t msg[256], pl[64];
	size_t len, plen;
	int ret;

	if ((ret = noise_handshake_new(&i, NOISE_IK, NOISE_INITIATOR, NULL, 0, c->is, c->rs_pub)) ||
	    (ret = noise_handshake_new(&r, NOISE_IK, NOISE_RESPONDER, NULL, 0, c->rs, NULL)) ||
	    (ret = noise_handshake_write_message(i, NULL, 0, msg, sizeof msg, &len)) ||
	    (ret = noise_handshake_read_message(r, msg, len, pl, sizeof pl, &plen)) ||
	    (ret = noise_handshake_write_message(r, NULL, 0, msg, sizeof msg, &len)) ||
	    (ret = noise_handshake_read_message(i, msg, len, pl, sizeof pl, &plen)) ||
	    (ret = noise_handshake_split(i, &itx, &irx)) ||
	    (ret = noise_handshake_split(r, &rtx, &rrx)))
		die("handshake", ret);
	noise_handshake_free(i);
	noise_handshake_free(r);
	noise_cipher_free(itx);
	noise_cipher_free(irx);
	noise_cipher_free(rtx);
	noise_cipher_free(rrx);
}

/* ---- AEAD anchor and transport ---- */

struct tx_ctx {
	struct noise_cipher *cs;
	uint8_t key[32];
	uint64_t n;
	size_t len;
	uint8_t *pt, *out;
};

static void one_raw_encrypt(void *arg)
{
	struct tx_ctx *c = arg;
	uint8_t nonce[12] = {0};

	memcpy(nonce + 4, &c->n, 8);
	c->n++;
	crypto_aead_chacha20poly1305_ietf_encrypt(c->out, NULL, c->pt, c->len, NULL, 0, NULL, nonce,
	                                          c->key);
}

static void one_noise_encrypt(void *arg)
{
	struct tx_ctx *c = arg;
	int ret;

	if ((ret = noise_cipher_encrypt(c->cs, NULL, 0, c->pt, c->len, c->out)) != 0)
		die("encrypt", ret);
}

static double best(double a, double b)
{
	return a > b ? a : b;
}

int main(void)
{
	struct hs_ctx hc;
	struct tx_ctx tc;
	struct noise_handshake *i = NULL, *r = NULL;
	struct noise_cipher *irx = NULL, *rtx = NULL, *rrx = NULL;
	static const size_t sizes[2] = {1200, NOISE_PAYLOAD_MAX};
	static const char *const names[2] = {"1200 B", "64 KiB"};
	double hs = 0, sm = 0;
	const char *env = getenv("BENCH_SECONDS");
	uint8_t msg[256];
	size_t len, plen, s;
	int k, ret;

	if (env != NULL && atof(env) > 0)
		round_secs = atof(env);
	if (sodium_init() < 0)
		die("sodium_init", -1);
	randombytes_buf(hc.is, 32);
	randombytes_buf(hc.rs, 32);
	randombytes_buf(hc.b, 32);
	if ((ret = noise_public_key(hc.rs_pub, hc.rs)) != 0 ||
	    (ret = noise_public_key(hc.b, hc.b)) != 0)
		die("keys", ret);

	for (k = 0; k < ROUNDS; k++) {
		sm = best(sm, rate(one_scalarmult, &hc));
		hs = best(hs, rate(one_handshake, &hc));
	}
	printf("ROW\tnoise IK full handshake, both sides, 1 core (12 X25519 ops each)\t%.0f "
	       "handshakes/s\tlibsodium crypto_scalarmult (X25519)\t%.0f ops/s\t%.4f\n",
	       hs, sm, hs / sm);

	/* A real session for the transport rows. */
	if ((ret = noise_handshake_new(&i, NOISE_IK, NOISE_INITIATOR, NULL, 0, hc.is, hc.rs_pub)) ||
	    (ret = noise_handshake_new(&r, NOISE_IK, NOISE_RESPONDER, NULL, 0, hc.rs, NULL)) ||
	    (ret = noise_handshake_write_message(i, NULL, 0, msg, sizeof msg, &len)) ||
	    (ret = noise_handshake_read_message(r, msg, len, NULL, 0, &plen)) ||
	    (ret = noise_handshake_write_message(r, NULL, 0, msg, sizeof msg, &len)) ||
	    (ret = noise_handshake_read_message(i, msg, len, NULL, 0, &plen)) ||
	    (ret = noise_handshake_split(i, &tc.cs, &irx)) ||
	    (ret = noise_handshake_split(r, &rtx, &rrx)))
		die("session", ret);
	randombytes_buf(tc.key, sizeof tc.key);
	tc.pt = malloc(NOISE_MSG_MAX);
	tc.out = malloc(NOISE_MSG_MAX);
	if (tc.pt == NULL || tc.out == NULL)
		die("malloc", -12);
	randombytes_buf(tc.pt, NOISE_MSG_MAX);
	for (s = 0; s < 2; s++) {
		double raw = 0, noise = 0;

		tc.len = sizes[s];
		tc.n = 0;
		for (k = 0; k < ROUNDS; k++) {
			raw = best(raw, rate(one_raw_encrypt, &tc));
			noise = best(noise, rate(one_noise_encrypt, &tc));
		}
		raw *= (double)tc.len / 1e6;
		noise *= (double)tc.len / 1e6;
		printf("ROW\tnoise transport encrypt, %s messages, 1 core\t%.1f MB/s\tlibsodium "
		       "chacha20poly1305_ietf_encrypt, same size\t%.1f MB/s\t%.1f%%\n",
		       names[s], noise, raw, 100.0 * noise / raw);
	}
	free(tc.pt);
	free(tc.out);
	noise_cipher_free(tc.cs);
	noise_cipher_free(irx);
	noise_cipher_free(rtx);
	noise_cipher_free(rrx);
	noise_handshake_free(i);
	noise_handshake_free(r);
	return 0;
}
