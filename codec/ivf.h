/* codec/ivf.h — IVF container reader and writer (the simple VP8 file format of libvpx).
 *
 * Layout (all integers little-endian): a 32-byte file header — "DKIF", version u16 (0),
 * header size u16 (32), fourcc ("VP80"), width u16, height u16, time base denominator u32
 * ("rate"), numerator u32 ("scale"), frame count u32, unused u32 — then frames, each a 12-byte
 * header (size u32, pts u64) and `size` bytes of bitstream. The reader never trusts a length:
 * the header must be exactly as above (other versions, header sizes, zero sizes or rates are
 * refused with the reason), and a frame size larger than CODEC_IVF_FRAME_MAX, or larger than
 * what is left of a regular file, is refused before anything is allocated. The frame count
 * field is reported, not trusted (writers that stream leave it 0).
 */
#ifndef PIROGUE_CODEC_IVF_H
#define PIROGUE_CODEC_IVF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CODEC_IVF_HEADER_SIZE       32
#define CODEC_IVF_FRAME_HEADER_SIZE 12
/* Largest frame accepted: 16 MiB. Our encoder's frames are tens of kilobytes; the largest
 * conformance frame (1432x888 keyframe) is ~100 KB. This bounds what a pipe can make us
 * allocate; on a regular file the bound is also what is left of the file. */
#define CODEC_IVF_FRAME_MAX (16u << 20)
/* The VP8 fourcc. */
#define CODEC_IVF_FOURCC_VP8 0x30385056u /* "VP80" read little-endian */

#define CODEC_IVF_EMAGIC   (ERR_BASE_CODEC - 520) /* not an IVF file */
#define CODEC_IVF_ETRUNC   (ERR_BASE_CODEC - 521) /* header or frame cut short */
#define CODEC_IVF_EHEADER  (ERR_BASE_CODEC - 522) /* bad version, header size, size or rate */
#define CODEC_IVF_EFOURCC  (ERR_BASE_CODEC - 523) /* not VP8 */
#define CODEC_IVF_EFRAMESZ (ERR_BASE_CODEC - 524) /* frame size over the limit / the file */

struct codec_ivf_info {
	uint32_t fourcc;
	int width;
	int height;
	uint32_t rate; /* time base = scale / rate seconds per pts unit; both > 0 */
	uint32_t scale;
	uint32_t frame_count; /* as declared in the header (may be 0 or wrong) */
};

/* Message for a CODEC_IVF_* code or a negated errno. Never NULL; static. */
const char *codec_ivf_strerror(int err);

/* Parses the 32-byte file header at `p` (`len` bytes available). Fills *info and returns 0, or
 * CODEC_IVF_ETRUNC (len < 32), CODEC_IVF_EMAGIC, CODEC_IVF_EHEADER, CODEC_IVF_EFOURCC. `why`
 * (optional, why_len bytes) gets a one-line reason. */
int codec_ivf_header_parse(const uint8_t *p, size_t len, struct codec_ivf_info *info, char *why,
                           size_t why_len) __attribute__((warn_unused_result));

/* Parses a 12-byte frame header: 0 with *size and *pts set, CODEC_IVF_ETRUNC, or
 * CODEC_IVF_EFRAMESZ if the size is 0 or above CODEC_IVF_FRAME_MAX. */
int codec_ivf_frame_header_parse(const uint8_t *p, size_t len, uint32_t *size, uint64_t *pts)
        __attribute__((warn_unused_result));

struct codec_ivf_reader;

/* Opens `path` ("-" for stdin) and reads its header. *out is freed with codec_ivf_reader_close.
 * Errors: -errno, the errors of codec_ivf_header_parse, -ENOMEM; the reason is then in
 * codec_ivf_last_error(). */
int codec_ivf_reader_open(struct codec_ivf_reader **out, const char *path)
        __attribute__((warn_unused_result));
/* Same over `len` bytes at `p` (borrowed: must outlive the reader). */
int codec_ivf_reader_open_mem(struct codec_ivf_reader **out, const uint8_t *p, size_t len)
        __attribute__((warn_unused_result));
/* Reason for the last failed codec_ivf_reader_open* in this thread ("" if none). */
const char *codec_ivf_last_error(void);
const struct codec_ivf_info *codec_ivf_reader_info(const struct codec_ivf_reader *r);

/* Reads the next frame. Returns 1 with *data (reader-owned, valid until the next read or
 * close), *len and *pts set; 0 at a clean end of file; or CODEC_IVF_ETRUNC (file ends inside a
 * frame header or frame), CODEC_IVF_EFRAMESZ (declared size 0, over the limit or over what is
 * left of the file), -ENOMEM, -EIO. Errors are sticky; codec_ivf_reader_error() has the reason. */
int codec_ivf_reader_read(struct codec_ivf_reader *r, const uint8_t **data, size_t *len,
                          uint64_t *pts) __attribute__((warn_unused_result));
const char *codec_ivf_reader_error(const struct codec_ivf_reader *r);
/* NULL is fine. */
void codec_ivf_reader_close(struct codec_ivf_reader *r);

struct codec_ivf_writer;

/* Creates `path` ("-" for stdout) and writes the header of `info` (frame_count is ignored: the
 * writer counts and, if the file is seekable, patches the count in at close). Errors: -EINVAL
 * (sizes out of 1..65535, rate/scale 0), -errno, -ENOMEM. */
int codec_ivf_writer_open(struct codec_ivf_writer **out, const char *path,
                          const struct codec_ivf_info *info) __attribute__((warn_unused_result));
/* Appends one frame (1 .. CODEC_IVF_FRAME_MAX bytes). 0, -EINVAL or -EIO. */
int codec_ivf_writer_write(struct codec_ivf_writer *w, const uint8_t *data, size_t len,
                           uint64_t pts) __attribute__((warn_unused_result));
/* Patches the frame count, flushes, closes. 0 or -EIO. NULL returns 0. */
int codec_ivf_writer_close(struct codec_ivf_writer *w) __attribute__((warn_unused_result));

#endif
