/* tests/unit/test_noise.c — Noise IK/XX against the public vectors, plus failure behaviour,
 * explicit nonces, the replay window and rekey. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "common/noise.h"
#include "tests/unit/util/testutil.h"

/* ---- Helpers ------------------------------------------------------------------------------ */

/* Decodes a hex JSON string field into a malloc'd buffer; *len receives its length. */
static uint8_t *hex_field(json_t *obj, const char *key, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	const char *hex;
	size_t hlen, bin_len = 0;
	uint8_t *bin;

	assert_non_null(v);
	hex = json_string_value(v);
	assert_non_null(hex);
	hlen = strlen(hex);
	bin = malloc(hlen / 2 + 1);
	assert_non_null(bin);
	assert_int_equal(sodium_hex2bin(bin, hlen / 2 + 1, hex, hlen, NULL, &bin_len, NULL), 0);
	assert_int_equal(bin_len * 2, hlen);
	*len = bin_len;
	return bin;
}

static void key_field(json_t *obj, const char *key, uint8_t out[NOISE_KEY_LEN])
{
	size_t len;
	uint8_t *b = hex_field(obj, key, &len);

	assert_int_equal(len, NOISE_KEY_LEN);
	memcpy(out, b, NOISE_KEY_LEN);
	free(b);
}

struct peer {
	struct noise_handshake *hs;
	struct noise_cipher *tx, *rx;
};

static void peer_free(struct peer *p)
{
	noise_handshake_free(p->hs);
	noise_cipher_free(p->tx);
	noise_cipher_free(p->rx);
	memset(p, 0, sizeof *p);
}

/* Sends one handshake message from a to b; checks b got the payload. */
static void hs_exchange(struct peer *a, struct peer *b, const uint8_t *payload, size_t plen)
{
	uint8_t msg[NOISE_MSG_MAX], got[NOISE_MSG_MAX];
	size_t mlen = 0, glen = 0;

	assert_true(noise_handshake_wants_write(a->hs));
	assert_false(noise_handshake_wants_write(b->hs));
	assert_int_equal(
	        noise_handshake_write_message(a->hs, payload, plen, msg, sizeof msg, &mlen), 0);
	assert_int_equal(noise_handshake_read_message(b->hs, msg, mlen, got, sizeof got, &glen), 0);
	assert_int_equal(glen, plen);
	if (plen)
		assert_memory_equal(got, payload, plen);
}

static void split_both(struct peer *a, struct peer *b)
{
	uint8_t ha[NOISE_HASH_LEN], hb[NOISE_HASH_LEN];

	assert_true(noise_handshake_is_done(a->hs));
	assert_true(noise_handshake_is_done(b->hs));
	noise_handshake_hash(a->hs, ha);
	noise_handshake_hash(b->hs, hb);
	assert_memory_equal(ha, hb, sizeof ha);
	assert_int_equal(noise_handshake_split(a->hs, &a->tx, &a->rx), 0);
	assert_int_equal(noise_handshake_split(b->hs, &b->tx, &b->rx), 0);
}

/* A complete handshake with random keys: i is the initiator, r the responder. */
static void make_pair(enum noise_pattern pat, struct peer *i, struct peer *r, uint8_t is[32],
                      uint8_t rs[32], uint8_t rs_pub[32])
{
	uint8_t rs_pin[32];

	memset(i, 0, sizeof *i);
	memset(r, 0, sizeof *r);
	randombytes_buf(is, 32);
	randombytes_buf(rs, 32);
	assert_int_equal(noise_public_key(rs_pin, rs), 0);
	if (rs_pub != NULL)
		memcpy(rs_pub, rs_pin, 32);
	assert_int_equal(noise_handshake_new(&i->hs, pat, NOISE_INITIATOR, (const uint8_t *)"p", 1,
	                                     is, pat == NOISE_IK ? rs_pin : NULL),
	                 0);
	assert_int_equal(noise_handshake_new(&r->hs, pat, NOISE_RESPONDER, (const uint8_t *)"p", 1,
	                                     rs, NULL),
	                 0);
}

static void full_handshake(enum noise_pattern pat, struct peer *i, struct peer *r)
{
	uint8_t is[32], rs[32];

	make_pair(pat, i, r, is, rs, NULL);
	hs_exchange(i, r, (const uint8_t *)"one", 3);
	hs_exchange(r, i, (const uint8_t *)"two", 3);
	if (pat == NOISE_XX)
		hs_exchange(i, r, (const uint8_t *)"three", 5);
	split_both(i, r);
}

/* ---- Vectors ------------------------------------------------------------------------------ */

/* Runs one vector; returns 1 (so callers can count what actually ran). */
static int run_vector(json_t *v, const char *name)
{
	enum noise_pattern pat = strstr(name, "_IK_") != NULL ? NOISE_IK : NOISE_XX;
	unsigned n_hs = pat == NOISE_IK ? 2 : 3;
	struct peer ini = {0}, res = {0}, *snd, *rcv;
	uint8_t is[32], ie[32], rs[32], re[32], irs[32];
	uint8_t *ipro, *rpro;
	size_t ipro_len, rpro_len, i;
	json_t *msgs, *hh;

	key_field(v, "init_static", is);
	key_field(v, "init_ephemeral", ie);
	key_field(v, "resp_static", rs);
	key_field(v, "resp_ephemeral", re);
	ipro = hex_field(v, "init_prologue", &ipro_len);
	rpro = hex_field(v, "resp_prologue", &rpro_len);
	if (pat == NOISE_IK)
		key_field(v, "init_remote_static", irs);

	assert_int_equal(noise_handshake_new(&ini.hs, pat, NOISE_INITIATOR, ipro, ipro_len, is,
	                                     pat == NOISE_IK ? irs : NULL),
	                 0);
	assert_int_equal(
	        noise_handshake_new(&res.hs, pat, NOISE_RESPONDER, rpro, rpro_len, rs, NULL), 0);
	assert_int_equal(noise_handshake_set_ephemeral(ini.hs, ie), 0);
	assert_int_equal(noise_handshake_set_ephemeral(res.hs, re), 0);

	msgs = json_object_get(v, "messages");
	assert_true(json_is_array(msgs));
	assert_true(json_array_size(msgs) > n_hs); /* every file has transport messages */
	for (i = 0; i < json_array_size(msgs); i++) {
		json_t *m = json_array_get(msgs, i);
		uint8_t out[NOISE_MSG_MAX], back[NOISE_MSG_MAX];
		uint8_t *pl, *ct;
		size_t pl_len, ct_len, olen = 0, blen = 0;

		pl = hex_field(m, "payload", &pl_len);
		ct = hex_field(m, "ciphertext", &ct_len);
		/* Messages alternate sender, initiator first, into the transport phase too. */
		snd = i % 2 == 0 ? &ini : &res;
		rcv = i % 2 == 0 ? &res : &ini;
		if (i < n_hs) {
			assert_int_equal(noise_handshake_write_message(snd->hs, pl, pl_len, out,
			                                               sizeof out, &olen),
			                 0);
			assert_int_equal(olen, ct_len);
			assert_memory_equal(out, ct, ct_len);
			assert_int_equal(noise_handshake_read_message(rcv->hs, ct, ct_len, back,
			                                              sizeof back, &blen),
			                 0);
			assert_int_equal(blen, pl_len);
			if (pl_len)
				assert_memory_equal(back, pl, pl_len);
			if (i == n_hs - 1) {
				split_both(&ini, &res);
				hh = json_object_get(v, "handshake_hash");
				if (hh != NULL) {
					uint8_t *want, got[NOISE_HASH_LEN];
					size_t wlen;

					want = hex_field(v, "handshake_hash", &wlen);
					assert_int_equal(wlen, NOISE_HASH_LEN);
					noise_handshake_hash(ini.hs, got);
					assert_memory_equal(got, want, NOISE_HASH_LEN);
					free(want);
				}
			}
		} else {
			assert_int_equal(ct_len, pl_len + NOISE_TAG_LEN);
			assert_int_equal(noise_cipher_encrypt(snd->tx, NULL, 0, pl, pl_len, out),
			                 0);
			assert_memory_equal(out, ct, ct_len);
			assert_int_equal(noise_cipher_decrypt(rcv->rx, NULL, 0, ct, ct_len, back),
			                 0);
			if (pl_len)
				assert_memory_equal(back, pl, pl_len);
		}
		free(pl);
		free(ct);
	}
	/* Both sides know each other's static key at the end. */
	{
		uint8_t a[32], b[32];

		assert_int_equal(noise_handshake_remote_static(res.hs, a), 0);
		assert_int_equal(noise_public_key(b, is), 0);
		assert_memory_equal(a, b, 32);
		assert_int_equal(noise_handshake_remote_static(ini.hs, a), 0);
		assert_int_equal(noise_public_key(b, rs), 0);
		assert_memory_equal(a, b, 32);
	}
	free(ipro);
	free(rpro);
	peer_free(&ini);
	peer_free(&res);
	return 1;
}

/* Runs every BLAKE2b IK/XX vector of one file; returns how many ran and how many had a hash. */
static int run_vector_file(const char *file, int *with_hash)
{
	char path[1024];
	json_error_t jerr;
	json_t *root, *arr;
	size_t i;
	int ran = 0;

	snprintf(path, sizeof path, "%s/noise/%s", tu_vectors_dir(), file);
	root = json_load_file(path, 0, &jerr);
	if (root == NULL)
		fail_msg("cannot load %s: %s (set VECTORS=/path/to/shared/vectors)", path,
		         jerr.text);
	arr = json_object_get(root, "vectors");
	assert_true(json_is_array(arr));
	*with_hash = 0;
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);
		json_t *n = json_object_get(v, "protocol_name");
		const char *name;

		if (n == NULL)
			n = json_object_get(v, "name"); /* noise-c layout */
		name = json_string_value(n);
		assert_non_null(name);
		if (strcmp(name, "Noise_IK_25519_ChaChaPoly_BLAKE2b") != 0 &&
		    strcmp(name, "Noise_XX_25519_ChaChaPoly_BLAKE2b") != 0)
			continue;
		if (json_object_get(v, "handshake_hash") != NULL)
			(*with_hash)++;
		ran += run_vector(v, name);
	}
	json_decref(root);
	return ran;
}

static void test_cacophony_vectors_ik_xx_blake2b_reproduced(void **state)
{
	int h;

	assert_int_equal(run_vector_file("cacophony_IK_XX_25519_ChaChaPoly.json", &h), 2);
	assert_int_equal(h, 2);
}

static void test_noise_c_vectors_ik_xx_blake2b_reproduced(void **state)
{
	int h;

	assert_int_equal(run_vector_file("noise-c-basic_IK_XX_25519_ChaChaPoly.json", &h), 2);
	assert_int_equal(h, 2);
}

static void test_snow_vectors_ik_xx_blake2b_reproduced(void **state)
{
	int h;

	assert_int_equal(run_vector_file("snow_IK_XX_25519_ChaChaPoly.json", &h), 2);
	assert_int_equal(h, 0); /* snow carries no handshake_hash */
}

/* ---- Handshake failure behaviour ---------------------------------------------------------- */

/* Flipping any single bit of IK message 1 makes the responder refuse it, with no state change:
 * the genuine message is then accepted and the session works. */
static void test_tampered_ik_msg1_rejected_state_unchanged(void **state)
{
	struct peer i, r;
	uint8_t is[32], rs[32], msg[256], bad[256], pl[256], h0[64], h1[64], key[32];
	size_t mlen, plen, pos;

	make_pair(NOISE_IK, &i, &r, is, rs, NULL);
	assert_int_equal(noise_handshake_write_message(i.hs, (const uint8_t *)"hello", 5, msg,
	                                               sizeof msg, &mlen),
	                 0);
	assert_int_equal(mlen, NOISE_IK_MSG1_OVERHEAD + 5);
	noise_handshake_hash(r.hs, h0);
	for (pos = 0; pos < mlen; pos++) {
		memcpy(bad, msg, mlen);
		bad[pos] ^= (uint8_t)(1u << (pos % 8));
		plen = 12345;
		assert_int_equal(
		        noise_handshake_read_message(r.hs, bad, mlen, pl, sizeof pl, &plen),
		        NOISE_EDECRYPT);
		assert_int_equal(plen, 12345); /* output untouched */
	}
	/* Truncated and extended messages too. */
	assert_int_equal(noise_handshake_read_message(r.hs, msg, mlen - 1, pl, sizeof pl, &plen),
	                 NOISE_EDECRYPT);
	assert_int_equal(noise_handshake_read_message(r.hs, msg, 95, pl, sizeof pl, &plen),
	                 NOISE_ESHORT);
	noise_handshake_hash(r.hs, h1);
	assert_memory_equal(h0, h1, sizeof h0);
	assert_int_equal(noise_handshake_remote_static(r.hs, key), NOISE_ESTATE);
	assert_false(noise_handshake_wants_write(r.hs));

	assert_int_equal(noise_handshake_read_message(r.hs, msg, mlen, pl, sizeof pl, &plen), 0);
	assert_int_equal(plen, 5);
	assert_memory_equal(pl, "hello", 5);
	hs_exchange(&r, &i, NULL, 0);
	split_both(&i, &r);
	{
		uint8_t ct[32], back[16];

		assert_int_equal(noise_cipher_encrypt(i.tx, NULL, 0, (const uint8_t *)"abc", 3, ct),
		                 0);
		assert_int_equal(noise_cipher_decrypt(r.rx, NULL, 0, ct, 3 + NOISE_TAG_LEN, back),
		                 0);
		assert_memory_equal(back, "abc", 3);
	}
	peer_free(&i);
	peer_free(&r);
}

/* Same for the responder's IK message 2 at the initiator, and XX message 3 at the responder. */
static void test_tampered_later_messages_rejected_state_unchanged(void **state)
{
	struct peer i, r;
	uint8_t is[32], rs[32], msg[256], bad[256], pl[256], h0[64], h1[64];
	size_t mlen, plen, pos;
	int pat;

	for (pat = NOISE_IK; pat <= NOISE_XX; pat++) {
		struct peer *w, *rd;

		make_pair((enum noise_pattern)pat, &i, &r, is, rs, NULL);
		hs_exchange(&i, &r, NULL, 0);
		if (pat == NOISE_XX)
			hs_exchange(&r, &i, NULL, 0);
		w = pat == NOISE_IK ? &r : &i;
		rd = pat == NOISE_IK ? &i : &r;
		assert_int_equal(noise_handshake_write_message(w->hs, (const uint8_t *)"xy", 2, msg,
		                                               sizeof msg, &mlen),
		                 0);
		noise_handshake_hash(rd->hs, h0);
		for (pos = 0; pos < mlen; pos++) {
			memcpy(bad, msg, mlen);
			bad[pos] ^= 0x80;
			assert_int_equal(noise_handshake_read_message(rd->hs, bad, mlen, pl,
			                                              sizeof pl, &plen),
			                 NOISE_EDECRYPT);
		}
		noise_handshake_hash(rd->hs, h1);
		assert_memory_equal(h0, h1, sizeof h0);
		assert_false(noise_handshake_is_done(rd->hs));
		assert_int_equal(
		        noise_handshake_read_message(rd->hs, msg, mlen, pl, sizeof pl, &plen), 0);
		assert_int_equal(plen, 2);
		split_both(&i, &r);
		peer_free(&i);
		peer_free(&r);
	}
}

/* An IK initiator pinned to the wrong hub key: the real hub cannot read message 1. */
static void test_ik_wrong_pinned_responder_key_fails(void **state)
{
	struct noise_handshake *ini = NULL, *res = NULL;
	uint8_t is[32], rs[32], other[32], other_pub[32], msg[256], pl[256];
	size_t mlen, plen;

	randombytes_buf(is, 32);
	randombytes_buf(rs, 32);
	randombytes_buf(other, 32);
	assert_int_equal(noise_public_key(other_pub, other), 0);
	assert_int_equal(
	        noise_handshake_new(&ini, NOISE_IK, NOISE_INITIATOR, NULL, 0, is, other_pub), 0);
	assert_int_equal(noise_handshake_new(&res, NOISE_IK, NOISE_RESPONDER, NULL, 0, rs, NULL),
	                 0);
	assert_int_equal(noise_handshake_write_message(ini, NULL, 0, msg, sizeof msg, &mlen), 0);
	assert_int_equal(noise_handshake_read_message(res, msg, mlen, pl, sizeof pl, &plen),
	                 NOISE_EDECRYPT);
	assert_int_equal(noise_handshake_remote_static(res, pl), NOISE_ESTATE);
	noise_handshake_free(ini);
	noise_handshake_free(res);
}

/* The IK responder learns the initiator's static key from message 1 (allow-list check). */
static void test_ik_responder_learns_remote_static_after_msg1(void **state)
{
	struct peer i, r;
	uint8_t is[32], rs[32], rs_pub[32], is_pub[32], got[32], msg[256], pl[8];
	size_t mlen, plen;

	make_pair(NOISE_IK, &i, &r, is, rs, rs_pub);
	assert_int_equal(noise_handshake_remote_static(i.hs, got), 0);
	assert_memory_equal(got, rs_pub, 32);
	assert_int_equal(noise_handshake_remote_static(r.hs, got), NOISE_ESTATE);
	assert_int_equal(noise_handshake_write_message(i.hs, NULL, 0, msg, sizeof msg, &mlen), 0);
	assert_int_equal(noise_handshake_read_message(r.hs, msg, mlen, pl, sizeof pl, &plen), 0);
	assert_int_equal(noise_handshake_remote_static(r.hs, got), 0);
	assert_int_equal(noise_public_key(is_pub, is), 0);
	assert_memory_equal(got, is_pub, 32);
	peer_free(&i);
	peer_free(&r);
}

struct allow {
	uint8_t key[32];
	int calls;
};

static bool allow_check(const uint8_t rs[NOISE_KEY_LEN], void *arg)
{
	struct allow *a = arg;

	a->calls++;
	return memcmp(rs, a->key, 32) == 0;
}

/* A hub listener with an allow-list check: an unknown (but valid) initiator key is refused with
 * NOISE_EPEER and no state change, and the same listener then accepts the enrolled clinic. */
static void test_static_check_refuses_unknown_key_listener_reusable(void **state)
{
	struct noise_handshake *hub = NULL, *stranger = NULL, *clinic = NULL;
	struct allow al = {0};
	uint8_t hub_sk[32], hub_pk[32], st_sk[32], cl_sk[32], got[32], h0[64], h1[64];
	uint8_t msg[256], pl[64];
	size_t mlen, plen;

	randombytes_buf(hub_sk, 32);
	randombytes_buf(st_sk, 32);
	randombytes_buf(cl_sk, 32);
	assert_int_equal(noise_public_key(hub_pk, hub_sk), 0);
	assert_int_equal(noise_public_key(al.key, cl_sk), 0);
	assert_int_equal(
	        noise_handshake_new(&hub, NOISE_IK, NOISE_RESPONDER, NULL, 0, hub_sk, NULL), 0);
	noise_handshake_set_static_check(hub, allow_check, &al);
	noise_handshake_hash(hub, h0);

	assert_int_equal(
	        noise_handshake_new(&stranger, NOISE_IK, NOISE_INITIATOR, NULL, 0, st_sk, hub_pk),
	        0);
	assert_int_equal(noise_handshake_write_message(stranger, NULL, 0, msg, sizeof msg, &mlen),
	                 0);
	assert_int_equal(noise_handshake_read_message(hub, msg, mlen, pl, sizeof pl, &plen),
	                 NOISE_EPEER);
	assert_int_equal(al.calls, 1);
	noise_handshake_hash(hub, h1);
	assert_memory_equal(h0, h1, 64);
	assert_int_equal(noise_handshake_remote_static(hub, got), NOISE_ESTATE);

	assert_int_equal(
	        noise_handshake_new(&clinic, NOISE_IK, NOISE_INITIATOR, NULL, 0, cl_sk, hub_pk), 0);
	assert_int_equal(noise_handshake_write_message(clinic, (const uint8_t *)"ts", 2, msg,
	                                               sizeof msg, &mlen),
	                 0);
	assert_int_equal(noise_handshake_read_message(hub, msg, mlen, pl, sizeof pl, &plen), 0);
	assert_int_equal(al.calls, 2);
	assert_int_equal(noise_handshake_remote_static(hub, got), 0);
	assert_memory_equal(got, al.key, 32);
	assert_int_equal(noise_handshake_write_message(hub, NULL, 0, msg, sizeof msg, &mlen), 0);
	assert_int_equal(noise_handshake_read_message(clinic, msg, mlen, pl, sizeof pl, &plen), 0);
	assert_true(noise_handshake_is_done(clinic));
	noise_handshake_free(hub);
	noise_handshake_free(stranger);
	noise_handshake_free(clinic);
}

/* In XX the initiator's check sees the responder's key in message 2. */
static void test_static_check_xx_initiator_refuses_wrong_responder(void **state)
{
	struct peer i, r;
	struct allow al = {0};
	uint8_t is[32], rs[32], rs_pub[32], msg[256], pl[64];
	size_t mlen, plen;

	make_pair(NOISE_XX, &i, &r, is, rs, rs_pub);
	randombytes_buf(al.key, 32); /* not the responder's key */
	noise_handshake_set_static_check(i.hs, allow_check, &al);
	hs_exchange(&i, &r, NULL, 0);
	assert_int_equal(noise_handshake_write_message(r.hs, NULL, 0, msg, sizeof msg, &mlen), 0);
	assert_int_equal(noise_handshake_read_message(i.hs, msg, mlen, pl, sizeof pl, &plen),
	                 NOISE_EPEER);
	memcpy(al.key, rs_pub, 32);
	assert_int_equal(noise_handshake_read_message(i.hs, msg, mlen, pl, sizeof pl, &plen), 0);
	assert_int_equal(al.calls, 2);
	hs_exchange(&i, &r, NULL, 0);
	split_both(&i, &r);
	peer_free(&i);
	peer_free(&r);
}

/* A low-order (all-zero) ephemeral key gives an all-zero DH, refused with no state change. */
static void test_low_order_ephemeral_refused(void **state)
{
	struct peer i, r;
	uint8_t is[32], rs[32], msg[256], pl[8], h0[64], h1[64];
	size_t mlen, plen;

	make_pair(NOISE_IK, &i, &r, is, rs, NULL);
	assert_int_equal(noise_handshake_write_message(i.hs, NULL, 0, msg, sizeof msg, &mlen), 0);
	noise_handshake_hash(r.hs, h0);
	{
		uint8_t bad[256];

		memcpy(bad, msg, mlen);
		memset(bad, 0, 32);
		assert_int_equal(
		        noise_handshake_read_message(r.hs, bad, mlen, pl, sizeof pl, &plen),
		        NOISE_EDH);
	}
	noise_handshake_hash(r.hs, h1);
	assert_memory_equal(h0, h1, 64);
	assert_int_equal(noise_handshake_read_message(r.hs, msg, mlen, pl, sizeof pl, &plen), 0);
	peer_free(&i);
	peer_free(&r);

	/* XX message 1 carries no DH, so a zero ephemeral is read; the responder's message 2
	 * (ee) then fails with NOISE_EDH and leaves the state as it was. */
	make_pair(NOISE_XX, &i, &r, is, rs, NULL);
	memset(msg, 0, 32);
	assert_int_equal(noise_handshake_read_message(r.hs, msg, 32, pl, sizeof pl, &plen), 0);
	noise_handshake_hash(r.hs, h0);
	assert_int_equal(noise_handshake_write_message(r.hs, NULL, 0, msg, sizeof msg, &mlen),
	                 NOISE_EDH);
	noise_handshake_hash(r.hs, h1);
	assert_memory_equal(h0, h1, 64);
	assert_true(noise_handshake_wants_write(r.hs));
	peer_free(&i);
	peer_free(&r);
}

/* Calls out of turn, split before the end, double split, small buffers: refused, no change. */
static void test_handshake_misuse_refused(void **state)
{
	struct peer i, r;
	struct noise_cipher *a = NULL, *b = NULL;
	uint8_t is[32], rs[32], msg[256], pl[8];
	size_t mlen = 0, plen = 0;

	make_pair(NOISE_XX, &i, &r, is, rs, NULL);
	assert_int_equal(noise_handshake_read_message(i.hs, msg, 64, pl, sizeof pl, &plen),
	                 NOISE_ESTATE);
	assert_int_equal(noise_handshake_write_message(r.hs, NULL, 0, msg, sizeof msg, &mlen),
	                 NOISE_ESTATE);
	assert_int_equal(noise_handshake_split(i.hs, &a, &b), NOISE_ESTATE);
	assert_int_equal(noise_handshake_write_message(i.hs, NULL, 0, msg, 31, &mlen),
	                 NOISE_ENOSPC);
	assert_int_equal(noise_handshake_overhead(i.hs), NOISE_XX_MSG1_OVERHEAD);
	assert_int_equal(noise_handshake_write_message(i.hs, (const uint8_t *)"abcd", 4, msg,
	                                               sizeof msg, &mlen),
	                 0);
	assert_int_equal(mlen, 36);
	assert_int_equal(noise_handshake_read_message(r.hs, msg, mlen, pl, 3, &plen), NOISE_ENOSPC);
	assert_int_equal(noise_handshake_read_message(r.hs, msg, mlen, pl, 4, &plen), 0);
	assert_int_equal(noise_handshake_overhead(r.hs), NOISE_XX_MSG2_OVERHEAD);
	hs_exchange(&r, &i, NULL, 0);
	assert_int_equal(noise_handshake_overhead(i.hs), NOISE_XX_MSG3_OVERHEAD);
	hs_exchange(&i, &r, NULL, 0);
	assert_int_equal(noise_handshake_write_message(i.hs, NULL, 0, msg, sizeof msg, &mlen),
	                 NOISE_ESTATE);
	assert_int_equal(noise_handshake_overhead(i.hs), 0);
	split_both(&i, &r);
	assert_int_equal(noise_handshake_split(i.hs, &a, &b), NOISE_ESTATE);
	assert_null(a);
	{
		struct noise_handshake *x = NULL;

		/* IK initiator without a pinned key, XX with one, bad pattern: refused. */
		assert_int_equal(
		        noise_handshake_new(&x, NOISE_IK, NOISE_INITIATOR, NULL, 0, is, NULL),
		        -EINVAL);
		assert_int_equal(
		        noise_handshake_new(&x, NOISE_XX, NOISE_INITIATOR, NULL, 0, is, rs),
		        -EINVAL);
		assert_int_equal(noise_handshake_new(&x, (enum noise_pattern)7, NOISE_RESPONDER,
		                                     NULL, 0, is, NULL),
		                 -EINVAL);
		assert_null(x);
	}
	peer_free(&i);
	peer_free(&r);
}

/* Random ephemerals: two runs give different sessions; the peers always agree. */
static void test_random_ephemeral_sessions_differ(void **state)
{
	struct peer i1, r1, i2, r2;
	uint8_t h1[64], h2[64];

	full_handshake(NOISE_IK, &i1, &r1);
	full_handshake(NOISE_IK, &i2, &r2);
	noise_handshake_hash(i1.hs, h1);
	noise_handshake_hash(i2.hs, h2);
	assert_memory_not_equal(h1, h2, 64);
	peer_free(&i1);
	peer_free(&r1);
	peer_free(&i2);
	peer_free(&r2);
}

/* ---- Transport ---------------------------------------------------------------------------- */

/* Datagram use: the receiver decrypts any order with the explicit nonce; its counter is not
 * touched, and a packet under the wrong nonce fails. */
static void test_explicit_nonce_decrypt_out_of_order(void **state)
{
	struct peer i, r;
	uint8_t ct[8][64], pt[48], back[48];
	uint64_t nonces[8];
	static const int order[8] = {7, 2, 0, 5, 1, 6, 3, 4};
	int k;

	full_handshake(NOISE_XX, &i, &r);
	for (k = 0; k < 8; k++) {
		memset(pt, 'a' + k, sizeof pt);
		nonces[k] = noise_cipher_nonce(i.tx);
		assert_int_equal(nonces[k], (uint64_t)k);
		assert_int_equal(
		        noise_cipher_encrypt(i.tx, (const uint8_t *)"hdr", 3, pt, sizeof pt, ct[k]),
		        0);
	}
	for (k = 0; k < 8; k++) {
		int j = order[k];

		assert_int_equal(noise_cipher_decrypt_at(r.rx, nonces[j] + 1,
		                                         (const uint8_t *)"hdr", 3, ct[j], 64,
		                                         back),
		                 NOISE_EDECRYPT);
		assert_int_equal(noise_cipher_decrypt_at(r.rx, nonces[j], (const uint8_t *)"hdX", 3,
		                                         ct[j], 64, back),
		                 NOISE_EDECRYPT);
		assert_int_equal(noise_cipher_decrypt_at(r.rx, nonces[j], (const uint8_t *)"hdr", 3,
		                                         ct[j], 64, back),
		                 0);
		memset(pt, 'a' + j, sizeof pt);
		assert_memory_equal(back, pt, sizeof pt);
	}
	assert_int_equal(noise_cipher_nonce(r.rx), 0);
	/* encrypt_at interoperates with decrypt_at and leaves the counter alone. */
	assert_int_equal(noise_cipher_encrypt_at(r.tx, 1000, NULL, 0, pt, 10, ct[0]), 0);
	assert_int_equal(noise_cipher_nonce(r.tx), 0);
	assert_int_equal(noise_cipher_decrypt_at(i.rx, 1000, NULL, 0, ct[0], 26, back), 0);
	assert_int_equal(noise_cipher_encrypt_at(r.tx, UINT64_MAX, NULL, 0, pt, 10, ct[0]),
	                 NOISE_ENONCE);
	assert_int_equal(noise_cipher_decrypt_at(i.rx, UINT64_MAX, NULL, 0, ct[0], 26, back),
	                 NOISE_ENONCE);
	peer_free(&i);
	peer_free(&r);
}

/* Stream use: a forged message does not advance the receive counter. */
static void test_implicit_nonce_failure_keeps_counter(void **state)
{
	struct peer i, r;
	uint8_t ct[64], back[64];

	full_handshake(NOISE_IK, &i, &r);
	assert_int_equal(noise_cipher_encrypt(r.tx, NULL, 0, (const uint8_t *)"stream", 6, ct), 0);
	ct[0] ^= 1;
	assert_int_equal(noise_cipher_decrypt(i.rx, NULL, 0, ct, 22, back), NOISE_EDECRYPT);
	assert_int_equal(noise_cipher_nonce(i.rx), 0);
	ct[0] ^= 1;
	assert_int_equal(noise_cipher_decrypt(i.rx, NULL, 0, ct, 22, back), 0);
	assert_memory_equal(back, "stream", 6);
	assert_int_equal(noise_cipher_nonce(i.rx), 1);
	assert_int_equal(noise_cipher_decrypt(i.rx, NULL, 0, ct, 22, back), NOISE_EDECRYPT);
	assert_int_equal(noise_cipher_decrypt(i.rx, NULL, 0, ct, 15, back), NOISE_ESHORT);
	peer_free(&i);
	peer_free(&r);
}

/* Both peers rekey at the same point: traffic continues; a one-sided rekey breaks it. */
static void test_rekey_interop_between_peers(void **state)
{
	struct peer i, r;
	uint8_t ct[64], back[64], before[64];
	int round;

	full_handshake(NOISE_IK, &i, &r);
	assert_int_equal(noise_cipher_encrypt_at(i.tx, 5, NULL, 0, (const uint8_t *)"x", 1, before),
	                 0);
	for (round = 0; round < 3; round++) {
		assert_int_equal(noise_cipher_rekey(i.tx), 0);
		assert_int_equal(noise_cipher_rekey(r.rx), 0);
		assert_int_equal(
		        noise_cipher_encrypt(i.tx, NULL, 0, (const uint8_t *)"after", 5, ct), 0);
		assert_int_equal(noise_cipher_decrypt(r.rx, NULL, 0, ct, 21, back), 0);
		assert_memory_equal(back, "after", 5);
	}
	/* Nonce not reset by rekey, key changed. */
	assert_int_equal(noise_cipher_nonce(i.tx), 3);
	assert_int_equal(noise_cipher_encrypt_at(i.tx, 5, NULL, 0, (const uint8_t *)"x", 1, ct), 0);
	assert_memory_not_equal(ct, before, 17);
	/* Old key no longer decrypts; the other direction is unaffected. */
	assert_int_equal(noise_cipher_rekey(i.tx), 0);
	assert_int_equal(noise_cipher_encrypt(i.tx, NULL, 0, (const uint8_t *)"solo", 4, ct), 0);
	assert_int_equal(noise_cipher_decrypt(r.rx, NULL, 0, ct, 20, back), NOISE_EDECRYPT);
	assert_int_equal(noise_cipher_encrypt(r.tx, NULL, 0, (const uint8_t *)"back", 4, ct), 0);
	assert_int_equal(noise_cipher_decrypt(i.rx, NULL, 0, ct, 20, back), 0);
	peer_free(&i);
	peer_free(&r);
}

/* Messages over 65535 bytes are refused on every path. */
static void test_oversize_messages_refused(void **state)
{
	struct peer i, r;
	uint8_t is[32], rs[32];
	uint8_t *big = calloc(1, NOISE_MSG_MAX + 64), *out = calloc(1, NOISE_MSG_MAX + 64);
	size_t olen = 0, plen = 0;

	assert_non_null(big);
	assert_non_null(out);
	make_pair(NOISE_IK, &i, &r, is, rs, NULL);
	assert_int_equal(noise_handshake_write_message(i.hs, big,
	                                               NOISE_MSG_MAX - NOISE_IK_MSG1_OVERHEAD + 1,
	                                               out, NOISE_MSG_MAX + 64, &olen),
	                 NOISE_ETOOBIG);
	assert_int_equal(noise_handshake_read_message(r.hs, big, NOISE_MSG_MAX + 1, out,
	                                              NOISE_MSG_MAX + 64, &plen),
	                 NOISE_ETOOBIG);
	assert_int_equal(noise_handshake_write_message(i.hs, big,
	                                               NOISE_MSG_MAX - NOISE_IK_MSG1_OVERHEAD, out,
	                                               NOISE_MSG_MAX + 64, &olen),
	                 0);
	assert_int_equal(olen, NOISE_MSG_MAX);
	assert_int_equal(noise_handshake_read_message(r.hs, out, olen, big, NOISE_MSG_MAX, &plen),
	                 0);
	hs_exchange(&r, &i, NULL, 0);
	split_both(&i, &r);
	assert_int_equal(noise_cipher_encrypt(i.tx, NULL, 0, big, NOISE_PAYLOAD_MAX + 1, out),
	                 NOISE_ETOOBIG);
	assert_int_equal(noise_cipher_nonce(i.tx), 0);
	assert_int_equal(noise_cipher_decrypt(r.rx, NULL, 0, big, NOISE_MSG_MAX + 1, out),
	                 NOISE_ETOOBIG);
	assert_int_equal(noise_cipher_encrypt(i.tx, NULL, 0, big, NOISE_PAYLOAD_MAX, out), 0);
	assert_int_equal(noise_cipher_decrypt(r.rx, NULL, 0, out, NOISE_MSG_MAX, big), 0);
	peer_free(&i);
	peer_free(&r);
	free(big);
	free(out);
}

/* In-place encryption and decryption (out == in) work. */
static void test_in_place_transport(void **state)
{
	struct peer i, r;
	uint8_t buf[64];

	full_handshake(NOISE_IK, &i, &r);
	memcpy(buf, "in place message", 16);
	assert_int_equal(noise_cipher_encrypt(i.tx, NULL, 0, buf, 16, buf), 0);
	assert_memory_not_equal(buf, "in place message", 16);
	assert_int_equal(noise_cipher_decrypt(r.rx, NULL, 0, buf, 32, buf), 0);
	assert_memory_equal(buf, "in place message", 16);
	peer_free(&i);
	peer_free(&r);
}

/* ---- Replay window ------------------------------------------------------------------------ */

static void test_replay_rejects_duplicates(void **state)
{
	struct noise_replay rp;
	uint64_t c;

	noise_replay_init(&rp);
	for (c = 0; c < 200; c++) {
		assert_int_equal(noise_replay_check(&rp, c), 0);
		assert_int_equal(noise_replay_update(&rp, c), 0);
		assert_int_equal(noise_replay_check(&rp, c), NOISE_EREPLAY);
		assert_int_equal(noise_replay_update(&rp, c), NOISE_EREPLAY);
	}
	for (c = 0; c < 200; c++)
		assert_int_equal(noise_replay_check(&rp, c), NOISE_EREPLAY);
	assert_int_equal(noise_replay_check(&rp, UINT64_MAX), NOISE_EREPLAY);
	assert_int_equal(noise_replay_update(&rp, UINT64_MAX), NOISE_EREPLAY);
}

static void test_replay_accepts_reordering_within_window(void **state)
{
	struct noise_replay rp;
	uint64_t c;

	noise_replay_init(&rp);
	/* Evens first up to 6000, then the odds late: the recent ones (within the window) are
	 * accepted once, the ones beyond the window refused. */
	for (c = 0; c < 6000; c += 2)
		assert_int_equal(noise_replay_update(&rp, c), 0);
	for (c = 1; c < 5998; c += 2) {
		int want = (5998 - c) < NOISE_REPLAY_WINDOW ? 0 : NOISE_EREPLAY;

		assert_int_equal(noise_replay_check(&rp, c), want);
		assert_int_equal(noise_replay_update(&rp, c), want);
		assert_int_equal(noise_replay_update(&rp, c), NOISE_EREPLAY);
	}
	/* Every even counter inside the window is still remembered. */
	for (c = 5998 - NOISE_REPLAY_WINDOW + 2; c < 6000; c += 2)
		assert_int_equal(noise_replay_check(&rp, c), NOISE_EREPLAY);
}

static void test_replay_rejects_older_than_window(void **state)
{
	struct noise_replay rp;
	uint64_t top = 10000;

	noise_replay_init(&rp);
	assert_int_equal(noise_replay_update(&rp, top), 0);
	assert_true(NOISE_REPLAY_WINDOW >= 2048);
	assert_int_equal(noise_replay_check(&rp, top - NOISE_REPLAY_WINDOW + 1), 0);
	assert_int_equal(noise_replay_check(&rp, top - NOISE_REPLAY_WINDOW), NOISE_EREPLAY);
	assert_int_equal(noise_replay_update(&rp, top - NOISE_REPLAY_WINDOW), NOISE_EREPLAY);
	assert_int_equal(noise_replay_check(&rp, 0), NOISE_EREPLAY);
	assert_int_equal(noise_replay_update(&rp, top - NOISE_REPLAY_WINDOW + 1), 0);
	assert_int_equal(noise_replay_update(&rp, top - 1), 0);
}

static void test_replay_far_future_jump_clears_window(void **state)
{
	struct noise_replay rp;
	uint64_t c, far = (UINT64_C(1) << 40) + 17;

	noise_replay_init(&rp);
	for (c = 0; c < 5000; c++)
		assert_int_equal(noise_replay_update(&rp, c), 0);
	assert_int_equal(noise_replay_update(&rp, far), 0);
	assert_int_equal(noise_replay_update(&rp, far), NOISE_EREPLAY);
	assert_int_equal(noise_replay_check(&rp, 4999), NOISE_EREPLAY); /* now far too old */
	/* Everything just behind the jump is fresh (the ring was cleared, not aliased). */
	for (c = far - 1; c > far - NOISE_REPLAY_WINDOW; c--)
		assert_int_equal(noise_replay_check(&rp, c), 0);
	for (c = far - 1; c > far - 300; c -= 3)
		assert_int_equal(noise_replay_update(&rp, c), 0);
	for (c = far - 1; c > far - 300; c -= 3)
		assert_int_equal(noise_replay_check(&rp, c), NOISE_EREPLAY);
	/* Medium jumps (less than the ring) keep the window exact: bits for counters within the
	 * window stay, bits that left it are cleared before the ring reuses them. */
	noise_replay_init(&rp);
	for (c = 0; c < 100000; c += 97) {
		assert_int_equal(noise_replay_update(&rp, c), 0);
		if (c >= 97)
			assert_int_equal(noise_replay_check(&rp, c - 97),
			                 97 < NOISE_REPLAY_WINDOW ? NOISE_EREPLAY : 0);
		assert_int_equal(noise_replay_check(&rp, c + 1), 0);
		if (c >= 1)
			assert_int_equal(noise_replay_check(&rp, c - 1), 0);
	}
	assert_int_equal(noise_replay_update(&rp, UINT64_MAX - 1), 0);
	assert_int_equal(noise_replay_update(&rp, UINT64_MAX - 1), NOISE_EREPLAY);
	assert_int_equal(noise_replay_update(&rp, UINT64_MAX - 2), 0);
}

/* The datagram receive path end to end: check, decrypt_at, update; forged packets do not move
 * the window. */
static void test_datagram_path_with_replay_window(void **state)
{
	struct peer i, r;
	struct noise_replay rp;
	uint8_t ct[4][40], back[40], forged[40];
	uint64_t n[4];
	int k;

	full_handshake(NOISE_IK, &i, &r);
	noise_replay_init(&rp);
	for (k = 0; k < 4; k++) {
		n[k] = noise_cipher_nonce(i.tx);
		assert_int_equal(noise_cipher_encrypt(i.tx, NULL, 0,
		                                      (const uint8_t *)"0123456789abcdef0123", 20,
		                                      ct[k]),
		                 0);
	}
	memcpy(forged, ct[3], 36);
	forged[5] ^= 4;
	assert_int_equal(noise_replay_check(&rp, 1000), 0);
	assert_int_equal(noise_cipher_decrypt_at(r.rx, 1000, NULL, 0, forged, 36, back),
	                 NOISE_EDECRYPT);
	/* (not updated: the forged counter stays acceptable and the window did not jump) */
	assert_int_equal(noise_replay_check(&rp, 1000), 0);
	for (k = 3; k >= 0; k--) {
		assert_int_equal(noise_replay_check(&rp, n[k]), 0);
		assert_int_equal(noise_cipher_decrypt_at(r.rx, n[k], NULL, 0, ct[k], 36, back), 0);
		assert_int_equal(noise_replay_update(&rp, n[k]), 0);
		assert_int_equal(noise_replay_check(&rp, n[k]), NOISE_EREPLAY);
	}
	peer_free(&i);
	peer_free(&r);
}

static void test_strerror_names_every_code(void **state)
{
	int c;

	for (c = NOISE_EDECRYPT; c >= NOISE_EPEER; c--)
		assert_null(strstr(noise_strerror(c), "unknown"));
	assert_non_null(strstr(noise_strerror(-1199), "unknown"));
	assert_string_equal(noise_strerror(-ENOMEM), strerror(ENOMEM));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_cacophony_vectors_ik_xx_blake2b_reproduced),
	        cmocka_unit_test(test_noise_c_vectors_ik_xx_blake2b_reproduced),
	        cmocka_unit_test(test_snow_vectors_ik_xx_blake2b_reproduced),
	        cmocka_unit_test(test_tampered_ik_msg1_rejected_state_unchanged),
	        cmocka_unit_test(test_tampered_later_messages_rejected_state_unchanged),
	        cmocka_unit_test(test_ik_wrong_pinned_responder_key_fails),
	        cmocka_unit_test(test_ik_responder_learns_remote_static_after_msg1),
	        cmocka_unit_test(test_static_check_refuses_unknown_key_listener_reusable),
	        cmocka_unit_test(test_static_check_xx_initiator_refuses_wrong_responder),
	        cmocka_unit_test(test_low_order_ephemeral_refused),
	        cmocka_unit_test(test_handshake_misuse_refused),
	        cmocka_unit_test(test_random_ephemeral_sessions_differ),
	        cmocka_unit_test(test_explicit_nonce_decrypt_out_of_order),
	        cmocka_unit_test(test_implicit_nonce_failure_keeps_counter),
	        cmocka_unit_test(test_rekey_interop_between_peers),
	        cmocka_unit_test(test_oversize_messages_refused),
	        cmocka_unit_test(test_in_place_transport),
	        cmocka_unit_test(test_replay_rejects_duplicates),
	        cmocka_unit_test(test_replay_accepts_reordering_within_window),
	        cmocka_unit_test(test_replay_rejects_older_than_window),
	        cmocka_unit_test(test_replay_far_future_jump_clears_window),
	        cmocka_unit_test(test_datagram_path_with_replay_window),
	        cmocka_unit_test(test_strerror_names_every_code),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
