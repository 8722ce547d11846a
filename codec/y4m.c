/* codec/y4m.c — Y4M reader and writer (see y4m.h). */
#include "codec/y4m.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/scale.h"
#include "common/msg.h"
#include "codec/stream.h"

#define Y4M_MAGIC     "YUV4MPEG2"
#define Y4M_MAGIC_LEN 9

struct codec_y4m_reader {
	FILE *f;
	bool own;
	struct codec_y4m_info info;
	size_t frame_size;
	int err; /* sticky error of codec_y4m_reader_read */
	char why[160];
};

struct codec_y4m_writer {
	FILE *f;
	bool own;
	size_t frame_size;
	int err;
};

static _Thread_local char last_error[160];

const char *codec_y4m_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_Y4M_EMAGIC:
		return "not a YUV4MPEG2 stream";
	case CODEC_Y4M_ETRUNC:
		return "Y4M stream truncated";
	case CODEC_Y4M_EFORMAT:
		return "Y4M colorspace is not 4:2:0 8-bit";
	case CODEC_Y4M_ESIZE:
		return "Y4M picture size missing, malformed or too large";
	case CODEC_Y4M_ERATE:
		return "Y4M frame rate missing or malformed";
	case CODEC_Y4M_ESYNTAX:
		return "malformed Y4M header";
	case CODEC_Y4M_EFRAME:
		return "Y4M frame does not start with FRAME";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown Y4M error";
	}
}

/* Parses a decimal number of at most 9 digits from [*pp, end); advances *pp. */
static bool parse_uint(const uint8_t **pp, const uint8_t *end, int *out)
{
	const uint8_t *p = *pp;
	int v = 0, n = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		if (++n > 9)
			return false;
		v = v * 10 + (*p - '0');
		p++;
	}
	if (n == 0)
		return false;
	*pp = p;
	*out = v;
	return true;
}

/* Parses "<n>:<d>" filling the whole token [p, end). */
static bool parse_ratio(const uint8_t *p, const uint8_t *end, int *num, int *den)
{
	if (!parse_uint(&p, end, num) || p >= end || *p != ':')
		return false;
	p++;
	return parse_uint(&p, end, den) && p == end;
}

/* The 4:2:0 8-bit colorspace tags (chroma siting differs, sample layout does not). */
static bool colorspace_ok(const uint8_t *p, size_t n)
{
	static const char *const ok[] = {"420", "420jpeg", "420paldv", "420mpeg2"};

	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strlen(ok[i]) == n && !memcmp(ok[i], p, n))
			return true;
	return false;
}

int codec_y4m_header_parse(const uint8_t *p, size_t len, struct codec_y4m_info *info, char *why,
                           size_t why_len)
{
	struct codec_y4m_info in = {.interlace = '?'};
	const uint8_t *nl, *end, *tok;
	bool have_w = false, have_h = false, have_f = false;

	msg_set(why, why_len, "%s", "");
	if (!p || len < Y4M_MAGIC_LEN || memcmp(p, Y4M_MAGIC, Y4M_MAGIC_LEN) != 0) {
		msg_set(why, why_len, "does not start with \"YUV4MPEG2\"");
		return CODEC_Y4M_EMAGIC;
	}
	nl = memchr(p, '\n', len);
	if (!nl) {
		msg_set(why, why_len, "header line has no end (truncated)");
		return CODEC_Y4M_ETRUNC;
	}
	end = nl;
	tok = p + Y4M_MAGIC_LEN;
	if (tok < end && *tok != ' ') {
		msg_set(why, why_len, "does not start with \"YUV4MPEG2 \"");
		return CODEC_Y4M_EMAGIC;
	}
	while (tok < end) {
		const uint8_t *t, *te;

		if (*tok == ' ') {
			tok++;
			continue;
		}
		t = tok;
		te = t;
		while (te < end && *te != ' ')
			te++;
		tok = te;
		switch (*t) {
		case 'W':
		case 'H': {
			const uint8_t *q = t + 1;
			int v;

			if (!parse_uint(&q, te, &v) || q != te || v < 1 || v > CODEC_I420_MAX_DIM) {
				msg_set(why, why_len, "bad %s tag \"%.*s\"",
				        *t == 'W' ? "width" : "height",
				        (int)(te - t > 32 ? 32 : te - t), (const char *)t);
				return CODEC_Y4M_ESIZE;
			}
			if (*t == 'W') {
				in.width = v;
				have_w = true;
			} else {
				in.height = v;
				have_h = true;
			}
			break;
		}
		case 'F':
			if (!parse_ratio(t + 1, te, &in.fps_num, &in.fps_den) || in.fps_num < 1 ||
			    in.fps_den < 1) {
				msg_set(why, why_len, "bad frame rate tag \"%.*s\"",
				        (int)(te - t > 32 ? 32 : te - t), (const char *)t);
				return CODEC_Y4M_ERATE;
			}
			have_f = true;
			break;
		case 'A':
			if (!parse_ratio(t + 1, te, &in.par_num, &in.par_den)) {
				msg_set(why, why_len, "bad aspect tag \"%.*s\"",
				        (int)(te - t > 32 ? 32 : te - t), (const char *)t);
				return CODEC_Y4M_ESYNTAX;
			}
			break;
		case 'I':
			if (te - t != 2 || !strchr("ptbm?", t[1])) {
				msg_set(why, why_len, "bad interlace tag \"%.*s\"",
				        (int)(te - t > 32 ? 32 : te - t), (const char *)t);
				return CODEC_Y4M_ESYNTAX;
			}
			in.interlace = (char)t[1];
			break;
		case 'C':
			if (!colorspace_ok(t + 1, (size_t)(te - t - 1))) {
				msg_set(why, why_len,
				        "colorspace \"%.*s\" is not supported: only 4:2:0 8-bit "
				        "(C420, C420jpeg, C420paldv, C420mpeg2)",
				        (int)(te - t > 32 ? 32 : te - t), (const char *)t);
				return CODEC_Y4M_EFORMAT;
			}
			break;
		case 'X':
			/* Extensions (e.g. ffmpeg's XYSCSS=420JPEG, XCOLORRANGE) carry nothing
			 * that changes the sample layout once C is 4:2:0 8-bit. */
			break;
		default:
			msg_set(why, why_len, "unknown header tag \"%.*s\"",
			        (int)(te - t > 32 ? 32 : te - t), (const char *)t);
			return CODEC_Y4M_ESYNTAX;
		}
	}
	if (!have_w || !have_h) {
		msg_set(why, why_len, "header has no %s", have_w ? "height (H)" : "width (W)");
		return CODEC_Y4M_ESIZE;
	}
	if (codec_i420_size(in.width, in.height) == 0) {
		msg_set(why, why_len, "picture %dx%d is larger than %d pixels", in.width, in.height,
		        CODEC_I420_MAX_PIXELS);
		return CODEC_Y4M_ESIZE;
	}
	if (!have_f) {
		msg_set(why, why_len, "header has no frame rate (F)");
		return CODEC_Y4M_ERATE;
	}
	*info = in;
	return 0;
}

/* Reads one line (through its '\n') into buf. Returns its length, 0 at end of stream before any
 * byte, CODEC_Y4M_ETRUNC if the stream ends mid-line, CODEC_Y4M_ESYNTAX if longer than cap. */
static int read_line(FILE *f, char *buf, size_t cap, size_t *got)
{
	size_t n = 0;
	int c;

	*got = 0;
	while (n < cap) {
		*got = n;
		c = getc(f);
		if (c == EOF)
			return ferror(f) ? -EIO : n == 0 ? 0 : CODEC_Y4M_ETRUNC;
		buf[n++] = (char)c;
		*got = n;
		if (c == '\n')
			return (int)n;
	}
	return CODEC_Y4M_ESYNTAX;
}

static int reader_start(struct codec_y4m_reader **out, FILE *f, bool own)
{
	struct codec_y4m_reader *r = NULL;
	char line[CODEC_Y4M_LINE_MAX];
	size_t have;
	int ret, n;

	last_error[0] = '\0';
	n = read_line(f, line, sizeof line, &have);
	if (n <= 0 || n == CODEC_Y4M_ESYNTAX) {
		ret = n;
		if (n == -EIO) {
			snprintf(last_error, sizeof last_error, "read error");
		} else if (have < Y4M_MAGIC_LEN || memcmp(line, Y4M_MAGIC, Y4M_MAGIC_LEN) != 0) {
			/* A bad magic is the better reason than "truncated" for non-Y4M bytes. */
			ret = CODEC_Y4M_EMAGIC;
			snprintf(last_error, sizeof last_error, "%s",
			         n == 0 ? "empty input" : "does not start with \"YUV4MPEG2\"");
		} else if (n == CODEC_Y4M_ESYNTAX) {
			snprintf(last_error, sizeof last_error, "header line longer than %d bytes",
			         CODEC_Y4M_LINE_MAX);
		} else {
			snprintf(last_error, sizeof last_error,
			         "header line has no end (truncated)");
		}
		goto out;
	}
	if (!(r = calloc(1, sizeof *r))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = codec_y4m_header_parse((const uint8_t *)line, (size_t)n, &r->info, last_error,
	                             sizeof last_error);
	if (ret != 0)
		goto out;
	r->frame_size = codec_i420_size(r->info.width, r->info.height);
	r->f = f;
	r->own = own;
	*out = r;
	r = NULL;
	f = NULL;
	ret = 0;
out:
	free(r);
	if (f && own)
		fclose(f);
	return ret;
}

int codec_y4m_reader_open(struct codec_y4m_reader **out, const char *path)
{
	FILE *f;
	bool own;
	int ret;

	if (!out || !path)
		return -EINVAL;
	if ((ret = codec_stream_open(path, false, &f, &own)) != 0) {
		snprintf(last_error, sizeof last_error, "%s: %s", path, strerror(-ret));
		return ret;
	}
	return reader_start(out, f, own);
}

int codec_y4m_reader_open_mem(struct codec_y4m_reader **out, const uint8_t *p, size_t len)
{
	FILE *f;

	if (!out || (!p && len))
		return -EINVAL;
	if (len == 0) {
		snprintf(last_error, sizeof last_error, "empty input");
		return CODEC_Y4M_EMAGIC;
	}
	/* fmemopen in "r" mode never writes through the pointer. */
	if (!(f = fmemopen((void *)(uintptr_t)p, len, "rb")))
		return -errno;
	return reader_start(out, f, true);
}

const char *codec_y4m_last_error(void)
{
	return last_error;
}

const struct codec_y4m_info *codec_y4m_reader_info(const struct codec_y4m_reader *r)
{
	return &r->info;
}

size_t codec_y4m_reader_frame_size(const struct codec_y4m_reader *r)
{
	return r->frame_size;
}

int codec_y4m_reader_read(struct codec_y4m_reader *r, uint8_t *buf, size_t cap)
{
	char line[CODEC_Y4M_LINE_MAX];
	size_t got;
	int n;

	if (!r || !buf || cap < r->frame_size)
		return -EINVAL;
	if (r->err)
		return r->err;
	n = read_line(r->f, line, sizeof line, &got);
	if (n == 0)
		return 0;
	if (n < 0) {
		r->err = n;
		if (n == CODEC_Y4M_ESYNTAX)
			snprintf(r->why, sizeof r->why, "FRAME line longer than %d bytes",
			         CODEC_Y4M_LINE_MAX);
		else if (n == CODEC_Y4M_ETRUNC)
			snprintf(r->why, sizeof r->why, "stream ends inside a FRAME line");
		else
			snprintf(r->why, sizeof r->why, "read error");
		return n;
	}
	if (n < 6 || memcmp(line, "FRAME", 5) != 0 || (line[5] != '\n' && line[5] != ' ')) {
		r->err = CODEC_Y4M_EFRAME;
		snprintf(r->why, sizeof r->why, "frame does not start with \"FRAME\"");
		return r->err;
	}
	got = fread(buf, 1, r->frame_size, r->f);
	if (got != r->frame_size) {
		r->err = ferror(r->f) ? -EIO : CODEC_Y4M_ETRUNC;
		snprintf(r->why, sizeof r->why, "frame cut short: %zu of %zu bytes", got,
		         r->frame_size);
		return r->err;
	}
	return 1;
}

const char *codec_y4m_reader_error(const struct codec_y4m_reader *r)
{
	return r->why;
}

/* ------------------------------------------------------------------ loop ---- */

struct codec_y4m_loop {
	char *path;
	struct codec_y4m_reader *r;
	struct codec_y4m_info info;
	size_t frame_size, max_bytes;
	uint8_t *frames; /* the first pass, while it fits max_bytes (NULL once it does not) */
	size_t n;        /* frames read in the first pass */
	size_t cap;      /* frames room in `frames` (grown by doubling) */
	size_t in_file;  /* the frame number the reader gives next */
	bool bouncing;   /* the whole clip is in `frames`: ping-pong from memory */
	uint64_t step;   /* bouncing: the next step */
	char why[200];
};

size_t codec_y4m_pingpong(uint64_t i, size_t n)
{
	uint64_t period, k;

	if (n <= 1)
		return 0;
	period = 2 * (uint64_t)n - 2;
	k = i % period;
	return (size_t)(k < n ? k : period - k);
}

int codec_y4m_loop_open(struct codec_y4m_loop **out, const char *path, size_t max_bytes)
{
	struct codec_y4m_loop *l;
	int ret;

	if (!out || !path)
		return -EINVAL;
	if (!(l = calloc(1, sizeof *l)) || !(l->path = strdup(path))) {
		free(l);
		return -ENOMEM;
	}
	if ((ret = codec_y4m_reader_open(&l->r, path)) != 0) {
		free(l->path);
		free(l);
		return ret;
	}
	l->info = *codec_y4m_reader_info(l->r);
	l->frame_size = codec_y4m_reader_frame_size(l->r);
	l->max_bytes = max_bytes;
	*out = l;
	return 0;
}

const struct codec_y4m_info *codec_y4m_loop_info(const struct codec_y4m_loop *l)
{
	return &l->info;
}

size_t codec_y4m_loop_frame_size(const struct codec_y4m_loop *l)
{
	return l->frame_size;
}

const char *codec_y4m_loop_error(const struct codec_y4m_loop *l)
{
	return l->why;
}

/* The end of the file: bounce from memory, or start the file again. */
static int loop_restart(struct codec_y4m_loop *l)
{
	int ret;

	if (l->n == 0) {
		snprintf(l->why, sizeof l->why, "%s: no frame in the clip", l->path);
		return CODEC_Y4M_ETRUNC;
	}
	if (l->frames) {
		codec_y4m_reader_close(l->r);
		l->r = NULL;
		l->bouncing = true;
		l->step = l->n;
		return 0;
	}
	free(l->frames);
	l->frames = NULL;
	if (strcmp(l->path, "-") == 0) {
		snprintf(l->why, sizeof l->why, "standard input ended and cannot be replayed");
		return -ENODATA;
	}
	codec_y4m_reader_close(l->r);
	l->r = NULL;
	if ((ret = codec_y4m_reader_open(&l->r, l->path)) != 0) {
		snprintf(l->why, sizeof l->why, "%s", codec_y4m_last_error());
		return ret;
	}
	if (codec_y4m_reader_frame_size(l->r) != l->frame_size) {
		snprintf(l->why, sizeof l->why, "%s: picture size changed while playing", l->path);
		codec_y4m_reader_close(l->r);
		l->r = NULL;
		return CODEC_Y4M_ESIZE;
	}
	l->in_file = 0;
	return 0;
}

int codec_y4m_loop_read(struct codec_y4m_loop *l, uint8_t *buf, size_t cap, size_t *frame)
{
	int ret;

	if (!l || !buf || cap < l->frame_size)
		return -EINVAL;
	if (l->bouncing) {
		size_t f = codec_y4m_pingpong(l->step++, l->n);

		memcpy(buf, l->frames + f * l->frame_size, l->frame_size);
		if (frame)
			*frame = f;
		return 0;
	}
	if (!l->r) /* a failed restart: its reason stays */
		return -EIO;
	ret = codec_y4m_reader_read(l->r, buf, cap);
	if (ret == 0) {
		if ((ret = loop_restart(l)) != 0)
			return ret;
		if (l->bouncing)
			return codec_y4m_loop_read(l, buf, cap, frame);
		ret = codec_y4m_reader_read(l->r, buf, cap);
		if (ret == 0) { /* the file lost its frames since the last pass */
			snprintf(l->why, sizeof l->why, "%s: no frame left in the clip", l->path);
			codec_y4m_reader_close(l->r);
			l->r = NULL;
			return CODEC_Y4M_ETRUNC;
		}
	}
	if (ret < 0) {
		snprintf(l->why, sizeof l->why, "%s: %s", l->path, codec_y4m_reader_error(l->r));
		return ret;
	}
	if (frame)
		*frame = l->in_file;
	l->in_file++;
	if (l->n < l->in_file) { /* first pass: keep the frame while the clip fits */
		size_t fit = l->max_bytes / l->frame_size;

		l->n = l->in_file;
		if (l->n > fit) { /* too long: it will be read again from the file */
			free(l->frames);
			l->frames = NULL;
		} else if (l->n == 1 || l->frames) {
			if (l->n > l->cap) {
				size_t nc = l->cap ? l->cap * 2 : 8;
				uint8_t *nf;

				if (nc > fit)
					nc = fit;
				if (!(nf = realloc(l->frames, nc * l->frame_size))) {
					snprintf(l->why, sizeof l->why, "out of memory");
					return -ENOMEM;
				}
				l->frames = nf;
				l->cap = nc;
			}
			memcpy(l->frames + (l->n - 1) * l->frame_size, buf, l->frame_size);
		}
	}
	return 0;
}

void codec_y4m_loop_close(struct codec_y4m_loop *l)
{
	if (!l)
		return;
	codec_y4m_reader_close(l->r);
	free(l->frames);
	free(l->path);
	free(l);
}

void codec_y4m_reader_close(struct codec_y4m_reader *r)
{
	if (!r)
		return;
	if (r->own)
		fclose(r->f);
	free(r);
}

int codec_y4m_writer_open(struct codec_y4m_writer **out, const char *path,
                          const struct codec_y4m_info *info)
{
	struct codec_y4m_writer *w = NULL;
	FILE *f = NULL;
	bool own = false;
	size_t fs;
	int ret = -EINVAL;

	if (!out || !path || !info || info->fps_num < 1 || info->fps_den < 1)
		goto out;
	if ((fs = codec_i420_size(info->width, info->height)) == 0)
		goto out;
	if ((ret = codec_stream_open(path, true, &f, &own)) != 0)
		goto out;
	if (!(w = calloc(1, sizeof *w))) {
		ret = -ENOMEM;
		goto out;
	}
	if (fprintf(f, "YUV4MPEG2 W%d H%d F%d:%d I%c A%d:%d C420jpeg\n", info->width, info->height,
	            info->fps_num, info->fps_den,
	            info->interlace && strchr("ptbm", info->interlace) ? info->interlace : 'p',
	            info->par_num, info->par_den) < 0) {
		ret = -EIO;
		goto out;
	}
	w->f = f;
	w->own = own;
	w->frame_size = fs;
	*out = w;
	w = NULL;
	f = NULL;
	ret = 0;
out:
	free(w);
	if (f && own)
		fclose(f);
	return ret;
}

int codec_y4m_writer_write(struct codec_y4m_writer *w, const uint8_t *frame)
{
	if (!w || !frame)
		return -EINVAL;
	if (w->err)
		return w->err;
	if (fwrite("FRAME\n", 1, 6, w->f) != 6 ||
	    fwrite(frame, 1, w->frame_size, w->f) != w->frame_size)
		w->err = -EIO;
	return w->err;
}

int codec_y4m_writer_close(struct codec_y4m_writer *w)
{
	int ret;

	if (!w)
		return 0;
	ret = w->err;
	if (fflush(w->f) != 0 && ret == 0)
		ret = -EIO;
	if (w->own && fclose(w->f) != 0 && ret == 0)
		ret = -EIO;
	free(w);
	return ret;
}
