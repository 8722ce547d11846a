/* sync/envelope.h — the end-to-end record envelope (libsodium only).
 *
 * A record (a case clinic -> hub, or a reply hub -> clinic) is encrypted ONCE, at ingest, and
 * travels and rests in that form. On the wire and in the store it is two things:
 *
 *   1. the HEADER (signed, public, SYNC_ENV_HEADER_MAX bytes at most), sent first;
 *   2. chunk_count CHUNKS, each one crypto_secretstream_xchacha20poly1305 message of
 *      chunk_size plaintext bytes (the last one shorter, tagged FINAL; every other one tagged
 *      MESSAGE), i.e. chunk_size + SYNC_ENV_CHUNK_OVERHEAD bytes of ciphertext.
 *
 * Header layout, version 1 (all integers big-endian, read with common/buf.h):
 *
 *   off  size  field
 *     0     4  magic "PRGE"
 *     4     1  version (1)
 *     5     1  kind (enum sync_env_kind)
 *     6     1  priority (enum sync_env_priority)
 *     7     1  flags (0; anything else is refused)
 *     8    16  record id (random; the idempotency key for exactly-once delivery)
 *    24    16  reference id (for a reply: the case id it answers; all zero for a case)
 *    40    64  sender public key (X25519 || Ed25519, common/keys.h)
 *   104    64  recipient public key
 *   168     8  created, wall-clock ms since the epoch
 *   176     4  chunk_size (plaintext bytes per chunk; SYNC_ENV_CHUNK_MIN..SYNC_ENV_CHUNK_MAX)
 *   180     4  chunk_count (= ceil(plain_size / chunk_size), at least 1)
 *   184     8  plain_size (bytes of the plaintext container, see below; >= 1)
 *   192    80  sealed key: crypto_box_seal(record key[32], recipient X25519 public key)
 *   272    24  secretstream header (from crypto_secretstream_xchacha20poly1305_init_push)
 *   296  32*n  BLAKE2b-256 of each encrypted chunk, in order (n = chunk_count)
 *     .    64  Ed25519 signature (crypto_sign_detached, sender key) of every byte above
 *
 * What that buys (the security argument):
 *  - the relay (and anyone on the path) cannot read the content: only the recipient's X25519
 *    secret opens the sealed key;
 *  - nobody but the sender can create or alter a record: the signature covers the ids, both
 *    keys, the priority, the sizes, the sealed key, the stream header and the hash of every
 *    encrypted chunk. A receiver checks each chunk against its signed hash the moment it
 *    arrives (sync_env_chunk_check), without needing its secret key, so a bad chunk is refused
 *    before it is persisted or acknowledged; a chunk of another record, a reordered, replayed,
 *    truncated or extended chunk all fail that check (or the index/size check);
 *  - the secretstream adds order and end-of-stream protection under the record key (a
 *    missing last chunk fails: the FINAL tag is required on the last chunk and only there).
 *
 * Privacy: the title, the note and the part table (file names, content types, sizes) are NOT
 * in the header; they are inside the encrypted container, so the header reveals only sizes,
 * priority, time and the two site keys. (Each endpoint keeps a local plaintext summary in its
 * own store for listing: see sync/store.h.)
 *
 * Plaintext container, version 1 (what the chunks encrypt, plain_size bytes in total):
 *
 *   magic "PRGC" (4) | version u8 = 1 | 3 zero bytes
 *   title_len u16 | title (UTF-8, <= SYNC_ENV_TITLE_MAX bytes)
 *   note_len  u32 | note  (UTF-8, <= SYNC_ENV_NOTE_MAX bytes)
 *   part_count u16 (<= SYNC_ENV_PARTS_MAX)
 *   part_count x { name_len u16 | name | type_len u16 | content type | size u64 }
 *   the bytes of part 0, then part 1, ... (exactly the sizes above, nothing after)
 *
 * Part names are plain file names: 1..SYNC_ENV_NAME_MAX bytes, no '/', no NUL, no control
 * characters, not "." or ".."; content types 0..SYNC_ENV_TYPE_MAX printable ASCII bytes.
 * Both are checked when sealing and again when opening (bad names from outside are refused).
 *
 * Every parser here is bounded (common/buf.h) and fuzzed (tests/fuzz/fuzz_envelope.c).
 */
#ifndef PIROGUE_SYNC_ENVELOPE_H
#define PIROGUE_SYNC_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "common/err.h"
#include "common/keys.h"

#define SYNC_ENV_VERSION          1
#define SYNC_ENV_ID_BYTES         16
#define SYNC_ENV_HASH_BYTES       32
#define SYNC_ENV_SIG_BYTES        64
#define SYNC_ENV_SEALED_KEY_BYTES (crypto_box_SEALBYTES + 32) /* 80 */
#define SYNC_ENV_FIXED_BYTES      296 /* header bytes before the chunk hashes */
#define SYNC_ENV_CHUNK_OVERHEAD   17  /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define SYNC_ENV_CHUNK_MIN        1024
#define SYNC_ENV_CHUNK_MAX        (1024 * 1024)
#define SYNC_ENV_CHUNK_DEFAULT    (64 * 1024)
/* Largest ciphertext chunk: a buffer of this size holds any chunk. */
#define SYNC_ENV_CHUNK_WIRE_MAX (SYNC_ENV_CHUNK_MAX + SYNC_ENV_CHUNK_OVERHEAD)
/* Largest chunk count / header. 4 Mi chunks -> 256 GiB at 64 KiB chunks; header <= 128 MiB is
 * never reached in practice (2 GiB at 64 KiB = 32768 chunks = 1 MiB of hashes). The header is a
 * single blob on the wire: xfer must carry blobs up to sync_env_header_size(count). */
#define SYNC_ENV_CHUNKS_MAX (1u << 22)
#define SYNC_ENV_HEADER_MAX                                                                        \
	(SYNC_ENV_FIXED_BYTES + (size_t)SYNC_ENV_CHUNKS_MAX * SYNC_ENV_HASH_BYTES +                \
	 SYNC_ENV_SIG_BYTES)

#define SYNC_ENV_TITLE_MAX 1024
#define SYNC_ENV_NOTE_MAX  (1024 * 1024)
#define SYNC_ENV_PARTS_MAX 1024
#define SYNC_ENV_NAME_MAX  255
#define SYNC_ENV_TYPE_MAX  255

/* Error codes (ERR_BASE_SYNC - 100 .. - 199 are the envelope's). Each names the region that
 * failed so a refused record can be reported precisely. */
#define SYNC_ENV_EMAGIC     (ERR_BASE_SYNC - 100) /* not an envelope header (magic) */
#define SYNC_ENV_EVERSION   (ERR_BASE_SYNC - 101) /* unknown version or flags */
#define SYNC_ENV_EHEADER    (ERR_BASE_SYNC - 102) /* header malformed/truncated/bad field */
#define SYNC_ENV_ESIG       (ERR_BASE_SYNC - 103) /* header signature does not verify */
#define SYNC_ENV_ERECIPIENT (ERR_BASE_SYNC - 104) /* record not addressed to this site */
#define SYNC_ENV_ESENDER    (ERR_BASE_SYNC - 105) /* sender is not the expected peer */
#define SYNC_ENV_EINDEX     (ERR_BASE_SYNC - 106) /* chunk index out of range */
#define SYNC_ENV_ECHUNKSIZE (ERR_BASE_SYNC - 107) /* chunk has the wrong length (truncated) */
#define SYNC_ENV_ECHUNKHASH (ERR_BASE_SYNC - 108) /* chunk does not match its signed hash */
#define SYNC_ENV_EKEY       (ERR_BASE_SYNC - 109) /* sealed key does not open with our key */
#define SYNC_ENV_EDECRYPT   (ERR_BASE_SYNC - 110) /* secretstream refused a chunk */
#define SYNC_ENV_ETAG       (ERR_BASE_SYNC - 111) /* FINAL tag missing on last / early */
#define SYNC_ENV_ECONTAINER (ERR_BASE_SYNC - 112) /* plaintext container malformed */
#define SYNC_ENV_ENAME      (ERR_BASE_SYNC - 113) /* bad part name / content type / title */
#define SYNC_ENV_ESIZE      (ERR_BASE_SYNC - 114) /* pushed bytes differ from declared sizes */
#define SYNC_ENV_EORDER     (ERR_BASE_SYNC - 115) /* chunks opened out of order */

enum sync_env_kind {
	SYNC_ENV_CASE = 1,  /* clinic -> hub */
	SYNC_ENV_REPLY = 2, /* hub -> clinic, ref = case id */
};

/* Lower value = more urgent (sort order). */
enum sync_env_priority {
	SYNC_PRIO_URGENT = 0,
	SYNC_PRIO_NORMAL = 1,
	SYNC_PRIO_BULK = 2,
};

/* One part of the content: a name (file name), a content type and a size. */
struct sync_env_part {
	const char *name;
	const char *type; /* e.g. "image/jpeg"; "" if unknown */
	uint64_t size;
};

/* The plaintext container's table (title, note, part list). When filled by the library
 * (sync_env_content_parse, sync_store_summary_get), every string is NUL-terminated and owned by
 * the struct: release with sync_env_content_free(). When filled by a caller for sealing, the
 * caller owns the strings. */
struct sync_env_content {
	char *title;
	char *note;
	size_t note_len;
	size_t part_count;
	struct sync_env_part *parts;
};

/* The parsed, signature-verified header. Plain data, owned by the caller (free with
 * sync_env_header_free); `hashes` points into its own copy of the chunk hash table. */
struct sync_env_header {
	uint8_t version;
	enum sync_env_kind kind;
	enum sync_env_priority priority;
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint8_t ref[SYNC_ENV_ID_BYTES];
	struct keys_pub sender;
	struct keys_pub recipient;
	uint64_t created_ms;
	uint32_t chunk_size;
	uint32_t chunk_count;
	uint64_t plain_size;
	uint8_t sealed_key[SYNC_ENV_SEALED_KEY_BYTES];
	uint8_t ss_header[24];
	uint8_t *hashes;   /* chunk_count * SYNC_ENV_HASH_BYTES */
	size_t header_len; /* size of the encoded header */
};

/* --- sizes ---------------------------------------------------------------------------------- */

/* Encoded header size for a record of `chunk_count` chunks. */
size_t sync_env_header_size(uint32_t chunk_count);
/* Ciphertext length of chunk `index` of a record (0 if index is out of range). */
size_t sync_env_chunk_len(const struct sync_env_header *h, uint32_t index);
/* Total ciphertext bytes of all chunks (what the transfer carries besides the header). */
uint64_t sync_env_wire_size(const struct sync_env_header *h);
/* Plaintext container size of a content table (header of the container + all part sizes).
 * Returns 0 if the table is invalid (bad names, too many parts, title/note too long). */
uint64_t sync_env_content_size(const struct sync_env_content *c);

/* --- sealing (sender, at ingest) ------------------------------------------------------------ */

struct sync_env_seal;

/* Called for each finished encrypted chunk, in order (index 0, 1, ...). `ct` is valid only
 * during the call. Return 0 to continue; any other value aborts sealing and is returned by the
 * push/finish call that triggered it. */
typedef int (*sync_env_chunk_h)(uint32_t index, const uint8_t *ct, size_t len, void *arg);

/* Starts sealing a record.
 *   out        receives the sealer (free with sync_env_seal_free) on success only
 *   sender     the sender's keys (signs the header; its public key goes in the header)
 *   recipient  who can open it (X25519 part seals the key)
 *   kind, priority, ref (NULL for a case: all zero), id (NULL: a random id is drawn)
 *   created_ms wall time stored in the header
 *   chunk_size SYNC_ENV_CHUNK_MIN..SYNC_ENV_CHUNK_MAX (0 = SYNC_ENV_CHUNK_DEFAULT)
 *   content    title, note and the part table (names, types, sizes); copied, the part BYTES
 *              are pushed afterwards with sync_env_seal_push in table order.
 * The container table is written into the stream at once. Errors: -EINVAL (bad argument),
 * SYNC_ENV_ENAME (bad title/name/type), SYNC_ENV_ESIZE (too large: > SYNC_ENV_CHUNKS_MAX
 * chunks), -ENOMEM. The record key lives in sodium_malloc memory and is wiped on free. */
int sync_env_seal_new(struct sync_env_seal **out, const struct keys *sender,
                      const struct keys_pub *recipient, enum sync_env_kind kind,
                      enum sync_env_priority priority, const uint8_t *ref, const uint8_t *id,
                      uint64_t created_ms, uint32_t chunk_size,
                      const struct sync_env_content *content) __attribute__((warn_unused_result));

/* The record id (random unless given to sync_env_seal_new). */
const uint8_t *sync_env_seal_id(const struct sync_env_seal *w);
/* Number of chunks the record will have / its plaintext container size. */
uint32_t sync_env_seal_chunk_count(const struct sync_env_seal *w);
uint64_t sync_env_seal_plain_size(const struct sync_env_seal *w);

/* Feeds part bytes (any split). Every full chunk is encrypted and handed to cb. Errors:
 * SYNC_ENV_ESIZE if more bytes than declared are pushed, cb's non-zero value, -ENOMEM. After
 * an error the sealer is unusable (free it). */
int sync_env_seal_push(struct sync_env_seal *w, const void *data, size_t len, sync_env_chunk_h cb,
                       void *arg) __attribute__((warn_unused_result));

/* Emits the last chunk (FINAL) and builds the signed header. On success *header is a malloc'd
 * buffer of *header_len bytes (caller frees). Errors: SYNC_ENV_ESIZE (fewer bytes pushed than
 * declared), cb's value, -ENOMEM. */
int sync_env_seal_finish(struct sync_env_seal *w, sync_env_chunk_h cb, void *arg, uint8_t **header,
                         size_t *header_len) __attribute__((warn_unused_result));

void sync_env_seal_free(struct sync_env_seal *w); /* NULL is fine; wipes the key */

/* --- checking (receiver, on arrival; no secret needed) -------------------------------------- */

/* Parses and verifies a header: structure, version, sizes, and the sender's signature.
 * On success *out is a new header (sync_env_header_free). The bytes must be exactly the header
 * (no trailing bytes). Errors: SYNC_ENV_EMAGIC, SYNC_ENV_EVERSION, SYNC_ENV_EHEADER,
 * SYNC_ENV_ESIG, -ENOMEM. */
int sync_env_header_parse(struct sync_env_header **out, const uint8_t *p, size_t len)
        __attribute__((warn_unused_result));
void sync_env_header_free(struct sync_env_header *h); /* NULL is fine */

/* Checks encrypted chunk `index` as it arrives: index in range (SYNC_ENV_EINDEX), exact length
 * (SYNC_ENV_ECHUNKSIZE), BLAKE2b-256 equal to the signed hash (SYNC_ENV_ECHUNKHASH). */
int sync_env_chunk_check(const struct sync_env_header *h, uint32_t index, const uint8_t *ct,
                         size_t len) __attribute__((warn_unused_result));

/* Same check on the raw bytes of a header that was already verified by sync_env_header_parse
 * (e.g. read back from this site's store): saves re-parsing a large header per chunk. The
 * caller guarantees `header` is such a header. */
int sync_env_chunk_check_raw(const uint8_t *header, size_t header_len, uint32_t index,
                             const uint8_t *ct, size_t len) __attribute__((warn_unused_result));

/* --- opening (recipient, with its secret key) ----------------------------------------------- */

struct sync_env_open;

/* Starts opening a record addressed to `self`. Errors: SYNC_ENV_ERECIPIENT (header recipient is
 * not self's public key), SYNC_ENV_EKEY (sealed key does not open), SYNC_ENV_EDECRYPT (stream
 * header refused), -ENOMEM. h must outlive the opener. */
int sync_env_open_new(struct sync_env_open **out, const struct sync_env_header *h,
                      const struct keys *self) __attribute__((warn_unused_result));

/* Part-byte callback while opening: bytes of part `part` (index into the content table),
 * valid only during the call. Return non-zero to stop (returned by sync_env_open_chunk). */
typedef int (*sync_env_part_h)(size_t part, const uint8_t *data, size_t len, void *arg);

/* Decrypts chunk `index`, which must be the next one (0, 1, ...; else SYNC_ENV_EORDER).
 * It is first checked like sync_env_chunk_check. The container table is parsed as soon as its
 * bytes are in (sync_env_open_content() then returns it); part bytes go to cb (may be NULL to
 * only verify). Errors: the chunk_check errors, SYNC_ENV_EDECRYPT, SYNC_ENV_ETAG,
 * SYNC_ENV_ECONTAINER, SYNC_ENV_ENAME, cb's value, -ENOMEM. After an error the opener is
 * unusable. */
int sync_env_open_chunk(struct sync_env_open *r, uint32_t index, const uint8_t *ct, size_t len,
                        sync_env_part_h cb, void *arg) __attribute__((warn_unused_result));

/* The content table once its bytes have been decrypted (usually after chunk 0), else NULL.
 * Owned by the opener. */
const struct sync_env_content *sync_env_open_content(const struct sync_env_open *r);

/* True when every chunk was opened, the FINAL tag seen on the last, and the container was
 * complete and exact. Only then is the record good. */
bool sync_env_open_done(const struct sync_env_open *r);

void sync_env_open_free(struct sync_env_open *r); /* NULL is fine; wipes the key */

/* --- content table helpers ------------------------------------------------------------------ */

/* Parses a container table from the start of a plaintext buffer (bounded). On success *out is
 * a new table (sync_env_content_free) and *used the table's byte length. Returns -EAGAIN if
 * the buffer is too short to hold the whole table yet, SYNC_ENV_ECONTAINER / SYNC_ENV_ENAME on
 * bad input. */
int sync_env_content_parse(struct sync_env_content **out, size_t *used, const uint8_t *p,
                           size_t len) __attribute__((warn_unused_result));
/* Encodes a table (validated as in sync_env_content_size) into a malloc'd buffer. */
int sync_env_content_encode(const struct sync_env_content *c, uint8_t **out, size_t *len)
        __attribute__((warn_unused_result));
void sync_env_content_free(struct sync_env_content *c); /* NULL is fine */
/* True if `name` is an acceptable part name (rules above). */
bool sync_env_name_ok(const char *name);

/* Names and hex ids. */
const char *sync_env_priority_name(enum sync_env_priority p); /* "urgent", ... */
int sync_env_priority_parse(const char *s, enum sync_env_priority *out)
        __attribute__((warn_unused_result)); /* -EINVAL if unknown */
#define SYNC_ENV_ID_HEX_LEN 33               /* 32 hex digits + NUL */
void sync_env_id_hex(const uint8_t id[SYNC_ENV_ID_BYTES], char out[SYNC_ENV_ID_HEX_LEN]);
/* Accepts exactly 32 hex digits; -EINVAL otherwise. */
int sync_env_id_parse(const char *hex, uint8_t id[SYNC_ENV_ID_BYTES])
        __attribute__((warn_unused_result));

/* Message for envelope codes and negated errnos. */
const char *sync_env_strerror(int err);

#endif
