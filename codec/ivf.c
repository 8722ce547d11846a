/* codec/ivf.c — IVF reader and writer (see ivf.h). */
#include "codec/ivf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/msg.h"
#include "codec/stream.h"

struct codec_ivf_reader {
	FILE *f;
	bool own;
	struct codec_ivf_info info;
	long long left; /* bytes left in a regular file, -1 if unknown (pipe) */
	uint8_t *buf;
	size_t cap;
	uint64_t frames;
	int err;
	char why[160];
};

struct codec_ivf_writer {
	FILE *f;
	bool own;
	uint32_t frames;
	int err;
};

static _Thread_local char last_error[160];

const char *codec_ivf_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_IVF_EMAGIC:
		return "not an IVF file";
	case CODEC_IVF_ETRUNC:
		return "IVF file truncated";
	case CODEC_IVF_EHEADER:
		return "invalid IVF header";
	case CODEC_IVF_EFOURCC:
		return "IVF file is not VP8";
	case CODEC_IVF_EFRAMESZ:
		return "IVF frame size invalid";
	default:
		return err < 0 && err > -4096 ? strerror(-err) : "unknown IVF error";
	}
}

int codec_ivf_header_parse(const uint8_t *p, size_t len, struct codec_ivf_info *info, char *why,
                           size_t why_len)
{
	struct codec_ivf_info in;
	struct buf_reader r;
	uint16_t version, hdr_size;
	uint8_t magic[4];

	msg_set(why, why_len, "%s", "");
	buf_reader_init(&r, p, len);
	if (!buf_read_bytes(&r, magic, 4) || memcmp(magic, "DKIF", 4) != 0) {
		if (len < 4 && (!p || !memcmp(p, "DKIF", len))) {
			msg_set(why, why_len, "file header cut short: %zu of 32 bytes", len);
			return CODEC_IVF_ETRUNC;
		}
		msg_set(why, why_len, "does not start with \"DKIF\"");
		return CODEC_IVF_EMAGIC;
	}
	version = buf_read_u16_le(&r);
	hdr_size = buf_read_u16_le(&r);
	in.fourcc = buf_read_u32_le(&r);
	in.width = buf_read_u16_le(&r);
	in.height = buf_read_u16_le(&r);
	in.rate = buf_read_u32_le(&r);
	in.scale = buf_read_u32_le(&r);
	in.frame_count = buf_read_u32_le(&r);
	(void)buf_read_u32_le(&r);
	if (!buf_reader_ok(&r)) {
		msg_set(why, why_len, "file header cut short: %zu of 32 bytes", len);
		return CODEC_IVF_ETRUNC;
	}
	if (version != 0) {
		msg_set(why, why_len, "unsupported IVF version %u (only 0)", version);
		return CODEC_IVF_EHEADER;
	}
	if (hdr_size != CODEC_IVF_HEADER_SIZE) {
		msg_set(why, why_len, "header size field says %u bytes, IVF's is 32", hdr_size);
		return CODEC_IVF_EHEADER;
	}
	if (in.fourcc != CODEC_IVF_FOURCC_VP8) {
		char fc[5];
		for (int i = 0; i < 4; i++) {
			char c = (char)((in.fourcc >> (8 * i)) & 0xff);
			fc[i] = c >= 32 && c < 127 ? c : '?';
		}
		fc[4] = '\0';
		msg_set(why, why_len, "codec \"%s\" is not VP8 (VP80)", fc);
		return CODEC_IVF_EFOURCC;
	}
	if (in.width == 0 || in.height == 0) {
		msg_set(why, why_len, "header declares a %dx%d picture", in.width, in.height);
		return CODEC_IVF_EHEADER;
	}
	if (in.rate == 0 || in.scale == 0) {
		msg_set(why, why_len, "header declares time base %u/%u", in.scale, in.rate);
		return CODEC_IVF_EHEADER;
	}
	*info = in;
	return 0;
}

int codec_ivf_frame_header_parse(const uint8_t *p, size_t len, uint32_t *size, uint64_t *pts)
{
	struct buf_reader r;
	uint32_t sz;
	uint64_t t;

	buf_reader_init(&r, p, len);
	sz = buf_read_u32_le(&r);
	t = buf_read_u64_le(&r);
	if (!buf_reader_ok(&r))
		return CODEC_IVF_ETRUNC;
	if (sz == 0 || sz > CODEC_IVF_FRAME_MAX)
		return CODEC_IVF_EFRAMESZ;
	*size = sz;
	*pts = t;
	return 0;
}

static int reader_start(struct codec_ivf_reader **out, FILE *f, bool own)
{
	struct codec_ivf_reader *r = NULL;
	uint8_t hdr[CODEC_IVF_HEADER_SIZE];
	struct stat st;
	size_t n;
	int ret;

	last_error[0] = '\0';
	n = fread(hdr, 1, sizeof hdr, f);
	if (n < sizeof hdr && ferror(f)) {
		ret = -EIO;
		snprintf(last_error, sizeof last_error, "read error");
		goto out;
	}
	if (!(r = calloc(1, sizeof *r))) {
		ret = -ENOMEM;
		goto out;
	}
	ret = codec_ivf_header_parse(hdr, n, &r->info, last_error, sizeof last_error);
	if (ret != 0)
		goto out;
	r->left = -1;
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
		long pos = ftell(f);
		if (pos >= 0 && (long long)st.st_size >= pos)
			r->left = (long long)st.st_size - pos;
	}
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

int codec_ivf_reader_open(struct codec_ivf_reader **out, const char *path)
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

int codec_ivf_reader_open_mem(struct codec_ivf_reader **out, const uint8_t *p, size_t len)
{
	struct codec_ivf_reader *r = NULL;
	FILE *f;
	int ret;

	if (!out || (!p && len))
		return -EINVAL;
	if (len == 0) {
		snprintf(last_error, sizeof last_error, "empty input");
		return CODEC_IVF_ETRUNC;
	}
	if (!(f = fmemopen((void *)(uintptr_t)p, len, "rb")))
		return -errno;
	ret = reader_start(&r, f, true);
	if (ret == 0) {
		/* fstat on a memory stream tells nothing: the bound is the buffer. */
		r->left = (long long)len - CODEC_IVF_HEADER_SIZE;
		*out = r;
	}
	return ret;
}

const char *codec_ivf_last_error(void)
{
	return last_error;
}

const struct codec_ivf_info *codec_ivf_reader_info(const struct codec_ivf_reader *r)
{
	return &r->info;
}

int codec_ivf_reader_read(struct codec_ivf_reader *r, const uint8_t **data, size_t *len,
                          uint64_t *pts)
{
	uint8_t fh[CODEC_IVF_FRAME_HEADER_SIZE];
	uint32_t size;
	uint64_t t;
	size_t n;
	int ret;

	if (!r || !data || !len || !pts)
		return -EINVAL;
	if (r->err)
		return r->err;
	n = fread(fh, 1, sizeof fh, r->f);
	if (n == 0 && !ferror(r->f))
		return 0;
	if (n < sizeof fh) {
		ret = ferror(r->f) ? -EIO : CODEC_IVF_ETRUNC;
		snprintf(r->why, sizeof r->why, "frame %llu: header cut short (%zu of 12 bytes)",
		         (unsigned long long)r->frames, n);
		goto fail;
	}
	if (r->left >= 0)
		r->left -= (long long)sizeof fh;
	ret = codec_ivf_frame_header_parse(fh, sizeof fh, &size, &t);
	if (ret != 0) {
		uint32_t declared = (uint32_t)fh[0] | (uint32_t)fh[1] << 8 | (uint32_t)fh[2] << 16 |
		                    (uint32_t)fh[3] << 24;
		snprintf(r->why, sizeof r->why, "frame %llu: declared size %u is %s",
		         (unsigned long long)r->frames, declared,
		         declared == 0 ? "empty" : "over the 16 MiB limit");
		goto fail;
	}
	if (r->left >= 0 && (long long)size > r->left) {
		ret = CODEC_IVF_EFRAMESZ;
		snprintf(r->why, sizeof r->why,
		         "frame %llu: declared size %u but only %lld bytes are left in the file",
		         (unsigned long long)r->frames, size, r->left);
		goto fail;
	}
	if (size > r->cap) {
		uint8_t *nb = realloc(r->buf, size);
		if (!nb) {
			ret = -ENOMEM;
			snprintf(r->why, sizeof r->why, "out of memory");
			goto fail;
		}
		r->buf = nb;
		r->cap = size;
	}
	n = fread(r->buf, 1, size, r->f);
	if (n != size) {
		ret = ferror(r->f) ? -EIO : CODEC_IVF_ETRUNC;
		snprintf(r->why, sizeof r->why, "frame %llu: cut short (%zu of %u bytes)",
		         (unsigned long long)r->frames, n, size);
		goto fail;
	}
	if (r->left >= 0)
		r->left -= size;
	r->frames++;
	*data = r->buf;
	*len = size;
	*pts = t;
	return 1;
fail:
	r->err = ret;
	return ret;
}

const char *codec_ivf_reader_error(const struct codec_ivf_reader *r)
{
	return r->why;
}

void codec_ivf_reader_close(struct codec_ivf_reader *r)
{
	if (!r)
		return;
	if (r->own)
		fclose(r->f);
	free(r->buf);
	free(r);
}

/* Serialises the 32-byte header. */
static void header_write(uint8_t *hdr, const struct codec_ivf_info *info, uint32_t frames)
{
	struct buf_writer w;

	buf_writer_init(&w, hdr, CODEC_IVF_HEADER_SIZE);
	buf_write_bytes(&w, "DKIF", 4);
	buf_write_u16_le(&w, 0);
	buf_write_u16_le(&w, CODEC_IVF_HEADER_SIZE);
	buf_write_u32_le(&w, info->fourcc ? info->fourcc : CODEC_IVF_FOURCC_VP8);
	buf_write_u16_le(&w, (uint16_t)info->width);
	buf_write_u16_le(&w, (uint16_t)info->height);
	buf_write_u32_le(&w, info->rate);
	buf_write_u32_le(&w, info->scale);
	buf_write_u32_le(&w, frames);
	buf_write_u32_le(&w, 0);
}

int codec_ivf_writer_open(struct codec_ivf_writer **out, const char *path,
                          const struct codec_ivf_info *info)
{
	struct codec_ivf_writer *w = NULL;
	uint8_t hdr[CODEC_IVF_HEADER_SIZE];
	FILE *f = NULL;
	bool own = false;
	int ret = -EINVAL;

	if (!out || !path || !info || info->width < 1 || info->width > 65535 || info->height < 1 ||
	    info->height > 65535 || !info->rate || !info->scale)
		goto out;
	if ((ret = codec_stream_open(path, true, &f, &own)) != 0)
		goto out;
	if (!(w = calloc(1, sizeof *w))) {
		ret = -ENOMEM;
		goto out;
	}
	header_write(hdr, info, 0);
	if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr) {
		ret = -EIO;
		goto out;
	}
	w->f = f;
	w->own = own;
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

int codec_ivf_writer_write(struct codec_ivf_writer *w, const uint8_t *data, size_t len,
                           uint64_t pts)
{
	uint8_t fh[CODEC_IVF_FRAME_HEADER_SIZE];
	struct buf_writer bw;

	if (!w || !data || len == 0 || len > CODEC_IVF_FRAME_MAX)
		return -EINVAL;
	if (w->err)
		return w->err;
	buf_writer_init(&bw, fh, sizeof fh);
	buf_write_u32_le(&bw, (uint32_t)len);
	buf_write_u64_le(&bw, pts);
	if (fwrite(fh, 1, sizeof fh, w->f) != sizeof fh || fwrite(data, 1, len, w->f) != len)
		w->err = -EIO;
	else
		w->frames++;
	return w->err;
}

int codec_ivf_writer_close(struct codec_ivf_writer *w)
{
	uint8_t cnt[4];
	int ret;

	if (!w)
		return 0;
	ret = w->err;
	/* Patch the frame count at offset 24 when the output can seek (not a pipe). */
	if (ret == 0 && w->own && fseek(w->f, 24, SEEK_SET) == 0) {
		for (int i = 0; i < 4; i++)
			cnt[i] = (uint8_t)(w->frames >> (8 * i));
		if (fwrite(cnt, 1, 4, w->f) != 4)
			ret = -EIO;
	}
	if (fflush(w->f) != 0 && ret == 0)
		ret = -EIO;
	if (w->own && fclose(w->f) != 0 && ret == 0)
		ret = -EIO;
	free(w);
	return ret;
}
