/* common/buf.h — bounded byte reader and writer for parsing and building wire formats.
 *
 * Every parser of outside input reads through a struct buf_reader: a view over
 * (const uint8_t *, size_t) that never reads past the end. A read that does not fit sets the
 * reader's sticky error flag, returns 0 / leaves the output untouched, and every later read
 * fails too, so a parser can read a whole header and check buf_reader_ok() once.
 * The writer is the mirror image over a caller-owned buffer: a write that does not fit sets the
 * sticky error and writes nothing. Neither allocates. Multi-byte integers are big-endian
 * (network order) unless the name says _le.
 */
#ifndef PIROGUE_COMMON_BUF_H
#define PIROGUE_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool err;
};

struct buf_writer {
	uint8_t *p;
	size_t cap;
	size_t off;
	bool err;
};

/* Starts reading `len` bytes at `p` (the bytes are borrowed, not copied). */
void buf_reader_init(struct buf_reader *r, const uint8_t *p, size_t len);
/* True while no read has run past the end. */
bool buf_reader_ok(const struct buf_reader *r);
/* Bytes left to read (0 once in error). */
size_t buf_reader_left(const struct buf_reader *r);
uint8_t buf_read_u8(struct buf_reader *r);
uint16_t buf_read_u16(struct buf_reader *r);
uint32_t buf_read_u24(struct buf_reader *r);
uint32_t buf_read_u32(struct buf_reader *r);
uint64_t buf_read_u64(struct buf_reader *r);
uint16_t buf_read_u16_le(struct buf_reader *r);
uint32_t buf_read_u32_le(struct buf_reader *r);
uint64_t buf_read_u64_le(struct buf_reader *r);
/* Copies n bytes into out; on overrun sets the error and leaves out untouched. */
bool buf_read_bytes(struct buf_reader *r, void *out, size_t n);
/* Returns a pointer to the next n bytes inside the reader's view and skips them, or NULL
 * (error set) if fewer remain. The pointer is valid as long as the underlying buffer. */
const uint8_t *buf_read_view(struct buf_reader *r, size_t n);
/* Skips n bytes; false (error set) if fewer remain. */
bool buf_skip(struct buf_reader *r, size_t n);

/* Starts writing into `p` of capacity `cap` (caller owns the memory). */
void buf_writer_init(struct buf_writer *w, uint8_t *p, size_t cap);
bool buf_writer_ok(const struct buf_writer *w);
/* Bytes written so far. */
size_t buf_writer_len(const struct buf_writer *w);
void buf_write_u8(struct buf_writer *w, uint8_t v);
void buf_write_u16(struct buf_writer *w, uint16_t v);
void buf_write_u24(struct buf_writer *w, uint32_t v);
void buf_write_u32(struct buf_writer *w, uint32_t v);
void buf_write_u64(struct buf_writer *w, uint64_t v);
void buf_write_u16_le(struct buf_writer *w, uint16_t v);
void buf_write_u32_le(struct buf_writer *w, uint32_t v);
void buf_write_u64_le(struct buf_writer *w, uint64_t v);
void buf_write_bytes(struct buf_writer *w, const void *src, size_t n);
/* Reserves n bytes and returns where they start (to be filled by the caller), or NULL. */
uint8_t *buf_write_reserve(struct buf_writer *w, size_t n);

#endif
