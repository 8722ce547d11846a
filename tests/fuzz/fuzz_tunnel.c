/* tests/fuzz/fuzz_tunnel.c — libFuzzer target for the tunnel's packet core (relay/tunnel.c).
 *
 * A clinic core and a hub core are connected once (real handshake, no sockets). Each input then
 * picks a mode with its first byte:
 *   0  the rest is a datagram for the hub (from the clinic's address or a stranger's)
 *   1  the rest is a datagram for the clinic
 *   2  like 0/1, but mac1 is recomputed for the receiver first, so handshake messages get past
 *      the cheap check into Noise and the allow-list
 *   3  the rest is a plaintext: the clinic encrypts it, one byte of the datagram may be flipped,
 *      and the hub must deliver exactly the plaintext when nothing was flipped and nothing when
 *      something was
 *   4  advance the clock (timers: keepalive, rekey, expiry, retries) and run both ticks
 * The hub accepts datagrams up to RELAY_TUNNEL_DGRAM_LIMIT (dgram_max, as a sync tunnel with
 * [sync] udp_datagram = 5912), the clinic up to the default 1472.
 * Invariants (abort on violation): no input yields more than 2 actions; the clinic→hub path is
 * a faithful, tamper-evident channel. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/noise.h"
#include "relay/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct relay_tunnel *hub, *clinic;
static struct sockaddr_in clinic_addr, hub_addr, stranger_addr;
static uint8_t hub_pk[NOISE_KEY_LEN], clinic_pk[NOISE_KEY_LEN];
static uint64_t now = 1000000;
static struct relay_tunnel_actions *acts_pool[8];
static int depth;
/* What the hub delivered during the current input. */
static int delivered;
static uint8_t last[RELAY_TUNNEL_DGRAM_LIMIT];
static size_t last_len;

static bool allow(const uint8_t key[NOISE_KEY_LEN], void *arg)
{
	return memcmp(key, clinic_pk, NOISE_KEY_LEN) == 0;
}

static void pump(int from_hub, struct relay_tunnel_actions *acts);

static int feed(int to_hub, const uint8_t *d, size_t len, const struct sockaddr_in *src)
{
	struct relay_tunnel_actions *acts;
	int rc;

	if (depth >= 8)
		return 0; /* a handshake exchange is 3 deep; deeper would be a loop */
	acts = acts_pool[depth++];
	acts->n = 0;
	rc = relay_tunnel_input(to_hub ? hub : clinic, d, len, (const struct sockaddr *)src,
	                        sizeof *src, now, acts);
	if (acts->n > 2)
		abort();
	pump(to_hub, acts);
	depth--;
	return rc;
}

static void pump(int from_hub, struct relay_tunnel_actions *acts)
{
	for (size_t i = 0; i < acts->n; i++) {
		struct relay_tunnel_action *a = &acts->a[i];
		if (a->type == RELAY_TUNNEL_ACT_SEND)
			(void)feed(!from_hub, a->data, a->len, from_hub ? &hub_addr : &clinic_addr);
		else if (a->type == RELAY_TUNNEL_ACT_DELIVER && from_hub) {
			delivered++;
			memcpy(last, a->data, a->len);
			last_len = a->len;
		}
	}
	acts->n = 0;
}

static void tick_both(void)
{
	struct relay_tunnel_actions *acts = acts_pool[depth++];
	int rc;

	for (int side = 0; side < 2; side++) {
		do {
			acts->n = 0;
			rc = relay_tunnel_tick(side ? hub : clinic, now, acts);
			pump(side, acts);
		} while (rc == 1);
	}
	depth--;
}

static struct sockaddr_in mk(const char *ip, uint16_t port)
{
	struct sockaddr_in a;

	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin_addr);
	return a;
}

static void setup(void)
{
	uint8_t hub_sk[NOISE_KEY_LEN], clinic_sk[NOISE_KEY_LEN];
	struct relay_tunnel_config hc, cc;

	if (sodium_init() < 0)
		abort();
	for (int i = 0; i < 8; i++)
		if ((acts_pool[i] = calloc(1, sizeof *acts_pool[i])) == NULL)
			abort();
	memset(hub_sk, 0x11, sizeof hub_sk);
	memset(clinic_sk, 0x22, sizeof clinic_sk);
	if (noise_public_key(hub_pk, hub_sk) != 0 || noise_public_key(clinic_pk, clinic_sk) != 0)
		abort();
	clinic_addr = mk("10.0.0.2", 40000);
	hub_addr = mk("192.0.2.1", 51820);
	stranger_addr = mk("203.0.113.5", 4444);
	memset(&hc, 0, sizeof hc);
	hc.role = RELAY_TUNNEL_HUB;
	hc.local_private = hub_sk;
	hc.allow = allow;
	hc.cookie_threshold = 50;
	hc.dgram_max = RELAY_TUNNEL_DGRAM_LIMIT;
	memset(&cc, 0, sizeof cc);
	cc.role = RELAY_TUNNEL_CLINIC;
	cc.local_private = clinic_sk;
	cc.peer_public = hub_pk;
	cc.peer_addr = (const struct sockaddr *)&hub_addr;
	cc.peer_addrlen = sizeof hub_addr;
	if (relay_tunnel_core_new(&hub, &hc) != 0 || relay_tunnel_core_new(&clinic, &cc) != 0)
		abort();
	tick_both(); /* clinic initiates; the exchange completes through pump() */
	if (!relay_tunnel_peer_is_up(clinic, 1))
		abort();
}

/* Recomputes mac1 of a handshake message for the receiver whose public key is pk. */
static void fix_mac1(uint8_t *d, size_t len, const uint8_t pk[NOISE_KEY_LEN])
{
	uint8_t k[32];
	size_t off;
	crypto_generichash_state g;

	if (len == RELAY_TUNNEL_INIT_LEN && d[0] == RELAY_TUNNEL_MSG_INIT)
		off = RELAY_TUNNEL_INIT_LEN - 2 * RELAY_TUNNEL_MAC_LEN;
	else if (len == RELAY_TUNNEL_RESP_LEN && d[0] == RELAY_TUNNEL_MSG_RESPONSE)
		off = RELAY_TUNNEL_RESP_LEN - 2 * RELAY_TUNNEL_MAC_LEN;
	else
		return;
	crypto_generichash_init(&g, NULL, 0, sizeof k);
	crypto_generichash_update(&g, (const uint8_t *)RELAY_TUNNEL_LABEL_MAC1, 8);
	crypto_generichash_update(&g, pk, NOISE_KEY_LEN);
	crypto_generichash_final(&g, k, sizeof k);
	crypto_generichash(d + off, RELAY_TUNNEL_MAC_LEN, d, off, k, sizeof k);
}

static void mode_roundtrip(const uint8_t *pt, size_t len)
{
	struct relay_tunnel_actions *acts = acts_pool[depth++];
	uint8_t flip_at = 0, flip = 0;
	int rc;

	if (len >= 2) {
		flip_at = pt[0];
		flip = pt[1];
		pt += 2;
		len -= 2;
	}
	if (len > RELAY_TUNNEL_PAYLOAD_MAX)
		len = RELAY_TUNNEL_PAYLOAD_MAX;
	acts->n = 0;
	rc = relay_tunnel_encrypt(clinic, 1, pt, len, now, acts);
	if (rc == 0) {
		struct relay_tunnel_action *a = &acts->a[0];
		int before = delivered;
		if (a->type != RELAY_TUNNEL_ACT_SEND || a->len != len + RELAY_TUNNEL_OVERHEAD)
			abort();
		a->data[flip_at % a->len] ^= flip;
		rc = feed(1, a->data, a->len, &clinic_addr);
		if (flip == 0) {
			if (rc != 0 || (len > 0 && (delivered != before + 1 || last_len != len ||
			                            memcmp(last, pt, len) != 0)))
				abort();
		} else if (rc == 0 || delivered != before) {
			abort(); /* a tampered packet was accepted */
		}
		/* Anything else the clinic produced (a rekey initiation) goes out too. */
		for (size_t i = 1; i < acts->n; i++)
			(void)feed(1, acts->a[i].data, acts->a[i].len, &clinic_addr);
	} else {
		pump(0, acts);
	}
	acts->n = 0;
	depth--;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[RELAY_TUNNEL_DGRAM_LIMIT + 64];
	uint8_t mode;

	if (hub == NULL)
		setup();
	if (size < 1)
		return 0;
	mode = data[0];
	data++;
	size--;
	now += 3;
	switch (mode % 5) {
	case 0:
		(void)feed(1, data, size, (mode & 0x80) ? &stranger_addr : &clinic_addr);
		break;
	case 1:
		(void)feed(0, data, size, &hub_addr);
		break;
	case 2:
		if (size > sizeof buf)
			size = sizeof buf;
		memcpy(buf, data, size);
		if (mode & 0x80) {
			fix_mac1(buf, size, clinic_pk);
			(void)feed(0, buf, size, &hub_addr);
		} else {
			fix_mac1(buf, size, hub_pk);
			(void)feed(1, buf, size, (mode & 0x40) ? &stranger_addr : &clinic_addr);
		}
		break;
	case 3:
		mode_roundtrip(data, size);
		break;
	case 4:
		now += (uint64_t)(size ? data[0] : 1) * 1000;
		tick_both();
		break;
	}
	return 0;
}
