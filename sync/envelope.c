/* sync/envelope.c — the end-to-end record envelope (see envelope.h for the format). */
#include "sync/envelope.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define ENV_MAGIC      0x50524745u /* "PRGE" */
#define CONT_MAGIC     0x50524743u /* "PRGC" */
#define SS_ABYTES      crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADERBYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_KEYBYTES    crypto_secretstream_xchacha20poly1305_KEYBYTES
/* Largest encoded container table (title, note, part table at their maxima). */
#define CONT_TABLE_MAX                                                                             \
	(8 + 2 + SYNC_ENV_TITLE_MAX + 4 + SYNC_ENV_NOTE_MAX + 2 +                                  \
	 (size_t)SYNC_ENV_PARTS_MAX * (2 + SYNC_ENV_NAME_MAX + 2 + SYNC_ENV_TYPE_MAX + 8))

_Static_assert(SS_ABYTES == SYNC_ENV_CHUNK_OVERHEAD, "chunk overhead");
_Static_assert(SS_HEADERBYTES == 24, "secretstream header size");
_Static_assert(SYNC_ENV_FIXED_BYTES == 4 + 4 + 16 + 16 + 64 + 64 + 8 + 4 + 4 + 8 + 80 + 24,
               "fixed header layout");

/* Secret state kept in sodium_malloc memory. */
struct env_secret {
	uint8_t key[SS_KEYBYTES];
	crypto_secretstream_xchacha20poly1305_state st;
};

/* sodium_malloc/sodium_free cost an mmap, two mprotects and a munmap each (guard pages): the TLB
 * shootdowns they trigger were ~14 % of a small durable enqueue in `perf`. Each thread keeps one
 * freed (wiped) secret block for the next record instead of unmapping it. */
static _Thread_local struct env_secret *spare_secret;

static struct env_secret *secret_alloc(void)
{
	struct env_secret *s = spare_secret;

	if (s) {
		spare_secret = NULL;
		return s;
	}
	return sodium_malloc(sizeof *s);
}

static void secret_free(struct env_secret *s)
{
	if (!s)
		return;
	sodium_memzero(s, sizeof *s);
	if (!spare_secret)
		spare_secret = s;
	else
		sodium_free(s);
}

struct sync_env_seal {
	struct env_secret *sec;
	const struct keys *sender;
	struct keys_pub recipient;
	enum sync_env_kind kind;
	enum sync_env_priority priority;
	uint8_t id[SYNC_ENV_ID_BYTES];
	uint8_t ref[SYNC_ENV_ID_BYTES];
	uint64_t created_ms;
	uint32_t chunk_size;
	uint32_t chunk_count;
	uint64_t plain_size;
	uint64_t pushed; /* plaintext bytes accepted so far (table included) */
	uint32_t next;   /* next chunk index to emit */
	uint8_t sealed_key[SYNC_ENV_SEALED_KEY_BYTES];
	uint8_t ss_header[SS_HEADERBYTES];
	uint8_t *hashes;
	uint8_t *plain; /* chunk_size accumulation buffer */
	size_t fill;
	uint8_t *ct;
	uint8_t *table;
	size_t table_len;
	bool broken;
};

struct sync_env_open {
	const struct sync_env_header *h;
	struct env_secret *sec;
	uint32_t next;
	uint8_t *plain;
	uint8_t *tbuf; /* accumulates the container table until it parses */
	size_t tfill;
	struct sync_env_content *content;
	uint64_t table_len;
	size_t part;        /* current part */
	uint64_t part_left; /* bytes left in the current part */
	bool final_seen;
	bool broken;
};

/* --- small helpers -------------------------------------------------------------------------- */

size_t sync_env_header_size(uint32_t chunk_count)
{
	return SYNC_ENV_FIXED_BYTES + (size_t)chunk_count * SYNC_ENV_HASH_BYTES +
	       SYNC_ENV_SIG_BYTES;
}

size_t sync_env_chunk_len(const struct sync_env_header *h, uint32_t index)
{
	if (index >= h->chunk_count)
		return 0;
	if (index + 1 < h->chunk_count)
		return (size_t)h->chunk_size + SS_ABYTES;
	return (size_t)(h->plain_size - (uint64_t)h->chunk_size * (h->chunk_count - 1)) + SS_ABYTES;
}

uint64_t sync_env_wire_size(const struct sync_env_header *h)
{
	return h->plain_size + (uint64_t)h->chunk_count * SS_ABYTES;
}

bool sync_env_name_ok(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n == 0 || n > SYNC_ENV_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return false;
	}
	return true;
}

static bool type_ok(const char *t)
{
	size_t n = strlen(t);

	if (n > SYNC_ENV_TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] < 0x20 || t[i] > 0x7e)
			return false;
	return true;
}

/* Text fields (title, note): no NUL inside (they are C strings), no other constraint. */
static bool text_ok(const uint8_t *p, size_t n)
{
	return memchr(p, 0, n) == NULL;
}

static bool content_valid(const struct sync_env_content *c, uint64_t *size)
{
	uint64_t total;
	size_t title_len = c->title ? strlen(c->title) : 0;

	if (title_len > SYNC_ENV_TITLE_MAX || c->note_len > SYNC_ENV_NOTE_MAX ||
	    c->part_count > SYNC_ENV_PARTS_MAX || (c->part_count && !c->parts))
		return false;
	if (c->note_len && (!c->note || !text_ok((const uint8_t *)c->note, c->note_len)))
		return false;
	total = 8 + 2 + title_len + 4 + c->note_len + 2;
	for (size_t i = 0; i < c->part_count; i++) {
		const struct sync_env_part *p = &c->parts[i];
		const char *type = p->type ? p->type : "";
		if (!sync_env_name_ok(p->name) || !type_ok(type))
			return false;
		total += 2 + strlen(p->name) + 2 + strlen(type) + 8;
		if (p->size > UINT64_MAX / 2 - total)
			return false;
		total += p->size;
	}
	*size = total;
	return true;
}

uint64_t sync_env_content_size(const struct sync_env_content *c)
{
	uint64_t n;

	return c && content_valid(c, &n) ? n : 0;
}

int sync_env_content_encode(const struct sync_env_content *c, uint8_t **out, size_t *len)
{
	struct buf_writer w;
	uint64_t total;
	size_t tlen, title_len;
	uint8_t *p;

	if (!c || !content_valid(c, &total))
		return SYNC_ENV_ENAME;
	title_len = c->title ? strlen(c->title) : 0;
	tlen = 8 + 2 + title_len + 4 + c->note_len + 2;
	for (size_t i = 0; i < c->part_count; i++)
		tlen += 2 + strlen(c->parts[i].name) + 2 +
		        strlen(c->parts[i].type ? c->parts[i].type : "") + 8;
	if (!(p = malloc(tlen)))
		return -ENOMEM;
	buf_writer_init(&w, p, tlen);
	buf_write_u32(&w, CONT_MAGIC);
	buf_write_u8(&w, 1);
	buf_write_u8(&w, 0);
	buf_write_u16(&w, 0);
	buf_write_u16(&w, (uint16_t)title_len);
	buf_write_bytes(&w, c->title, title_len);
	buf_write_u32(&w, (uint32_t)c->note_len);
	buf_write_bytes(&w, c->note, c->note_len);
	buf_write_u16(&w, (uint16_t)c->part_count);
	for (size_t i = 0; i < c->part_count; i++) {
		const char *type = c->parts[i].type ? c->parts[i].type : "";
		buf_write_u16(&w, (uint16_t)strlen(c->parts[i].name));
		buf_write_bytes(&w, c->parts[i].name, strlen(c->parts[i].name));
		buf_write_u16(&w, (uint16_t)strlen(type));
		buf_write_bytes(&w, type, strlen(type));
		buf_write_u64(&w, c->parts[i].size);
	}
	if (!buf_writer_ok(&w) || buf_writer_len(&w) != tlen) {
		free(p);
		return -EINVAL;
	}
	*out = p;
	*len = tlen;
	return 0;
}

void sync_env_content_free(struct sync_env_content *c)
{
	if (!c)
		return;
	free(c->title);
	free(c->note);
	for (size_t i = 0; i < c->part_count; i++) {
		free((char *)c->parts[i].name);
		free((char *)c->parts[i].type);
	}
	free(c->parts);
	free(c);
}

static char *dup_n(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

int sync_env_content_parse(struct sync_env_content **out, size_t *used, const uint8_t *p,
                           size_t len)
{
	struct buf_reader r;
	struct sync_env_content *c = NULL;
	const uint8_t *v;
	uint16_t n16;
	uint32_t n32;
	int ret = -EAGAIN;

	static const uint8_t head[8] = {'P', 'R', 'G', 'C', 1, 0, 0, 0};

	if (!p || !len)
		return -EAGAIN;
	if (memcmp(p, head, len < 8 ? len : 8) != 0)
		return SYNC_ENV_ECONTAINER;
	if (len < 8)
		return -EAGAIN;
	buf_reader_init(&r, p + 8, len - 8);
	if (!(c = calloc(1, sizeof *c)))
		return -ENOMEM;
	n16 = buf_read_u16(&r);
	if (n16 > SYNC_ENV_TITLE_MAX) {
		ret = SYNC_ENV_ECONTAINER;
		goto out;
	}
	if (!(v = buf_read_view(&r, n16)))
		goto out;
	if (!text_ok(v, n16)) {
		ret = SYNC_ENV_ENAME;
		goto out;
	}
	if (!(c->title = dup_n(v, n16))) {
		ret = -ENOMEM;
		goto out;
	}
	n32 = buf_read_u32(&r);
	if (buf_reader_ok(&r) && n32 > SYNC_ENV_NOTE_MAX) {
		ret = SYNC_ENV_ECONTAINER;
		goto out;
	}
	if (!(v = buf_read_view(&r, n32)))
		goto out;
	if (!text_ok(v, n32)) {
		ret = SYNC_ENV_ENAME;
		goto out;
	}
	if (!(c->note = dup_n(v, n32))) {
		ret = -ENOMEM;
		goto out;
	}
	c->note_len = n32;
	n16 = buf_read_u16(&r);
	if (!buf_reader_ok(&r))
		goto out;
	if (n16 > SYNC_ENV_PARTS_MAX) {
		ret = SYNC_ENV_ECONTAINER;
		goto out;
	}
	if (n16 && !(c->parts = calloc(n16, sizeof *c->parts))) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n16; i++) {
		struct sync_env_part *pt = &c->parts[i];
		uint16_t nl = buf_read_u16(&r), tl;
		if (!(v = buf_read_view(&r, nl)))
			goto out;
		if (!(pt->name = dup_n(v, nl))) {
			ret = -ENOMEM;
			goto out;
		}
		c->part_count = i + 1; /* so free() releases this part */
		tl = buf_read_u16(&r);
		if (!(v = buf_read_view(&r, tl)))
			goto out;
		if (!(pt->type = dup_n(v, tl))) {
			ret = -ENOMEM;
			goto out;
		}
		pt->size = buf_read_u64(&r);
		if (!buf_reader_ok(&r))
			goto out;
		if (strlen(pt->name) != nl || strlen(pt->type) != tl ||
		    !sync_env_name_ok(pt->name) || !type_ok(pt->type)) {
			ret = SYNC_ENV_ENAME;
			goto out;
		}
	}
	c->part_count = n16;
	*used = 8 + r.off;
	*out = c;
	c = NULL;
	ret = 0;
out:
	sync_env_content_free(c);
	return ret;
}

/* --- sealing -------------------------------------------------------------------------------- */

/* Encrypts n plaintext bytes at src as the next chunk, hashes it and hands it out. */
static int seal_emit_from(struct sync_env_seal *w, const uint8_t *src, size_t n, uint8_t tag,
                          sync_env_chunk_h cb, void *arg)
{
	unsigned long long clen = 0;
	uint32_t i = w->next;
	int ret;

	if (i >= w->chunk_count)
		return SYNC_ENV_ESIZE;
	if (crypto_secretstream_xchacha20poly1305_push(&w->sec->st, w->ct, &clen, src, n, NULL, 0,
	                                               tag) != 0)
		return -EINVAL;
	crypto_generichash(w->hashes + (size_t)i * SYNC_ENV_HASH_BYTES, SYNC_ENV_HASH_BYTES, w->ct,
	                   clen, NULL, 0);
	w->next++;
	if (cb && (ret = cb(i, w->ct, (size_t)clen, arg)) != 0)
		return ret;
	return 0;
}

static int seal_emit(struct sync_env_seal *w, uint8_t tag, sync_env_chunk_h cb, void *arg)
{
	size_t n = w->fill;

	w->fill = 0;
	return seal_emit_from(w, w->plain, n, tag, cb, arg);
}

static int seal_feed(struct sync_env_seal *w, const uint8_t *p, size_t len, sync_env_chunk_h cb,
                     void *arg)
{
	int ret;

	if (w->broken)
		return -EINVAL;
	if (len > w->plain_size - w->pushed) {
		w->broken = true;
		return SYNC_ENV_ESIZE;
	}
	while (len) {
		size_t n = w->chunk_size - w->fill;
		/* Whole chunks straight from the caller's buffer (no copy), unless it is the last.
		 */
		if (w->fill == 0 && len >= w->chunk_size &&
		    w->pushed + w->chunk_size < w->plain_size) {
			w->pushed += w->chunk_size;
			if ((ret = seal_emit_from(w, p, w->chunk_size,
			                          crypto_secretstream_xchacha20poly1305_TAG_MESSAGE,
			                          cb, arg)) != 0) {
				w->broken = true;
				return ret;
			}
			p += w->chunk_size;
			len -= w->chunk_size;
			continue;
		}
		if (n > len)
			n = len;
		memcpy(w->plain + w->fill, p, n);
		w->fill += n;
		w->pushed += n;
		p += n;
		len -= n;
		/* A full buffer is emitted only if more bytes follow: the last chunk waits for
		 * finish so it can carry the FINAL tag. */
		if (w->fill == w->chunk_size && w->pushed < w->plain_size &&
		    (ret = seal_emit(w, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, cb,
		                     arg))) {
			w->broken = true;
			return ret;
		}
	}
	return 0;
}

int sync_env_seal_new(struct sync_env_seal **out, const struct keys *sender,
                      const struct keys_pub *recipient, enum sync_env_kind kind,
                      enum sync_env_priority priority, const uint8_t *ref, const uint8_t *id,
                      uint64_t created_ms, uint32_t chunk_size,
                      const struct sync_env_content *content)
{
	struct sync_env_seal *w = NULL;
	uint64_t plain, count;
	int ret = -EINVAL;

	if (!out || !sender || !recipient || !content ||
	    (kind != SYNC_ENV_CASE && kind != SYNC_ENV_REPLY) ||
	    (unsigned)priority > SYNC_PRIO_BULK || (kind == SYNC_ENV_REPLY && !ref))
		return -EINVAL;
	if (chunk_size == 0)
		chunk_size = SYNC_ENV_CHUNK_DEFAULT;
	if (chunk_size < SYNC_ENV_CHUNK_MIN || chunk_size > SYNC_ENV_CHUNK_MAX)
		return -EINVAL;
	if (!content_valid(content, &plain))
		return SYNC_ENV_ENAME;
	count = (plain + chunk_size - 1) / chunk_size;
	if (count > SYNC_ENV_CHUNKS_MAX)
		return SYNC_ENV_ESIZE;
	if (sodium_init() < 0)
		return -EIO;
	if (!(w = calloc(1, sizeof *w)))
		return -ENOMEM;
	w->sender = sender;
	w->recipient = *recipient;
	w->kind = kind;
	w->priority = priority;
	if (id)
		memcpy(w->id, id, sizeof w->id);
	else
		randombytes_buf(w->id, sizeof w->id);
	if (kind == SYNC_ENV_REPLY)
		memcpy(w->ref, ref, sizeof w->ref);
	w->created_ms = created_ms;
	w->chunk_size = chunk_size;
	w->chunk_count = (uint32_t)count;
	w->plain_size = plain;
	ret = -ENOMEM;
	if (!(w->sec = secret_alloc()) ||
	    !(w->hashes = malloc((size_t)count * SYNC_ENV_HASH_BYTES)) ||
	    !(w->plain = malloc(chunk_size)) || !(w->ct = malloc((size_t)chunk_size + SS_ABYTES)))
		goto out;
	crypto_secretstream_xchacha20poly1305_keygen(w->sec->key);
	if (crypto_secretstream_xchacha20poly1305_init_push(&w->sec->st, w->ss_header,
	                                                    w->sec->key) ||
	    crypto_box_seal(w->sealed_key, w->sec->key, SS_KEYBYTES, recipient->x25519)) {
		ret = -EINVAL;
		goto out;
	}
	if ((ret = sync_env_content_encode(content, &w->table, &w->table_len)) != 0)
		goto out;
	/* The table's bytes enter the stream on the first push/finish (seal_table), so that any
	 * chunk it fills reaches the caller's callback. */
	*out = w;
	w = NULL;
	ret = 0;
out:
	sync_env_seal_free(w);
	return ret;
}

const uint8_t *sync_env_seal_id(const struct sync_env_seal *w)
{
	return w->id;
}

uint32_t sync_env_seal_chunk_count(const struct sync_env_seal *w)
{
	return w->chunk_count;
}

uint64_t sync_env_seal_plain_size(const struct sync_env_seal *w)
{
	return w->plain_size;
}

/* The table is fed lazily on the first push/finish, so its chunks reach the callback too. */
static int seal_table(struct sync_env_seal *w, sync_env_chunk_h cb, void *arg)
{
	int ret = 0;

	if (w->table) {
		ret = seal_feed(w, w->table, w->table_len, cb, arg);
		free(w->table);
		w->table = NULL;
	}
	return ret;
}

int sync_env_seal_push(struct sync_env_seal *w, const void *data, size_t len, sync_env_chunk_h cb,
                       void *arg)
{
	int ret;

	if ((ret = seal_table(w, cb, arg)) != 0)
		return ret;
	return seal_feed(w, data, len, cb, arg);
}

int sync_env_seal_finish(struct sync_env_seal *w, sync_env_chunk_h cb, void *arg, uint8_t **header,
                         size_t *header_len)
{
	struct buf_writer bw;
	size_t hlen;
	uint8_t *h = NULL;
	int ret;

	if ((ret = seal_table(w, cb, arg)) != 0)
		return ret;
	if (w->broken)
		return -EINVAL;
	if (w->pushed != w->plain_size || w->next != w->chunk_count - 1) {
		w->broken = true;
		return SYNC_ENV_ESIZE;
	}
	if ((ret = seal_emit(w, crypto_secretstream_xchacha20poly1305_TAG_FINAL, cb, arg)) != 0) {
		w->broken = true;
		return ret;
	}
	w->broken = true; /* finished: no more pushes */
	hlen = sync_env_header_size(w->chunk_count);
	if (!(h = malloc(hlen)))
		return -ENOMEM;
	buf_writer_init(&bw, h, hlen);
	buf_write_u32(&bw, ENV_MAGIC);
	buf_write_u8(&bw, SYNC_ENV_VERSION);
	buf_write_u8(&bw, (uint8_t)w->kind);
	buf_write_u8(&bw, (uint8_t)w->priority);
	buf_write_u8(&bw, 0);
	buf_write_bytes(&bw, w->id, SYNC_ENV_ID_BYTES);
	buf_write_bytes(&bw, w->ref, SYNC_ENV_ID_BYTES);
	buf_write_bytes(&bw, &w->sender->pub, KEYS_PUB_BYTES);
	buf_write_bytes(&bw, &w->recipient, KEYS_PUB_BYTES);
	buf_write_u64(&bw, w->created_ms);
	buf_write_u32(&bw, w->chunk_size);
	buf_write_u32(&bw, w->chunk_count);
	buf_write_u64(&bw, w->plain_size);
	buf_write_bytes(&bw, w->sealed_key, sizeof w->sealed_key);
	buf_write_bytes(&bw, w->ss_header, sizeof w->ss_header);
	buf_write_bytes(&bw, w->hashes, (size_t)w->chunk_count * SYNC_ENV_HASH_BYTES);
	if (!buf_writer_ok(&bw) || buf_writer_len(&bw) != hlen - SYNC_ENV_SIG_BYTES) {
		free(h);
		return -EINVAL;
	}
	crypto_sign_detached(h + hlen - SYNC_ENV_SIG_BYTES, NULL, h, hlen - SYNC_ENV_SIG_BYTES,
	                     w->sender->ed25519_sk);
	*header = h;
	*header_len = hlen;
	return 0;
}

void sync_env_seal_free(struct sync_env_seal *w)
{
	if (!w)
		return;
	secret_free(w->sec);
	free(w->hashes);
	if (w->plain) {
		sodium_memzero(w->plain, w->chunk_size);
		free(w->plain);
	}
	free(w->ct);
	if (w->table) {
		sodium_memzero(w->table, w->table_len);
		free(w->table);
	}
	free(w);
}

/* --- checking ------------------------------------------------------------------------------- */

_Static_assert(sizeof(struct keys_pub) == KEYS_PUB_BYTES, "keys_pub is packed");

int sync_env_header_parse(struct sync_env_header **out, const uint8_t *p, size_t len)
{
	struct buf_reader r;
	struct sync_env_header *h = NULL;
	uint8_t kind, prio, flags, zero[SYNC_ENV_ID_BYTES] = {0};
	uint64_t count;
	size_t hl;
	int ret = SYNC_ENV_EHEADER;

	if (!out || (!p && len))
		return -EINVAL;
	buf_reader_init(&r, p, len);
	if (buf_read_u32(&r) != ENV_MAGIC)
		return SYNC_ENV_EMAGIC;
	if (!(h = calloc(1, sizeof *h)))
		return -ENOMEM;
	h->version = buf_read_u8(&r);
	kind = buf_read_u8(&r);
	prio = buf_read_u8(&r);
	flags = buf_read_u8(&r);
	if (!buf_reader_ok(&r))
		goto out;
	if (h->version != SYNC_ENV_VERSION || flags != 0) {
		ret = SYNC_ENV_EVERSION;
		goto out;
	}
	if ((kind != SYNC_ENV_CASE && kind != SYNC_ENV_REPLY) || prio > SYNC_PRIO_BULK)
		goto out;
	h->kind = kind;
	h->priority = prio;
	buf_read_bytes(&r, h->id, sizeof h->id);
	buf_read_bytes(&r, h->ref, sizeof h->ref);
	buf_read_bytes(&r, &h->sender, KEYS_PUB_BYTES);
	buf_read_bytes(&r, &h->recipient, KEYS_PUB_BYTES);
	h->created_ms = buf_read_u64(&r);
	h->chunk_size = buf_read_u32(&r);
	h->chunk_count = buf_read_u32(&r);
	h->plain_size = buf_read_u64(&r);
	buf_read_bytes(&r, h->sealed_key, sizeof h->sealed_key);
	buf_read_bytes(&r, h->ss_header, sizeof h->ss_header);
	if (!buf_reader_ok(&r))
		goto out;
	if (h->chunk_size < SYNC_ENV_CHUNK_MIN || h->chunk_size > SYNC_ENV_CHUNK_MAX ||
	    h->chunk_count < 1 || h->chunk_count > SYNC_ENV_CHUNKS_MAX || h->plain_size < 1)
		goto out;
	count = (h->plain_size + h->chunk_size - 1) / h->chunk_size;
	if (count != h->chunk_count)
		goto out;
	if ((kind == SYNC_ENV_CASE) != !memcmp(h->ref, zero, sizeof zero))
		goto out;
	hl = sync_env_header_size(h->chunk_count);
	if (len != hl)
		goto out;
	if (!(h->hashes = malloc((size_t)h->chunk_count * SYNC_ENV_HASH_BYTES))) {
		ret = -ENOMEM;
		goto out;
	}
	buf_read_bytes(&r, h->hashes, (size_t)h->chunk_count * SYNC_ENV_HASH_BYTES);
	if (!buf_reader_ok(&r) || buf_reader_left(&r) != SYNC_ENV_SIG_BYTES)
		goto out;
	if (crypto_sign_verify_detached(p + len - SYNC_ENV_SIG_BYTES, p, len - SYNC_ENV_SIG_BYTES,
	                                h->sender.ed25519) != 0) {
		ret = SYNC_ENV_ESIG;
		goto out;
	}
	h->header_len = len;
	*out = h;
	h = NULL;
	ret = 0;
out:
	sync_env_header_free(h);
	return ret;
}

void sync_env_header_free(struct sync_env_header *h)
{
	if (!h)
		return;
	free(h->hashes);
	free(h);
}

int sync_env_chunk_check(const struct sync_env_header *h, uint32_t index, const uint8_t *ct,
                         size_t len)
{
	uint8_t hash[SYNC_ENV_HASH_BYTES];

	if (index >= h->chunk_count)
		return SYNC_ENV_EINDEX;
	if (len != sync_env_chunk_len(h, index) || !ct)
		return SYNC_ENV_ECHUNKSIZE;
	crypto_generichash(hash, sizeof hash, ct, len, NULL, 0);
	if (sodium_memcmp(hash, h->hashes + (size_t)index * SYNC_ENV_HASH_BYTES, sizeof hash) != 0)
		return SYNC_ENV_ECHUNKHASH;
	return 0;
}

int sync_env_chunk_check_raw(const uint8_t *header, size_t header_len, uint32_t index,
                             const uint8_t *ct, size_t len)
{
	struct sync_env_header h = {0};
	struct buf_reader r;

	if (!header || header_len < SYNC_ENV_FIXED_BYTES)
		return SYNC_ENV_EHEADER;
	buf_reader_init(&r, header + 176, 16);
	h.chunk_size = buf_read_u32(&r);
	h.chunk_count = buf_read_u32(&r);
	h.plain_size = buf_read_u64(&r);
	if (h.chunk_size == 0 || header_len != sync_env_header_size(h.chunk_count))
		return SYNC_ENV_EHEADER;
	h.hashes = (uint8_t *)header + SYNC_ENV_FIXED_BYTES;
	return sync_env_chunk_check(&h, index, ct, len);
}

/* --- opening -------------------------------------------------------------------------------- */

int sync_env_open_new(struct sync_env_open **out, const struct sync_env_header *h,
                      const struct keys *self)
{
	struct sync_env_open *r = NULL;
	int ret = -ENOMEM;

	if (!out || !h || !self)
		return -EINVAL;
	if (sodium_memcmp(&h->recipient, &self->pub, sizeof self->pub) != 0)
		return SYNC_ENV_ERECIPIENT;
	if (sodium_init() < 0)
		return -EIO;
	if (!(r = calloc(1, sizeof *r)))
		return -ENOMEM;
	r->h = h;
	if (!(r->sec = secret_alloc()) || !(r->plain = malloc(h->chunk_size)))
		goto out;
	if (crypto_box_seal_open(r->sec->key, h->sealed_key, sizeof h->sealed_key, self->pub.x25519,
	                         self->x25519_sk) != 0) {
		ret = SYNC_ENV_EKEY;
		goto out;
	}
	if (crypto_secretstream_xchacha20poly1305_init_pull(&r->sec->st, h->ss_header,
	                                                    r->sec->key) != 0) {
		ret = SYNC_ENV_EDECRYPT;
		goto out;
	}
	*out = r;
	r = NULL;
	ret = 0;
out:
	sync_env_open_free(r);
	return ret;
}

/* Hands part bytes to cb, walking the part table. */
static int open_parts(struct sync_env_open *r, const uint8_t *p, size_t n, sync_env_part_h cb,
                      void *arg)
{
	int ret;

	while (n) {
		size_t k;
		while (r->part < r->content->part_count && r->part_left == 0) {
			r->part++;
			if (r->part < r->content->part_count)
				r->part_left = r->content->parts[r->part].size;
		}
		if (r->part >= r->content->part_count)
			return SYNC_ENV_ECONTAINER; /* bytes beyond the last part */
		k = n < r->part_left ? n : (size_t)r->part_left;
		if (cb && (ret = cb(r->part, p, k, arg)) != 0)
			return ret;
		r->part_left -= k;
		p += k;
		n -= k;
	}
	return 0;
}

static int open_table(struct sync_env_open *r, const uint8_t *p, size_t n, bool last,
                      sync_env_part_h cb, void *arg)
{
	size_t used = 0, cap;
	uint64_t sum;
	int ret;

	/* tbuf holds at most a maximal table plus one chunk; a table not parsed by then is bad. */
	cap = r->h->plain_size < CONT_TABLE_MAX ? (size_t)r->h->plain_size : CONT_TABLE_MAX;
	if (!r->tbuf && !(r->tbuf = malloc(cap + r->h->chunk_size)))
		return -ENOMEM;
	if (r->tfill >= cap || n > r->h->chunk_size)
		return SYNC_ENV_ECONTAINER;
	memcpy(r->tbuf + r->tfill, p, n);
	r->tfill += n;
	ret = sync_env_content_parse(&r->content, &used, r->tbuf, r->tfill);
	if (ret == -EAGAIN)
		return (last || r->tfill >= cap) ? SYNC_ENV_ECONTAINER : 0;
	if (ret != 0)
		return ret;
	r->table_len = used;
	sum = used;
	for (size_t i = 0; i < r->content->part_count; i++) {
		if (r->content->parts[i].size > r->h->plain_size - sum)
			return SYNC_ENV_ECONTAINER;
		sum += r->content->parts[i].size;
	}
	if (sum != r->h->plain_size)
		return SYNC_ENV_ECONTAINER;
	r->part = 0;
	r->part_left = r->content->part_count ? r->content->parts[0].size : 0;
	/* The table's bytes came partly from earlier chunks: what follows it in tbuf is part data.
	 */
	ret = open_parts(r, r->tbuf + used, r->tfill - used, cb, arg);
	sodium_memzero(r->tbuf, r->tfill);
	free(r->tbuf);
	r->tbuf = NULL;
	return ret;
}

int sync_env_open_chunk(struct sync_env_open *r, uint32_t index, const uint8_t *ct, size_t len,
                        sync_env_part_h cb, void *arg)
{
	unsigned long long mlen = 0;
	unsigned char tag = 0;
	bool last;
	int ret;

	if (r->broken)
		return -EINVAL;
	r->broken = true; /* until this chunk succeeded */
	if (index != r->next)
		return index < r->h->chunk_count ? SYNC_ENV_EORDER : SYNC_ENV_EINDEX;
	if ((ret = sync_env_chunk_check(r->h, index, ct, len)) != 0)
		return ret;
	if (crypto_secretstream_xchacha20poly1305_pull(&r->sec->st, r->plain, &mlen, &tag, ct, len,
	                                               NULL, 0) != 0)
		return SYNC_ENV_EDECRYPT;
	last = index + 1 == r->h->chunk_count;
	if (last != (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) ||
	    (!last && tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
		return SYNC_ENV_ETAG;
	if (!r->content)
		ret = open_table(r, r->plain, (size_t)mlen, last, cb, arg);
	else
		ret = open_parts(r, r->plain, (size_t)mlen, cb, arg);
	sodium_memzero(r->plain, (size_t)mlen);
	if (ret != 0)
		return ret;
	r->next++;
	if (last) {
		if (!r->content || r->part_left != 0)
			return SYNC_ENV_ECONTAINER;
		for (size_t i = r->part + 1; i < r->content->part_count; i++)
			if (r->content->parts[i].size)
				return SYNC_ENV_ECONTAINER;
		r->final_seen = true;
	}
	r->broken = false;
	return 0;
}

const struct sync_env_content *sync_env_open_content(const struct sync_env_open *r)
{
	return r->content;
}

bool sync_env_open_done(const struct sync_env_open *r)
{
	return !r->broken && r->final_seen && r->content;
}

void sync_env_open_free(struct sync_env_open *r)
{
	if (!r)
		return;
	secret_free(r->sec);
	if (r->plain) {
		sodium_memzero(r->plain, r->h->chunk_size);
		free(r->plain);
	}
	if (r->tbuf) {
		sodium_memzero(r->tbuf, r->tfill);
		free(r->tbuf);
	}
	sync_env_content_free(r->content);
	free(r);
}

/* --- names ---------------------------------------------------------------------------------- */

const char *sync_env_priority_name(enum sync_env_priority p)
{
	switch (p) {
	case SYNC_PRIO_URGENT:
		return "urgent";
	case SYNC_PRIO_NORMAL:
		return "normal";
	case SYNC_PRIO_BULK:
		return "bulk";
	}
	return "?";
}

int sync_env_priority_parse(const char *s, enum sync_env_priority *out)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "urgent"))
		*out = SYNC_PRIO_URGENT;
	else if (!strcmp(s, "normal"))
		*out = SYNC_PRIO_NORMAL;
	else if (!strcmp(s, "bulk"))
		*out = SYNC_PRIO_BULK;
	else
		return -EINVAL;
	return 0;
}

void sync_env_id_hex(const uint8_t id[SYNC_ENV_ID_BYTES], char out[SYNC_ENV_ID_HEX_LEN])
{
	sodium_bin2hex(out, SYNC_ENV_ID_HEX_LEN, id, SYNC_ENV_ID_BYTES);
}

int sync_env_id_parse(const char *hex, uint8_t id[SYNC_ENV_ID_BYTES])
{
	size_t n = 0;
	const char *end = NULL;

	if (!hex || strlen(hex) != 2 * SYNC_ENV_ID_BYTES)
		return -EINVAL;
	if (sodium_hex2bin(id, SYNC_ENV_ID_BYTES, hex, strlen(hex), NULL, &n, &end) != 0 ||
	    n != SYNC_ENV_ID_BYTES || *end)
		return -EINVAL;
	return 0;
}

const char *sync_env_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case SYNC_ENV_EMAGIC:
		return "not a record envelope (bad magic)";
	case SYNC_ENV_EVERSION:
		return "unsupported envelope version or flags";
	case SYNC_ENV_EHEADER:
		return "envelope header malformed";
	case SYNC_ENV_ESIG:
		return "envelope signature does not verify (header altered or forged)";
	case SYNC_ENV_ERECIPIENT:
		return "record is not addressed to this site";
	case SYNC_ENV_ESENDER:
		return "record sender is not the connected peer";
	case SYNC_ENV_EINDEX:
		return "chunk index out of range";
	case SYNC_ENV_ECHUNKSIZE:
		return "chunk has the wrong length (truncated or extended)";
	case SYNC_ENV_ECHUNKHASH:
		return "chunk does not match its signed hash (altered, reordered or foreign)";
	case SYNC_ENV_EKEY:
		return "sealed record key does not open with this site's key";
	case SYNC_ENV_EDECRYPT:
		return "chunk decryption failed";
	case SYNC_ENV_ETAG:
		return "stream end tag misplaced (truncated record)";
	case SYNC_ENV_ECONTAINER:
		return "content container malformed";
	case SYNC_ENV_ENAME:
		return "bad title, note, part name or content type";
	case SYNC_ENV_ESIZE:
		return "content size differs from the declared size";
	case SYNC_ENV_EORDER:
		return "chunk out of order";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown envelope error";
}
