/* common/buf.c — bounded byte reader and writer (see buf.h). */
#include "common/buf.h"

#include <string.h>

void buf_reader_init(struct buf_reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p ? len : 0;
	r->off = 0;
	r->err = false;
}

bool buf_reader_ok(const struct buf_reader *r)
{
	return !r->err;
}

size_t buf_reader_left(const struct buf_reader *r)
{
	return r->err ? 0 : r->len - r->off;
}

/* Returns the next n bytes or NULL (and the sticky error) when fewer remain. */
const uint8_t *buf_read_view(struct buf_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err || n > r->len - r->off) {
		r->err = true;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

bool buf_skip(struct buf_reader *r, size_t n)
{
	return buf_read_view(r, n) != NULL;
}

bool buf_read_bytes(struct buf_reader *r, void *out, size_t n)
{
	const uint8_t *p = buf_read_view(r, n);

	if (!p)
		return false;
	if (n)
		memcpy(out, p, n);
	return true;
}

static uint64_t read_be(struct buf_reader *r, size_t n)
{
	const uint8_t *p = buf_read_view(r, n);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static uint64_t read_le(struct buf_reader *r, size_t n)
{
	const uint8_t *p = buf_read_view(r, n);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (size_t i = n; i > 0; i--)
		v = v << 8 | p[i - 1];
	return v;
}

uint8_t buf_read_u8(struct buf_reader *r)
{
	return (uint8_t)read_be(r, 1);
}

uint16_t buf_read_u16(struct buf_reader *r)
{
	return (uint16_t)read_be(r, 2);
}

uint32_t buf_read_u24(struct buf_reader *r)
{
	return (uint32_t)read_be(r, 3);
}

uint32_t buf_read_u32(struct buf_reader *r)
{
	return (uint32_t)read_be(r, 4);
}

uint64_t buf_read_u64(struct buf_reader *r)
{
	return read_be(r, 8);
}

uint16_t buf_read_u16_le(struct buf_reader *r)
{
	return (uint16_t)read_le(r, 2);
}

uint32_t buf_read_u32_le(struct buf_reader *r)
{
	return (uint32_t)read_le(r, 4);
}

uint64_t buf_read_u64_le(struct buf_reader *r)
{
	return read_le(r, 8);
}

void buf_writer_init(struct buf_writer *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = p ? cap : 0;
	w->off = 0;
	w->err = false;
}

bool buf_writer_ok(const struct buf_writer *w)
{
	return !w->err;
}

size_t buf_writer_len(const struct buf_writer *w)
{
	return w->off;
}

uint8_t *buf_write_reserve(struct buf_writer *w, size_t n)
{
	uint8_t *p;

	if (w->err || n > w->cap - w->off) {
		w->err = true;
		return NULL;
	}
	p = w->p + w->off;
	w->off += n;
	return p;
}

void buf_write_bytes(struct buf_writer *w, const void *src, size_t n)
{
	uint8_t *p = buf_write_reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

static void write_be(struct buf_writer *w, uint64_t v, size_t n)
{
	uint8_t *p = buf_write_reserve(w, n);

	if (!p)
		return;
	for (size_t i = n; i > 0; i--) {
		p[i - 1] = (uint8_t)v;
		v >>= 8;
	}
}

static void write_le(struct buf_writer *w, uint64_t v, size_t n)
{
	uint8_t *p = buf_write_reserve(w, n);

	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

void buf_write_u8(struct buf_writer *w, uint8_t v)
{
	write_be(w, v, 1);
}

void buf_write_u16(struct buf_writer *w, uint16_t v)
{
	write_be(w, v, 2);
}

void buf_write_u24(struct buf_writer *w, uint32_t v)
{
	write_be(w, v, 3);
}

void buf_write_u32(struct buf_writer *w, uint32_t v)
{
	write_be(w, v, 4);
}

void buf_write_u64(struct buf_writer *w, uint64_t v)
{
	write_be(w, v, 8);
}

void buf_write_u16_le(struct buf_writer *w, uint16_t v)
{
	write_le(w, v, 2);
}

void buf_write_u32_le(struct buf_writer *w, uint32_t v)
{
	write_le(w, v, 4);
}

void buf_write_u64_le(struct buf_writer *w, uint64_t v)
{
	write_le(w, v, 8);
}
