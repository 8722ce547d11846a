/* common/noise.h — the secure-session core: Noise handshakes and transport cipher states.
 *
 * Implements Noise_IK_25519_ChaChaPoly_BLAKE2b and Noise_XX_25519_ChaChaPoly_BLAKE2b (Noise
 * Protocol Framework, revision 34) on libsodium primitives only:
 *   DH     X25519 (crypto_scalarmult); an all-zero DH output (low-order peer key) is refused.
 *   cipher ChaCha20-Poly1305 IETF, nonce = 4 zero bytes || 64-bit counter little-endian.
 *   hash   BLAKE2b-512, HMAC-BLAKE2b (RFC 2104, block 128) and the Noise HKDF on top of it.
 *
 * Life of a session:
 *   1. Both sides create a struct noise_handshake (noise_handshake_new) and exchange handshake
 *      messages (noise_handshake_write_message / noise_handshake_read_message) in turn, the
 *      initiator first: IK takes 2 messages, XX 3.
 *   2. When noise_handshake_is_done() is true, noise_handshake_split() yields two
 *      struct noise_cipher: one to send, one to receive. The handshake can then be freed.
 *   3. Stream transports (TCP) use noise_cipher_encrypt/decrypt (implicit nonce: each side's
 *      counter advances by one per message, so messages must arrive in order, none lost).
 *      Datagram transports (UDP) send noise_cipher_nonce() in clear next to each packet,
 *      encrypt with noise_cipher_encrypt (which uses that nonce), and the receiver calls
 *      noise_replay_check, noise_cipher_decrypt_at(counter), then noise_replay_update.
 *
 * Failure never changes state: a handshake message that fails to authenticate or parse (or an
 * output buffer that is too small) leaves the handshake exactly as it was, so a forged packet
 * cannot desynchronise a real handshake; a transport message that fails to authenticate does
 * not advance the receive counter.
 *
 * Hub (IK responder) pattern: because a rejected message changes nothing, a hub may keep ONE
 * listening responder handshake, with an allow-list check set by
 * noise_handshake_set_static_check(), and feed it every incoming message 1. A forged packet or
 * a key not on the list costs one X25519 and no allocation and leaves the listener reusable;
 * only when a read succeeds does that object become the peer's (and a new listener is made).
 * Note that a captured IK message 1 can be replayed verbatim and will read successfully again
 * (a Noise property, not a bug): put a per-peer monotonic timestamp in its payload and refuse
 * non-increasing ones (as WireGuard does) before keeping any state.
 *
 * Secrets (chaining key, cipher keys, static and ephemeral private keys, DH results) live in
 * sodium_malloc memory and are wiped on every exit path and on free. Objects are not
 * thread-safe: one thread at a time per object. All functions call sodium_init() as needed.
 *
 * Errors: 0 on success, -ENOMEM / -EINVAL, or a NOISE_E* code below; noise_strerror() names
 * them all. Output pointers (`*out`, `*outlen`) are written only on success.
 */
#ifndef PIROGUE_COMMON_NOISE_H
#define PIROGUE_COMMON_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define NOISE_KEY_LEN     32    /* X25519 private/public key, cipher key */
#define NOISE_TAG_LEN     16    /* Poly1305 tag added to every encrypted payload */
#define NOISE_HASH_LEN    64    /* BLAKE2b-512: handshake hash length */
#define NOISE_MSG_MAX     65535 /* largest Noise message (handshake or transport), tag included */
#define NOISE_PAYLOAD_MAX (NOISE_MSG_MAX - NOISE_TAG_LEN) /* largest transport plaintext */

/* Handshake message sizes without payload (the payload adds its own length):
 *   IK: msg1 = e(32) + enc s(32+16) + tag(16) = 96;   msg2 = e(32) + tag(16) = 48
 *   XX: msg1 = e(32) (no key yet, payload in clear); msg2 = e + enc s + tag = 96;
 *       msg3 = enc s(48) + tag(16) = 64 */
#define NOISE_IK_MSG1_OVERHEAD 96
#define NOISE_IK_MSG2_OVERHEAD 48
#define NOISE_XX_MSG1_OVERHEAD 32
#define NOISE_XX_MSG2_OVERHEAD 96
#define NOISE_XX_MSG3_OVERHEAD 64

#define NOISE_EDECRYPT (ERR_BASE_NOISE - 1) /* authentication failed (forged/corrupt/wrong key) */
#define NOISE_ESTATE   (ERR_BASE_NOISE - 2) /* call not valid now (not our turn, not done...) */
#define NOISE_EREPLAY  (ERR_BASE_NOISE - 3) /* counter already seen or older than the window */
#define NOISE_ETOOBIG  (ERR_BASE_NOISE - 4) /* message would exceed NOISE_MSG_MAX */
#define NOISE_ENONCE   (ERR_BASE_NOISE - 5) /* nonce space exhausted (2^64-1 is reserved) */
#define NOISE_EDH      (ERR_BASE_NOISE - 6) /* DH gave all-zero output (low-order public key) */
#define NOISE_ESHORT   (ERR_BASE_NOISE - 7) /* message shorter than its fixed parts / tag */
#define NOISE_ENOSPC   (ERR_BASE_NOISE - 8) /* caller's output buffer too small */
#define NOISE_EPEER    (ERR_BASE_NOISE - 9) /* remote static key refused by the static check */

/* Message for any NOISE_E* code or negated errno. Never NULL; the string is static. */
const char *noise_strerror(int err);

enum noise_pattern { NOISE_IK, NOISE_XX };
enum noise_role { NOISE_INITIATOR, NOISE_RESPONDER };

struct noise_handshake;
struct noise_cipher;

/* Computes the X25519 public key for a private key (crypto_scalarmult_base). Returns 0 or
 * NOISE_EDH (degenerate key). */
int noise_public_key(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN])
        __attribute__((warn_unused_result));

/* ---- Handshake -------------------------------------------------------------------------- */

/* Creates a handshake state and runs Initialize() (protocol name, prologue, pre-messages).
 *   pattern, role   which handshake and which side we are.
 *   prologue, plen  bytes both sides must agree on (mixed into the hash); may be NULL if plen 0.
 *   local_static    our static X25519 private key (32 bytes, copied into sodium_malloc memory;
 *                   the caller may wipe its copy on return). Required for IK and XX.
 *   remote_static   the responder's static public key: required for the IK initiator (the
 *                   pinned hub key), must be NULL otherwise.
 * A fresh random ephemeral key is generated when the first message that needs it is written.
 * Errors: -EINVAL (bad pattern/role, missing or unexpected key), -ENOMEM, NOISE_EDH. */
int noise_handshake_new(struct noise_handshake **out, enum noise_pattern pattern,
                        enum noise_role role, const uint8_t *prologue, size_t plen,
                        const uint8_t local_static[NOISE_KEY_LEN], const uint8_t *remote_static)
        __attribute__((warn_unused_result));

/* FOR TEST VECTORS ONLY: fixes the ephemeral private key instead of a random one. Must be
 * called before any message is written or read. Errors: NOISE_ESTATE, NOISE_EDH. */
int noise_handshake_set_ephemeral(struct noise_handshake *hs, const uint8_t priv[NOISE_KEY_LEN])
        __attribute__((warn_unused_result));

/* Decides whether a remote static public key is acceptable (e.g. on the hub's allow-list).
 * Returns true to accept. Must not call back into the handshake. */
typedef bool (*noise_static_check_h)(const uint8_t remote_static[NOISE_KEY_LEN], void *arg);

/* Sets (or clears, with NULL) a check run by noise_handshake_read_message() as soon as the
 * peer's static key has been decrypted (IK message 1 at the responder, XX message 2 at the
 * initiator, XX message 3 at the responder) — before any further DH or payload decryption. If it
 * returns false the read fails with NOISE_EPEER and, like every failure, changes no state.
 * arg is passed through and must outlive the handshake. */
void noise_handshake_set_static_check(struct noise_handshake *hs, noise_static_check_h check,
                                      void *arg);

/* True when it is our turn to write the next handshake message (false once done). */
bool noise_handshake_wants_write(const struct noise_handshake *hs);

/* Bytes the next handshake message adds to its payload (see NOISE_*_OVERHEAD above); 0 when
 * the handshake is done. */
size_t noise_handshake_overhead(const struct noise_handshake *hs);

/* Writes the next handshake message carrying `payload` (plen bytes, may be NULL if plen 0;
 * encrypted when a key is available, i.e. all messages except XX message 1).
 *   out, outcap   destination; needs plen + noise_handshake_overhead(hs) bytes.
 *   *outlen       set to the message length on success.
 * Errors: NOISE_ESTATE (not our turn / done), NOISE_ETOOBIG (message > NOISE_MSG_MAX),
 * NOISE_ENOSPC (outcap too small), NOISE_EDH, -ENOMEM. On error the state is unchanged. */
int noise_handshake_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t plen,
                                  uint8_t *out, size_t outcap, size_t *outlen)
        __attribute__((warn_unused_result));

/* Reads the next handshake message (msg, mlen: untrusted bytes) and writes its decrypted
 * payload to payload_out (cap bytes; needs mlen - noise_handshake_overhead(hs)); *plen is set
 * to the payload length on success. payload_out may be NULL when cap is 0.
 * Errors: NOISE_ESTATE (not our turn / done), NOISE_ETOOBIG (mlen > NOISE_MSG_MAX),
 * NOISE_ESHORT (shorter than the fixed parts), NOISE_EDECRYPT (authentication failed, e.g.
 * forged message or — for the IK initiator — the responder does not hold the pinned key),
 * NOISE_EDH (low-order ephemeral/static), NOISE_EPEER (static check refused the key),
 * NOISE_ENOSPC, -ENOMEM.
 * On ANY error the handshake state is unchanged: the genuine message can still be read. */
int noise_handshake_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t mlen,
                                 uint8_t *payload_out, size_t cap, size_t *plen)
        __attribute__((warn_unused_result));

/* True once every message of the pattern has been written/read: split() may be called. */
bool noise_handshake_is_done(const struct noise_handshake *hs);

/* Copies the peer's static public key to out. Known to the IK initiator from the start, to the
 * IK responder as soon as message 1 has been read successfully (so a hub can check its
 * allow-list before allocating any per-peer state), and in XX to the initiator after message 2
 * and to the responder after message 3. Errors: NOISE_ESTATE (not known yet). */
int noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t out[NOISE_KEY_LEN])
        __attribute__((warn_unused_result));

/* Copies the current handshake hash h (channel binding once done). Always succeeds. */
void noise_handshake_hash(const struct noise_handshake *hs, uint8_t out[NOISE_HASH_LEN]);

/* Split(): derives the two transport cipher states. Role-aware: *send_cs encrypts what we send,
 * *recv_cs decrypts what we receive (the initiator sends with c1, the responder with c2). Both
 * start at nonce 0 and are released with noise_cipher_free(); they do not depend on hs, which
 * may be freed afterwards. (Internally the two share one secure allocation, released when both
 * have been freed; freeing them from different threads is safe.) May be called only once.
 * Errors: NOISE_ESTATE (not done, or already split), -ENOMEM. */
int noise_handshake_split(struct noise_handshake *hs, struct noise_cipher **send_cs,
                          struct noise_cipher **recv_cs) __attribute__((warn_unused_result));

/* Wipes and releases; NULL is fine. */
void noise_handshake_free(struct noise_handshake *hs);

/* ---- Transport -------------------------------------------------------------------------- */

/* The nonce (counter) the next noise_cipher_encrypt/decrypt call will use. A datagram sender
 * reads it before encrypting and puts it on the wire. */
uint64_t noise_cipher_nonce(const struct noise_cipher *cs);

/* Encrypts pt (ptlen bytes, at most NOISE_PAYLOAD_MAX) with the implicit nonce, then
 * increments it. ad/adlen: associated data authenticated but not sent (NULL if 0; the Noise
 * transport uses none). out receives ptlen + NOISE_TAG_LEN bytes; out may equal pt exactly
 * (in place) but must not otherwise overlap it.
 * Errors: NOISE_ETOOBIG, NOISE_ENONCE (counter reached 2^64-1), -EINVAL (NULL buffers). */
int noise_cipher_encrypt(struct noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *pt, size_t ptlen, uint8_t *out)
        __attribute__((warn_unused_result));

/* Decrypts ct (ctlen bytes, NOISE_TAG_LEN .. NOISE_MSG_MAX) with the implicit nonce and
 * increments it only on success. out receives ctlen - NOISE_TAG_LEN bytes (may equal ct).
 * Errors: NOISE_ESHORT, NOISE_ETOOBIG, NOISE_EDECRYPT (nonce unchanged), NOISE_ENONCE. */
int noise_cipher_decrypt(struct noise_cipher *cs, const uint8_t *ad, size_t adlen,
                         const uint8_t *ct, size_t ctlen, uint8_t *out)
        __attribute__((warn_unused_result));

/* Like noise_cipher_encrypt but with an explicit nonce; does not read or change the internal
 * counter. The caller must never reuse a nonce under one key (use noise_cipher_encrypt on the
 * sending side unless you manage nonces yourself). Errors: as noise_cipher_encrypt. */
int noise_cipher_encrypt_at(struct noise_cipher *cs, uint64_t nonce, const uint8_t *ad,
                            size_t adlen, const uint8_t *pt, size_t ptlen, uint8_t *out)
        __attribute__((warn_unused_result));

/* Decrypts with an explicit nonce (datagram receive path: out of order is fine); does not
 * read or change the internal counter. Replay protection is the caller's, with struct
 * noise_replay. Errors: as noise_cipher_decrypt (nonce 2^64-1 gives NOISE_ENONCE). */
int noise_cipher_decrypt_at(struct noise_cipher *cs, uint64_t nonce, const uint8_t *ad,
                            size_t adlen, const uint8_t *ct, size_t ctlen, uint8_t *out)
        __attribute__((warn_unused_result));

/* Noise REKEY: k = first 32 bytes of ENCRYPT(k, 2^64-1, empty ad, 32 zero bytes). The nonce
 * counter is NOT reset (as the spec says). Both peers must rekey at the same point of the
 * stream (for datagrams: agree on an epoch in the packet header). Errors: -ENOMEM (never in
 * practice; the key is replaced in place). */
int noise_cipher_rekey(struct noise_cipher *cs) __attribute__((warn_unused_result));

/* Wipes and releases; NULL is fine. */
void noise_cipher_free(struct noise_cipher *cs);

/* ---- Replay window (datagram receive side) ---------------------------------------------- */

/* A WireGuard-style sliding window (RFC 6479 bitmap): accepts each counter at most once,
 * accepts out-of-order counters up to NOISE_REPLAY_WINDOW behind the highest seen, and any
 * jump forward. Plain struct owned by the caller (no allocation, no secrets). */
#define NOISE_REPLAY_WORDS  64                              /* 64 x 64-bit words = 4096 bits */
#define NOISE_REPLAY_WINDOW ((NOISE_REPLAY_WORDS - 1) * 64) /* 4032 counters guaranteed */

struct noise_replay {
	uint64_t top; /* highest counter accepted + 1 (0: none yet) */
	uint64_t bitmap[NOISE_REPLAY_WORDS];
};

/* Resets to "nothing seen". */
void noise_replay_init(struct noise_replay *r);

/* Would `counter` be accepted? Does not change r. Returns 0 or NOISE_EREPLAY (seen already,
 * older than the window, or the reserved value 2^64-1). Call before decrypting so a replayed
 * packet costs no crypto. */
int noise_replay_check(const struct noise_replay *r, uint64_t counter)
        __attribute__((warn_unused_result));

/* Marks `counter` as seen; call only after noise_cipher_decrypt_at succeeded (so forged packets
 * cannot move the window). Returns 0, or NOISE_EREPLAY (r unchanged) for the same cases as
 * noise_replay_check. */
int noise_replay_update(struct noise_replay *r, uint64_t counter)
        __attribute__((warn_unused_result));

#endif
