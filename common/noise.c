/* common/noise.c — Noise IK/XX handshakes and transport cipher states (see noise.h).
 *
 * Structure follows the Noise spec rev 34 section 5: CipherState / SymmetricState /
 * HandshakeState, specialised to 25519 + ChaChaPoly + BLAKE2b and the two patterns we use.
 *
 * State-preservation on failure: the mutable part of a handshake (struct hs_state) exists
 * twice inside the sodium_malloc'd handshake object; each message is processed on the spare
 * copy, which replaces the live one only when the whole message succeeded. The spare copy is
 * wiped on every exit path.
 */
#include "common/noise.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>

#include <sodium.h>

#define DHLEN     32
#define HASHLEN   64
#define BLOCKLEN  128        /* BLAKE2b block length: HMAC-BLAKE2b pads keys to this */
#define NONCE_MAX UINT64_MAX /* reserved by the spec (REKEY only) */

/* ---- Errors ------------------------------------------------------------------------------- */

const char *noise_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case NOISE_EDECRYPT:
		return "noise: message failed to authenticate";
	case NOISE_ESTATE:
		return "noise: operation not valid in this handshake state";
	case NOISE_EREPLAY:
		return "noise: replayed or too old counter";
	case NOISE_ETOOBIG:
		return "noise: message larger than 65535 bytes";
	case NOISE_ENONCE:
		return "noise: nonce space exhausted";
	case NOISE_EDH:
		return "noise: Diffie-Hellman gave an all-zero result (invalid public key)";
	case NOISE_ESHORT:
		return "noise: message too short";
	case NOISE_ENOSPC:
		return "noise: output buffer too small";
	case NOISE_EPEER:
		return "noise: remote static key refused";
	default:
		if (err < 0 && err > ERR_BASE_COMMON) /* errnos are small */
			return strerror(-err);
		return "noise: unknown error";
	}
}

/* ---- Primitives ----------------------------------------------------------------------------- */

/* libsodium offers HMAC only for SHA-2 (crypto_auth_hmacsha*), and its keyed BLAKE2b is not
 * HMAC: the Noise spec defines HKDF over HMAC-HASH (RFC 2104) for every hash, so the vectors
 * require a real HMAC-BLAKE2b. It is built here on crypto_generichash with BLOCKLEN 128.
 * Keys here are at most HASHLEN bytes, so they never need pre-hashing. The padded key and the
 * hash states are secrets on the stack; they are wiped before returning. */
static void hmac_blake2b(uint8_t out[HASHLEN], const uint8_t *key, size_t keylen, const uint8_t *d1,
                         size_t l1, const uint8_t *d2, size_t l2)
{
	uint8_t pad[BLOCKLEN];
	uint8_t inner[HASHLEN];
	crypto_generichash_state st;
	size_t i;

	memset(pad, 0, sizeof pad);
	memcpy(pad, key, keylen); /* keylen <= HASHLEN < BLOCKLEN by construction */
	for (i = 0; i < BLOCKLEN; i++)
		pad[i] ^= 0x36;
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, pad, BLOCKLEN);
	if (l1)
		crypto_generichash_update(&st, d1, l1);
	if (l2)
		crypto_generichash_update(&st, d2, l2);
	crypto_generichash_final(&st, inner, HASHLEN);
	for (i = 0; i < BLOCKLEN; i++)
		pad[i] ^= 0x36 ^ 0x5c;
	crypto_generichash_init(&st, NULL, 0, HASHLEN);
	crypto_generichash_update(&st, pad, BLOCKLEN);
	crypto_generichash_update(&st, inner, HASHLEN);
	crypto_generichash_final(&st, out, HASHLEN);
	sodium_memzero(pad, sizeof pad);
	sodium_memzero(inner, sizeof inner);
	sodium_memzero(&st, sizeof st);
}

/* Noise HKDF with two outputs (all we need: MixKey and Split). temp is a HASHLEN scratch
 * buffer in secure memory; out1 may alias ck (ck is consumed before out1 is written). */
static void hkdf2(uint8_t temp[HASHLEN], uint8_t out1[HASHLEN], uint8_t out2[HASHLEN],
                  const uint8_t ck[HASHLEN], const uint8_t *ikm, size_t ikmlen)
{
	static const uint8_t one = 0x01, two = 0x02;

	hmac_blake2b(temp, ck, HASHLEN, ikm, ikmlen, NULL, 0);
	hmac_blake2b(out1, temp, HASHLEN, &one, 1, NULL, 0);
	hmac_blake2b(out2, temp, HASHLEN, out1, HASHLEN, &two, 1);
	sodium_memzero(temp, HASHLEN);
}

static void nonce_bytes(uint8_t nb[crypto_aead_chacha20poly1305_IETF_NPUBBYTES], uint64_t n)
{
	int i;

	memset(nb, 0, 4);
	for (i = 0; i < 8; i++)
		nb[4 + i] = (uint8_t)(n >> (8 * i));
}

/* ENCRYPT(k, n, ad, plaintext): out gets ptlen + NOISE_TAG_LEN bytes. */
static void aead_encrypt(const uint8_t k[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad,
                         size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	uint8_t nb[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	nonce_bytes(nb, n);
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, pt, ptlen, ad, adlen, NULL, nb, k);
}

/* DECRYPT(k, n, ad, ciphertext): 0 or NOISE_EDECRYPT; ctlen >= NOISE_TAG_LEN checked by caller. */
static int aead_decrypt(const uint8_t k[NOISE_KEY_LEN], uint64_t n, const uint8_t *ad, size_t adlen,
                        const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	uint8_t nb[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];

	nonce_bytes(nb, n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, ct, ctlen, ad, adlen, nb,
	                                              k) != 0)
		return NOISE_EDECRYPT;
	return 0;
}

int noise_public_key(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN])
{
	if (sodium_init() < 0)
		return -ENOMEM;
	if (crypto_scalarmult_base(pub, priv) != 0)
		return NOISE_EDH;
	return 0;
}

/* ---- Handshake ---------------------------------------------------------------------------- */

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS };

#define MAX_MSGS   3
#define MAX_TOKENS 5

/* Message patterns (pre-message of IK, "<- s", is handled in noise_handshake_new). */
static const uint8_t patterns[2][MAX_MSGS + 1][MAX_TOKENS] = {
        [NOISE_IK] = {{T_E, T_ES, T_S, T_SS, T_END}, {T_E, T_EE, T_SE, T_END}, {T_END}, {T_END}},
        [NOISE_XX] = {{T_E, T_END}, {T_E, T_EE, T_S, T_ES, T_END}, {T_S, T_SE, T_END}, {T_END}},
};
static const unsigned n_msgs[2] = {[NOISE_IK] = 2, [NOISE_XX] = 3};
static const char *const proto_names[2] = {
        [NOISE_IK] = "Noise_IK_25519_ChaChaPoly_BLAKE2b",
        [NOISE_XX] = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
};

/* Everything a handshake message may change. */
struct hs_state {
	uint8_t ck[HASHLEN];
	uint8_t h[HASHLEN];
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	bool has_k;
	uint8_t e[DHLEN], e_pub[DHLEN];
	bool has_e;
	uint8_t re[DHLEN];
	bool has_re;
	uint8_t rs[DHLEN];
	bool has_rs;
	unsigned msg; /* index of the next message */
	bool split;
};

/* Whole object lives in sodium_malloc memory. */
struct noise_handshake {
	enum noise_pattern pattern;
	enum noise_role role;
	uint8_t s[DHLEN], s_pub[DHLEN];
	noise_static_check_h check;
	void *check_arg;
	struct hs_state cur;  /* committed state */
	struct hs_state work; /* scratch copy for the message in progress */
	uint8_t dh[DHLEN];    /* DH result */
	uint8_t tmp[HASHLEN]; /* HKDF temp_key */
	uint8_t out2[HASHLEN];
};

static void mix_hash(struct hs_state *st, const uint8_t *data, size_t len)
{
	crypto_generichash_state g;

	crypto_generichash_init(&g, NULL, 0, HASHLEN);
	crypto_generichash_update(&g, st->h, HASHLEN);
	if (len)
		crypto_generichash_update(&g, data, len);
	crypto_generichash_final(&g, st->h, HASHLEN);
	sodium_memzero(&g, sizeof g);
}

/* MixKey(dh): ck, temp_k = HKDF(ck, dh, 2); k = temp_k[:32]; n = 0. */
static void mix_key(struct noise_handshake *hs, struct hs_state *st)
{
	hkdf2(hs->tmp, st->ck, hs->out2, st->ck, hs->dh, DHLEN);
	memcpy(st->k, hs->out2, NOISE_KEY_LEN);
	st->n = 0;
	st->has_k = true;
	sodium_memzero(hs->out2, sizeof hs->out2);
	sodium_memzero(hs->dh, sizeof hs->dh);
}

/* EncryptAndHash: out gets len (+ tag if a key is set) bytes; returns the bytes written. */
static size_t encrypt_and_hash(struct hs_state *st, const uint8_t *pt, size_t len, uint8_t *out)
{
	size_t outlen = len;

	if (st->has_k) {
		/* n cannot reach 2^64-1: a handshake encrypts at most a handful of times. */
		aead_encrypt(st->k, st->n, st->h, HASHLEN, pt, len, out);
		st->n++;
		outlen += NOISE_TAG_LEN;
	} else if (len) {
		memmove(out, pt, len);
	}
	mix_hash(st, out, outlen);
	return outlen;
}

/* DecryptAndHash of ct (ctlen bytes, tag included if a key is set) into out. */
static int decrypt_and_hash(struct hs_state *st, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	int ret;

	if (st->has_k) {
		if ((ret = aead_decrypt(st->k, st->n, st->h, HASHLEN, ct, ctlen, out)) != 0)
			return ret;
		st->n++;
	} else if (ctlen) {
		memmove(out, ct, ctlen);
	}
	mix_hash(st, ct, ctlen);
	return 0;
}

/* DH for token t into hs->dh, then MixKey. */
static int dh_token(struct noise_handshake *hs, struct hs_state *st, enum token t)
{
	const uint8_t *priv, *pub;
	bool init = hs->role == NOISE_INITIATOR;

	switch (t) {
	case T_EE:
		priv = st->e, pub = st->re;
		break;
	case T_ES:
		priv = init ? st->e : hs->s, pub = init ? st->rs : st->re;
		break;
	case T_SE:
		priv = init ? hs->s : st->e, pub = init ? st->re : st->rs;
		break;
	default: /* T_SS */
		priv = hs->s, pub = st->rs;
		break;
	}
	/* libsodium's crypto_scalarmult returns -1 on an all-zero output (low-order point). */
	if (crypto_scalarmult(hs->dh, priv, pub) != 0) {
		sodium_memzero(hs->dh, sizeof hs->dh);
		return NOISE_EDH;
	}
	mix_key(hs, st);
	return 0;
}

static bool our_turn(const struct noise_handshake *hs)
{
	return (hs->cur.msg % 2 == 0) == (hs->role == NOISE_INITIATOR);
}

bool noise_handshake_is_done(const struct noise_handshake *hs)
{
	return hs->cur.msg >= n_msgs[hs->pattern];
}

bool noise_handshake_wants_write(const struct noise_handshake *hs)
{
	return !noise_handshake_is_done(hs) && our_turn(hs);
}

size_t noise_handshake_overhead(const struct noise_handshake *hs)
{
	const uint8_t *tok;
	bool has_k = hs->cur.has_k;
	size_t len = 0;

	if (noise_handshake_is_done(hs))
		return 0;
	for (tok = patterns[hs->pattern][hs->cur.msg]; *tok != T_END; tok++) {
		if (*tok == T_E)
			len += DHLEN;
		else if (*tok == T_S)
			len += DHLEN + (has_k ? NOISE_TAG_LEN : 0);
		else
			has_k = true;
	}
	return len + (has_k ? NOISE_TAG_LEN : 0);
}

int noise_handshake_new(struct noise_handshake **out, enum noise_pattern pattern,
                        enum noise_role role, const uint8_t *prologue, size_t plen,
                        const uint8_t local_static[NOISE_KEY_LEN], const uint8_t *remote_static)
{
	struct noise_handshake *hs = NULL;
	size_t nlen;
	int ret = -EINVAL;

	if (out == NULL || (pattern != NOISE_IK && pattern != NOISE_XX) ||
	    (role != NOISE_INITIATOR && role != NOISE_RESPONDER) || local_static == NULL ||
	    (prologue == NULL && plen != 0))
		goto out;
	if ((pattern == NOISE_IK && role == NOISE_INITIATOR) != (remote_static != NULL))
		goto out;
	ret = -ENOMEM;
	if (sodium_init() < 0 || (hs = sodium_malloc(sizeof *hs)) == NULL)
		goto out;
	sodium_memzero(hs, sizeof *hs);
	hs->pattern = pattern;
	hs->role = role;
	memcpy(hs->s, local_static, DHLEN);
	if (crypto_scalarmult_base(hs->s_pub, hs->s) != 0) {
		ret = NOISE_EDH;
		goto out;
	}
	/* InitializeSymmetric: the name is shorter than HASHLEN, so h = name zero-padded. */
	nlen = strlen(proto_names[pattern]);
	memcpy(hs->cur.h, proto_names[pattern], nlen);
	memcpy(hs->cur.ck, hs->cur.h, HASHLEN);
	mix_hash(&hs->cur, prologue, plen);
	if (pattern == NOISE_IK) {
		/* Pre-message "<- s": both sides hash the responder's static public key. */
		if (role == NOISE_INITIATOR) {
			memcpy(hs->cur.rs, remote_static, DHLEN);
			hs->cur.has_rs = true;
			mix_hash(&hs->cur, hs->cur.rs, DHLEN);
		} else {
			mix_hash(&hs->cur, hs->s_pub, DHLEN);
		}
	}
	*out = hs;
	hs = NULL;
	ret = 0;
out:
	noise_handshake_free(hs);
	return ret;
}

int noise_handshake_set_ephemeral(struct noise_handshake *hs, const uint8_t priv[NOISE_KEY_LEN])
{
	if (hs == NULL || priv == NULL)
		return -EINVAL;
	if (hs->cur.msg != 0 || hs->cur.has_e)
		return NOISE_ESTATE;
	memcpy(hs->cur.e, priv, DHLEN);
	if (crypto_scalarmult_base(hs->cur.e_pub, hs->cur.e) != 0) {
		sodium_memzero(hs->cur.e, DHLEN);
		return NOISE_EDH;
	}
	hs->cur.has_e = true;
	return 0;
}

void noise_handshake_set_static_check(struct noise_handshake *hs, noise_static_check_h check,
                                      void *arg)
{
	if (hs == NULL)
		return;
	hs->check = check;
	hs->check_arg = arg;
}

/* Commits the work copy as the new state. */
static void commit(struct noise_handshake *hs)
{
	memcpy(&hs->cur, &hs->work, sizeof hs->cur);
}

static void wipe_work(struct noise_handshake *hs)
{
	sodium_memzero(&hs->work, sizeof hs->work);
	sodium_memzero(hs->dh, sizeof hs->dh);
	sodium_memzero(hs->tmp, sizeof hs->tmp);
	sodium_memzero(hs->out2, sizeof hs->out2);
}

int noise_handshake_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t plen,
                                  uint8_t *out, size_t outcap, size_t *outlen)
{
	struct hs_state *st;
	const uint8_t *tok;
	size_t need, off = 0;
	int ret = -EINVAL;

	if (hs == NULL || out == NULL || outlen == NULL || (payload == NULL && plen != 0))
		return -EINVAL;
	st = &hs->work;
	if (!noise_handshake_wants_write(hs))
		return NOISE_ESTATE;
	need = noise_handshake_overhead(hs);
	if (plen > NOISE_MSG_MAX - need)
		return NOISE_ETOOBIG;
	need += plen;
	if (outcap < need)
		return NOISE_ENOSPC;

	memcpy(st, &hs->cur, sizeof *st);
	for (tok = patterns[hs->pattern][st->msg]; *tok != T_END; tok++) {
		switch (*tok) {
		case T_E:
			if (!st->has_e) {
				randombytes_buf(st->e, DHLEN);
				if (crypto_scalarmult_base(st->e_pub, st->e) != 0) {
					ret = NOISE_EDH;
					goto out;
				}
				st->has_e = true;
			}
			memcpy(out + off, st->e_pub, DHLEN);
			off += DHLEN;
			mix_hash(st, st->e_pub, DHLEN);
			break;
		case T_S:
			off += encrypt_and_hash(st, hs->s_pub, DHLEN, out + off);
			break;
		default:
			if ((ret = dh_token(hs, st, (enum token) * tok)) != 0)
				goto out;
			break;
		}
	}
	off += encrypt_and_hash(st, payload, plen, out + off);
	st->msg++;
	commit(hs);
	*outlen = off;
	ret = 0;
out:
	wipe_work(hs);
	return ret;
}

int noise_handshake_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t mlen,
                                 uint8_t *payload_out, size_t cap, size_t *plen)
{
	struct hs_state *st;
	const uint8_t *tok;
	size_t need, off = 0, slen;
	int ret = -EINVAL;

	if (hs == NULL || (msg == NULL && mlen != 0) || (payload_out == NULL && cap != 0) ||
	    plen == NULL)
		return -EINVAL;
	st = &hs->work;
	if (noise_handshake_is_done(hs) || our_turn(hs))
		return NOISE_ESTATE;
	if (mlen > NOISE_MSG_MAX)
		return NOISE_ETOOBIG;
	need = noise_handshake_overhead(hs);
	if (mlen < need)
		return NOISE_ESHORT;
	if (cap < mlen - need)
		return NOISE_ENOSPC;

	memcpy(st, &hs->cur, sizeof *st);
	for (tok = patterns[hs->pattern][st->msg]; *tok != T_END; tok++) {
		switch (*tok) {
		case T_E:
			memcpy(st->re, msg + off, DHLEN);
			st->has_re = true;
			off += DHLEN;
			mix_hash(st, st->re, DHLEN);
			break;
		case T_S:
			slen = DHLEN + (st->has_k ? NOISE_TAG_LEN : 0);
			if ((ret = decrypt_and_hash(st, msg + off, slen, st->rs)) != 0)
				goto out;
			st->has_rs = true;
			off += slen;
			if (hs->check != NULL && !hs->check(st->rs, hs->check_arg)) {
				ret = NOISE_EPEER;
				goto out;
			}
			break;
		default:
			if ((ret = dh_token(hs, st, (enum token) * tok)) != 0)
				goto out;
			break;
		}
	}
	/* Payload: what is left (the tag included when keyed). */
	if ((ret = decrypt_and_hash(st, msg + off, mlen - off, payload_out)) != 0)
		goto out;
	st->msg++;
	commit(hs);
	*plen = mlen - need;
	ret = 0;
out:
	wipe_work(hs);
	return ret;
}

int noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t out[NOISE_KEY_LEN])
{
	if (hs == NULL || out == NULL)
		return -EINVAL;
	if (!hs->cur.has_rs)
		return NOISE_ESTATE;
	memcpy(out, hs->cur.rs, DHLEN);
	return 0;
}

void noise_handshake_hash(const struct noise_handshake *hs, uint8_t out[NOISE_HASH_LEN])
{
	memcpy(out, hs->cur.h, HASHLEN);
}

void noise_handshake_free(struct noise_handshake *hs)
{
	if (hs == NULL)
		return;
	sodium_memzero(hs, sizeof *hs);
	sodium_free(hs);
}

/* ---- Transport ---------------------------------------------------------------------------- */

struct cipher_pair;

struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	uint8_t scratch[NOISE_KEY_LEN + NOISE_TAG_LEN]; /* REKEY output */
	struct cipher_pair *pair;
};

/* The two cipher states of a session share one sodium_malloc block: a secure allocation costs
 * several system calls (mmap, guard pages, mlock), which dominated handshake time. The block is
 * released when both halves have been freed; the count is atomic so the halves may be freed
 * from different threads. */
struct cipher_pair {
	struct noise_cipher c[2];
	atomic_int refs;
};

int noise_handshake_split(struct noise_handshake *hs, struct noise_cipher **send_cs,
                          struct noise_cipher **recv_cs)
{
	struct cipher_pair *pair = NULL;
	int ret = -EINVAL;

	if (hs == NULL || send_cs == NULL || recv_cs == NULL)
		goto out;
	ret = NOISE_ESTATE;
	if (!noise_handshake_is_done(hs) || hs->cur.split)
		goto out;
	ret = -ENOMEM;
	if ((pair = sodium_malloc(sizeof *pair)) == NULL)
		goto out;
	sodium_memzero(pair, sizeof *pair);
	/* temp_k1, temp_k2 = HKDF(ck, zerolen, 2); c1 = temp_k1[:32] (initiator -> responder),
	 * c2 = temp_k2[:32]. work.ck is only scratch here. */
	hkdf2(hs->tmp, hs->work.ck, hs->out2, hs->cur.ck, NULL, 0);
	memcpy(pair->c[0].k, hs->work.ck, NOISE_KEY_LEN);
	memcpy(pair->c[1].k, hs->out2, NOISE_KEY_LEN);
	pair->c[0].pair = pair->c[1].pair = pair;
	atomic_init(&pair->refs, 2);
	hs->cur.split = true;
	*send_cs = &pair->c[hs->role == NOISE_INITIATOR ? 0 : 1];
	*recv_cs = &pair->c[hs->role == NOISE_INITIATOR ? 1 : 0];
	ret = 0;
out:
	if (hs != NULL)
		wipe_work(hs);
	return ret;
}

uint64_t noise_cipher_nonce(const struct noise_cipher *cs)
{
	return cs->n;
}

int noise_cipher_encrypt_at(struct noise_cipher *cs, uint64_t nonce, const uint8_t *ad,
                            size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	if (cs == NULL || out == NULL || (pt == NULL && ptlen != 0) || (ad == NULL && adlen != 0))
		return -EINVAL;
	if (ptlen > NOISE_PAYLOAD_MAX)
		return NOISE_ETOOBIG;
	if (nonce == NONCE_MAX)
		return NOISE_ENONCE;
	aead_encrypt(cs->k, nonce, ad, adlen, pt, ptlen, out);
	return 0;
}

int noise_cipher_decrypt_at(struct noise_cipher *cs, uint64_t nonce, const uint8_t *ad,
                            size_t adlen, const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	if (cs == NULL || ct == NULL || (ad == NULL && adlen != 0))
		return -EINVAL;
	if (ctlen < NOISE_TAG_LEN)
		return NOISE_ESHORT;
	if (ctlen > NOISE_MSG_MAX)
		return NOISE_ETOOBIG;
	if (out == NULL && ctlen > NOISE_TAG_LEN)
		return -EINVAL;
	if (nonce == NONCE_MAX)
		return NOISE_ENONCE;
	return aead_decrypt(cs->k, nonce, ad, adlen, ct, ctlen, out);
}

int noise_cipher_encrypt(struct noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *pt, size_t ptlen, uint8_t *out)
{
	int ret;

	if (cs == NULL)
		return -EINVAL;
	if ((ret = noise_cipher_encrypt_at(cs, cs->n, ad, adlen, pt, ptlen, out)) != 0)
		return ret;
	cs->n++;
	return 0;
}

int noise_cipher_decrypt(struct noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *ct, size_t ctlen, uint8_t *out)
{
	int ret;

	if (cs == NULL)
		return -EINVAL;
	if ((ret = noise_cipher_decrypt_at(cs, cs->n, ad, adlen, ct, ctlen, out)) != 0)
		return ret;
	cs->n++;
	return 0;
}

int noise_cipher_rekey(struct noise_cipher *cs)
{
	static const uint8_t zeros[NOISE_KEY_LEN];

	if (cs == NULL)
		return -EINVAL;
	aead_encrypt(cs->k, NONCE_MAX, NULL, 0, zeros, sizeof zeros, cs->scratch);
	memcpy(cs->k, cs->scratch, NOISE_KEY_LEN);
	sodium_memzero(cs->scratch, sizeof cs->scratch);
	return 0;
}

void noise_cipher_free(struct noise_cipher *cs)
{
	struct cipher_pair *pair;

	if (cs == NULL)
		return;
	pair = cs->pair;
	sodium_memzero(cs->k, sizeof cs->k);
	sodium_memzero(cs->scratch, sizeof cs->scratch);
	cs->n = 0;
	if (atomic_fetch_sub(&pair->refs, 1) == 1) {
		sodium_memzero(pair, sizeof *pair);
		sodium_free(pair);
	}
}

/* ---- Replay window ------------------------------------------------------------------------ */

/* RFC 6479 / WireGuard: the bitmap is a ring of words; bit (c+1) % total marks counter c. Keeping
 * one whole word of slack (NOISE_REPLAY_WINDOW = total - 64) lets a forward jump clear whole
 * words without ever clearing a bit still inside the window. */
#define RING_BITS (NOISE_REPLAY_WORDS * 64)

void noise_replay_init(struct noise_replay *r)
{
	memset(r, 0, sizeof *r);
}

int noise_replay_check(const struct noise_replay *r, uint64_t counter)
{
	uint64_t c1;

	if (counter >= NONCE_MAX)
		return NOISE_EREPLAY;
	c1 = counter + 1;
	if (c1 > r->top)
		return 0;
	if (r->top - c1 >= NOISE_REPLAY_WINDOW)
		return NOISE_EREPLAY;
	if (r->bitmap[(c1 / 64) % NOISE_REPLAY_WORDS] & (UINT64_C(1) << (c1 % 64)))
		return NOISE_EREPLAY;
	return 0;
}

int noise_replay_update(struct noise_replay *r, uint64_t counter)
{
	uint64_t c1, idx, cur, i, steps;
	int ret;

	if ((ret = noise_replay_check(r, counter)) != 0)
		return ret;
	c1 = counter + 1;
	if (c1 > r->top) {
		idx = c1 / 64;
		cur = r->top / 64;
		steps = idx - cur;
		if (steps > NOISE_REPLAY_WORDS)
			steps = NOISE_REPLAY_WORDS;
		for (i = 1; i <= steps; i++)
			r->bitmap[(cur + i) % NOISE_REPLAY_WORDS] = 0;
		r->top = c1;
	}
	r->bitmap[(c1 / 64) % NOISE_REPLAY_WORDS] |= UINT64_C(1) << (c1 % 64);
	return 0;
}
