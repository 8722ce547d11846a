/* bench/bench_tunnel.c — the UDP tunnel's packet core on one core (no sockets).
 *
 * Rows (see bench/run.sh):
 *   - transport packets/s through the core: relay_tunnel_encrypt on a clinic core, then
 *     relay_tunnel_input on a hub core (index lookup, replay window, decrypt, action list),
 *     1200-byte payloads; anchor: raw noise_cipher_encrypt_at + noise_cipher_decrypt_at of the
 *     same payloads. The ratio is what the tunnel's framing costs over the AEAD itself.
 *   - responder handshakes/s: genuine initiations (mac1, Noise IK msg 1 read, allow check,
 *     response written, session split and stored); anchor: the same initiations answered by a
 *     stateless cookie reply when the hub is under load. The ratio says how much cheaper the
 *     cookie path is (value / anchor).
 * Initiations are made in advance (the initiator's cost is not counted); each round uses a
 * fresh hub so their timestamps are new to it. Rates are per CPU-second of this thread
 * (CLOCK_THREAD_CPUTIME_ID); each figure is the best of 3 rounds interleaved with its anchor.
 * BENCH_SECONDS (default 0.5) sets the CPU time of one round.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "common/noise.h"
#include "relay/tunnel.h"

#define ROUNDS   3
#define PKT_LEN  1200
#define POOL_MAX 4000

static double round_secs = 0.5;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_tunnel: %s: %s\n", what, relay_tunnel_strerror(err));
	exit(1);
}

static uint8_t hub_sk[32], hub_pk[32], clinic_sk[32], clinic_pk[32];
static struct sockaddr_in clinic_addr, hub_addr;
static const uint64_t now = 1000000;

static bool allow(const uint8_t key[NOISE_KEY_LEN], void *arg)
{
	return memcmp(key, clinic_pk, NOISE_KEY_LEN) == 0;
}

static struct relay_tunnel *new_hub(uint32_t cookie_threshold)
{
	struct relay_tunnel_config c;
	struct relay_tunnel *t;
	int ret;

	memset(&c, 0, sizeof c);
	c.role = RELAY_TUNNEL_HUB;
	c.local_private = hub_sk;
	c.allow = allow;
	c.cookie_threshold = cookie_threshold;
	if ((ret = relay_tunnel_core_new(&t, &c)) != 0)
		die("hub", ret);
	return t;
}

static struct relay_tunnel *new_clinic(void)
{
	struct relay_tunnel_config c;
	struct relay_tunnel *t;
	int ret;

	memset(&c, 0, sizeof c);
	c.role = RELAY_TUNNEL_CLINIC;
	c.local_private = clinic_sk;
	c.peer_public = hub_pk;
	c.peer_addr = (struct sockaddr *)&hub_addr;
	c.peer_addrlen = sizeof hub_addr;
	if ((ret = relay_tunnel_core_new(&t, &c)) != 0)
		die("clinic", ret);
	return t;
}

static int input(struct relay_tunnel *t, const uint8_t *d, size_t len,
                 const struct sockaddr_in *from, struct relay_tunnel_actions *acts)
{
	acts->n = 0;
	return relay_tunnel_input(t, d, len, (const struct sockaddr *)from, sizeof *from, now,
	                          acts);
}

/* ---- transport ---- */

static double transport_rate(struct relay_tunnel *c, struct relay_tunnel *h,
                             struct relay_tunnel_actions *ca, struct relay_tunnel_actions *ha,
                             const uint8_t *pt)
{
	double t0 = cpu_now(), t;
	unsigned long n = 0;
	int ret;

	do {
		ca->n = 0;
		if ((ret = relay_tunnel_encrypt(c, 1, pt, PKT_LEN, now, ca)) != 0)
			die("encrypt", ret);
		if ((ret = input(h, ca->a[0].data, ca->a[0].len, &clinic_addr, ha)) != 0 ||
		    ha->n != 1 || ha->a[0].len != PKT_LEN)
			die("input", ret);
		n++;
		t = cpu_now();
	} while (t - t0 < round_secs);
	return (double)n / (t - t0);
}

static double raw_rate(struct noise_cipher *tx, struct noise_cipher *rx, const uint8_t *pt,
                       uint8_t *ct, uint8_t *out)
{
	double t0 = cpu_now(), t;
	unsigned long n = 0;
	static uint64_t nonce;
	int ret;

	do {
		if ((ret = noise_cipher_encrypt_at(tx, nonce, NULL, 0, pt, PKT_LEN, ct)) != 0 ||
		    (ret = noise_cipher_decrypt_at(rx, nonce, NULL, 0, ct, PKT_LEN + NOISE_TAG_LEN,
		                                   out)) != 0)
			die("raw", ret);
		nonce++;
		n++;
		t = cpu_now();
	} while (t - t0 < round_secs);
	return (double)n / (t - t0);
}

static void raw_ciphers(struct noise_cipher **tx, struct noise_cipher **rx)
{
	struct noise_handshake *i = NULL, *r = NULL;
	struct noise_cipher *itx = NULL, *irx = NULL, *rtx = NULL, *rrx = NULL;
	uint8_t msg[256], pl[64];
	size_t len, plen;
	int ret;

	if ((ret = noise_handshake_new(&i, NOISE_IK, NOISE_INITIATOR, NULL, 0, clinic_sk,
	                               hub_pk)) ||
	    (ret = noise_handshake_new(&r, NOISE_IK, NOISE_RESPONDER, NULL, 0, hub_sk, NULL)) ||
	    (ret = noise_handshake_write_message(i, NULL, 0, msg, sizeof msg, &len)) ||
	    (ret = noise_handshake_read_message(r, msg, len, pl, sizeof pl, &plen)) ||
	    (ret = noise_handshake_write_message(r, NULL, 0, msg, sizeof msg, &len)) ||
	    (ret = noise_handshake_read_message(i, msg, len, pl, sizeof pl, &plen)) ||
	    (ret = noise_handshake_split(i, &itx, &irx)) ||
	    (ret = noise_handshake_split(r, &rtx, &rrx)))
		die("raw handshake", ret);
	noise_handshake_free(i);
	noise_handshake_free(r);
	noise_cipher_free(irx);
	noise_cipher_free(rtx);
	*tx = itx;
	*rx = rrx;
}

/* ---- handshakes ---- */

static uint8_t (*pool)[RELAY_TUNNEL_INIT_LEN];
static size_t npool;

/* Initiations from one clinic, with increasing timestamps (handshake retries). */
static void make_pool(size_t n)
{
	struct relay_tunnel *c = new_clinic();
	struct relay_tunnel_actions *acts = calloc(1, sizeof *acts);
	uint64_t t = now;
	int ret;

	pool = calloc(n, sizeof *pool);
	if (pool == NULL || acts == NULL)
		die("pool", -12);
	for (npool = 0; npool < n; npool++) {
		acts->n = 0;
		if ((ret = relay_tunnel_tick(c, t, acts)) != 0 || acts->n != 1 ||
		    acts->a[0].len != RELAY_TUNNEL_INIT_LEN)
			die("pool tick", ret);
		memcpy(pool[npool], acts->a[0].data, RELAY_TUNNEL_INIT_LEN);
		t += 5000; /* rekey_timeout: each tick is a retry with a fresh initiation */
	}
	relay_tunnel_free(c);
	free(acts);
}

/* Full responder path: a fresh hub answers pool initiations in order. */
static double handshake_rate(struct relay_tunnel_actions *acts)
{
	struct relay_tunnel *h = new_hub(UINT32_MAX);
	double t0 = cpu_now(), t;
	size_t n = 0;
	int ret;

	do {
		if ((ret = input(h, pool[n], RELAY_TUNNEL_INIT_LEN, &clinic_addr, acts)) != 0 ||
		    acts->n != 1 || acts->a[0].len != RELAY_TUNNEL_RESP_LEN)
			die("responder", ret);
		n++;
		t = cpu_now();
	} while (t - t0 < round_secs && n < npool);
	relay_tunnel_free(h);
	return (double)n / (t - t0);
}

/* Cookie path: the hub is under load (threshold 1), initiations lack mac2. */
static double cookie_rate(struct relay_tunnel_actions *acts)
{
	struct relay_tunnel *h = new_hub(1);
	double t0, t;
	size_t n = 0;
	int ret;

	(void)input(h, pool[0], RELAY_TUNNEL_INIT_LEN, &clinic_addr, acts); /* within threshold */
	t0 = cpu_now();
	do {
		ret = input(h, pool[n % npool], RELAY_TUNNEL_INIT_LEN, &clinic_addr, acts);
		if (ret != RELAY_TUNNEL_ECOOKIE || acts->n != 1 ||
		    acts->a[0].len != RELAY_TUNNEL_COOKIE_LEN)
			die("cookie", ret);
		n++;
		t = cpu_now();
	} while (t - t0 < round_secs);
	relay_tunnel_free(h);
	return (double)n / (t - t0);
}

int main(void)
{
	const char *secs = getenv("BENCH_SECONDS");
	struct relay_tunnel_actions *ca = calloc(1, sizeof *ca), *ha = calloc(1, sizeof *ha);
	struct relay_tunnel *c, *h;
	struct noise_cipher *tx, *rx;
	uint8_t *pt = malloc(PKT_LEN), *ct = malloc(PKT_LEN + NOISE_TAG_LEN),
	        *out = malloc(PKT_LEN);
	double tun = 0, raw = 0, hs = 0, ck = 0, v;
	size_t pool_n;
	int ret;

	if (sodium_init() < 0 || ca == NULL || ha == NULL || pt == NULL || ct == NULL || !out)
		return 1;
	if (secs && atof(secs) > 0)
		round_secs = atof(secs);
	randombytes_buf(hub_sk, sizeof hub_sk);
	randombytes_buf(clinic_sk, sizeof clinic_sk);
	randombytes_buf(pt, PKT_LEN);
	if (noise_public_key(hub_pk, hub_sk) != 0 || noise_public_key(clinic_pk, clinic_sk) != 0)
		return 1;
	memset(&clinic_addr, 0, sizeof clinic_addr);
	clinic_addr.sin_family = AF_INET;
	clinic_addr.sin_port = htons(40000);
	clinic_addr.sin_addr.s_addr = htonl(0x0a000002);
	hub_addr = clinic_addr;
	hub_addr.sin_port = htons(51820);
	hub_addr.sin_addr.s_addr = htonl(0xc0000201);

	/* Connect a clinic core and a hub core by hand. */
	c = new_clinic();
	h = new_hub(UINT32_MAX);
	if ((ret = relay_tunnel_tick(c, now, ca)) != 0 || ca->n != 1)
		die("tick", ret);
	if ((ret = input(h, ca->a[0].data, ca->a[0].len, &clinic_addr, ha)) != 0)
		die("init", ret);
	if ((ret = input(c, ha->a[0].data, ha->a[0].len, &hub_addr, ca)) != 0 ||
	    !relay_tunnel_peer_is_up(c, 1))
		die("response", ret);
	for (size_t i = 0; i < ca->n; i++)
		if (ca->a[i].type == RELAY_TUNNEL_ACT_SEND &&
		    (ret = input(h, ca->a[i].data, ca->a[i].len, &clinic_addr, ha)) != 0)
			die("confirm", ret);
	raw_ciphers(&tx, &rx);

	for (int r = 0; r < ROUNDS; r++) {
		if ((v = transport_rate(c, h, ca, ha, pt)) > tun)
			tun = v;
		if ((v = raw_rate(tx, rx, pt, ct, out)) > raw)
			raw = v;
	}
	printf("ROW\ttunnel transport packets/s (1200 B, encrypt+decrypt, 1 core)\t%.0f packets/s\t"
	       "raw noise_cipher_encrypt_at+decrypt_at\t%.0f packets/s\t%.2f\n",
	       tun, raw, tun / raw);
	fflush(stdout);

	/* Enough initiations for one round at up to ~5000 handshakes/s. */
	pool_n = (size_t)(round_secs * 5000);
	if (pool_n > POOL_MAX)
		pool_n = POOL_MAX;
	if (pool_n < 100)
		pool_n = 100;
	make_pool(pool_n);
	for (int r = 0; r < ROUNDS; r++) {
		if ((v = handshake_rate(ha)) > hs)
			hs = v;
		if ((v = cookie_rate(ha)) > ck)
			ck = v;
	}
	printf("ROW\ttunnel responder handshakes/s (IK msg 1 -> response + session, 1 core)\t%.0f "
	       "handshakes/s\tcookie replies/s under load (same initiations)\t%.0f "
	       "replies/s\t%.3f\n",
	       hs, ck, hs / ck);

	noise_cipher_free(tx);
	noise_cipher_free(rx);
	relay_tunnel_free(c);
	relay_tunnel_free(h);
	free(pool);
	free(ca);
	free(ha);
	free(pt);
	free(ct);
	free(out);
	return 0;
}
