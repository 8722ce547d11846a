/* codec/y4m.h — YUV4MPEG2 (Y4M) reader and writer, 8-bit 4:2:0 only.
 *
 * A Y4M stream is one header line ("YUV4MPEG2 W<w> H<h> F<n>:<d> [I<c>] [A<n>:<d>] [C<cs>]
 * [X<ext>]...\n") and then frames, each a "FRAME[ <params>]\n" line followed by one contiguous
 * I420 picture (see codec/scale.h). Only 4:2:0 8-bit colorspaces are accepted (C420, C420jpeg,
 * C420paldv, C420mpeg2, or no C tag); anything else (C422, C444, Cmono, C420p10, ...) is refused
 * with CODEC_Y4M_EFORMAT and a message naming it. FRAME parameters are read and ignored. Every
 * line is bounded (CODEC_Y4M_LINE_MAX) and every size is checked against codec/scale.h's limits
 * before anything is allocated. Parsing reads the file as a stream, so it also works on pipes.
 */
#ifndef PIROGUE_CODEC_Y4M_H
#define PIROGUE_CODEC_Y4M_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Longest header or FRAME line accepted, newline included. */
#define CODEC_Y4M_LINE_MAX 1024

/* Error codes (codec/ range; video files use -2500 .. -2599). */
#define CODEC_Y4M_EMAGIC  (ERR_BASE_CODEC - 500) /* not a YUV4MPEG2 stream */
#define CODEC_Y4M_ETRUNC  (ERR_BASE_CODEC - 501) /* header or frame cut short */
#define CODEC_Y4M_EFORMAT (ERR_BASE_CODEC - 502) /* not 4:2:0 8-bit */
#define CODEC_Y4M_ESIZE   (ERR_BASE_CODEC - 503) /* width/height missing, malformed, too big */
#define CODEC_Y4M_ERATE   (ERR_BASE_CODEC - 504) /* frame rate missing or malformed */
#define CODEC_Y4M_ESYNTAX (ERR_BASE_CODEC - 505) /* malformed tag or over-long line */
#define CODEC_Y4M_EFRAME  (ERR_BASE_CODEC - 506) /* a frame does not start with FRAME */

/* The stream parameters from the header line. */
struct codec_y4m_info {
	int width;
	int height;
	int fps_num; /* frame rate fps_num / fps_den, both > 0 */
	int fps_den;
	int par_num; /* pixel aspect ratio (0:0 = unknown) */
	int par_den;
	char interlace; /* 'p', 't', 'b', 'm' or '?' (frames are passed on as they are) */
};

/* Message for a CODEC_Y4M_* code or a negated errno. Never NULL; static. */
const char *codec_y4m_strerror(int err);

/* Parses one header line: `p` holds `len` bytes starting with "YUV4MPEG2" and ending with the
 * line's '\n' (which must be present). On success fills *info and returns 0. Errors:
 * CODEC_Y4M_EMAGIC, CODEC_Y4M_ETRUNC (no newline), CODEC_Y4M_EFORMAT, CODEC_Y4M_ESIZE,
 * CODEC_Y4M_ERATE, CODEC_Y4M_ESYNTAX. If `why` is not NULL, a one-line reason (e.g.
 * "colorspace C422 is not 4:2:0 8-bit") is written into it (why_len bytes, NUL-terminated). */
int codec_y4m_header_parse(const uint8_t *p, size_t len, struct codec_y4m_info *info, char *why,
                           size_t why_len) __attribute__((warn_unused_result));

struct codec_y4m_reader;

/* Opens `path` ("-" for standard input) and reads its header. On success *out is a reader that
 * the caller frees with codec_y4m_reader_close. Errors: -errno from fopen, the header errors of
 * codec_y4m_header_parse, -ENOMEM. On error, codec_y4m_last_error() has the reason. */
int codec_y4m_reader_open(struct codec_y4m_reader **out, const char *path)
        __attribute__((warn_unused_result));
/* Same over `len` bytes of memory at `p` (borrowed: must outlive the reader). */
int codec_y4m_reader_open_mem(struct codec_y4m_reader **out, const uint8_t *p, size_t len)
        __attribute__((warn_unused_result));
/* The reason for the last failed codec_y4m_reader_open* call in this thread ("" if none). */
const char *codec_y4m_last_error(void);

/* The header's parameters (valid while the reader is open). */
const struct codec_y4m_info *codec_y4m_reader_info(const struct codec_y4m_reader *r);
/* Bytes of one frame (codec_i420_size of the header's width and height). */
size_t codec_y4m_reader_frame_size(const struct codec_y4m_reader *r);

/* Reads the next frame into `buf` (`cap` >= codec_y4m_reader_frame_size bytes, else -EINVAL).
 * Returns 1 when a frame was read, 0 at a clean end of stream, or an error: CODEC_Y4M_EFRAME
 * (no FRAME marker), CODEC_Y4M_ESYNTAX (over-long FRAME line), CODEC_Y4M_ETRUNC (stream ended
 * inside a frame), -EIO. After an error every later call fails the same way. The reason is in
 * codec_y4m_reader_error(). */
int codec_y4m_reader_read(struct codec_y4m_reader *r, uint8_t *buf, size_t cap)
        __attribute__((warn_unused_result));
/* A one-line reason for the reader's last error ("" if none); valid while the reader is open. */
const char *codec_y4m_reader_error(const struct codec_y4m_reader *r);
/* Closes the file (unless it is stdin) and frees the reader. NULL is fine. */
void codec_y4m_reader_close(struct codec_y4m_reader *r);

/* A clip played as a camera would give it, for file-driven sessions: frame after frame, and at
 * the end, when the whole clip fits `max_bytes` of memory, backwards and forwards again
 * (ping-pong: 0 1 .. n-1 n-2 .. 1 0 1 ..; a single frame repeats), so looping adds no scene
 * cut; a longer clip starts again from its first frame, with one cut per loop. The file is
 * read once; a bounced clip is then played from memory. The 9-frame reference clips loop every
 * 0.75 s: restarting them would make a scene cut, and so a keyframe-sized picture, 1.3 times a
 * second, which no camera does. Standard input ("-") cannot be reopened: if it does not fit,
 * its end is the end of the stream. */
struct codec_y4m_loop;

/* Opens `path` as codec_y4m_reader_open (same errors; codec_y4m_last_error has the reason). */
int codec_y4m_loop_open(struct codec_y4m_loop **out, const char *path, size_t max_bytes)
        __attribute__((warn_unused_result));
const struct codec_y4m_info *codec_y4m_loop_info(const struct codec_y4m_loop *l);
size_t codec_y4m_loop_frame_size(const struct codec_y4m_loop *l);
/* Writes the next picture into buf (cap >= the frame size) and, if `frame` is not NULL, its
 * number in the file (from 0). Returns 0, -EINVAL, the reader's errors (a frame that cannot be
 * read, an empty clip: CODEC_Y4M_ETRUNC, standard input that ended: -ENODATA), -ENOMEM, or the
 * reopen's -errno; the reason is then in codec_y4m_loop_error(). */
int codec_y4m_loop_read(struct codec_y4m_loop *l, uint8_t *buf, size_t cap, size_t *frame)
        __attribute__((warn_unused_result));
const char *codec_y4m_loop_error(const struct codec_y4m_loop *l);
void codec_y4m_loop_close(struct codec_y4m_loop *l);

/* The frame a ping-pong loop over n frames plays at step i (n >= 1). */
size_t codec_y4m_pingpong(uint64_t i, size_t n);

struct codec_y4m_writer;

/* Creates/truncates `path` ("-" for standard output) and writes a header for `info` (width,
 * height, fps; par 0:0 is written as 0:0 (unknown); interlace is written as 'p' unless set).
 * Errors: -EINVAL (sizes out of range, fps <= 0), -errno from fopen or write, -ENOMEM. */
int codec_y4m_writer_open(struct codec_y4m_writer **out, const char *path,
                          const struct codec_y4m_info *info) __attribute__((warn_unused_result));
/* Appends one frame: `frame` is a contiguous I420 picture of the header's size. 0 or -EIO. */
int codec_y4m_writer_write(struct codec_y4m_writer *w, const uint8_t *frame)
        __attribute__((warn_unused_result));
/* Flushes and closes; returns 0 or -EIO if anything written was lost. NULL returns 0. */
int codec_y4m_writer_close(struct codec_y4m_writer *w) __attribute__((warn_unused_result));

#endif
