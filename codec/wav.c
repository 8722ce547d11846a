/* codec/wav.c — bounded RIFF/WAVE PCM s16 parser and writer. */
#include "codec/wav.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"

#define WAVE_FORMAT_PCM        0x0001
#define WAVE_FORMAT_EXTENSIBLE 0xFFFE

/* KSDATAFORMAT_SUBTYPE_PCM {00000001-0000-0010-8000-00aa00389b71} as stored (little-endian
 * fields first). */
static const uint8_t subtype_pcm[16] = {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                                        0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71};

const char *codec_wav_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case CODEC_WAV_ETRUNC:
		return "wav: file ends inside the RIFF/WAVE header (truncated)";
	case CODEC_WAV_ENOTRIFF:
		return "wav: not a RIFF file (no \"RIFF\" magic)";
	case CODEC_WAV_ENOTWAVE:
		return "wav: RIFF file is not WAVE";
	case CODEC_WAV_ERIFFLEN:
		return "wav: RIFF length runs past the end of the file (truncated or lying header)";
	case CODEC_WAV_ECHUNKLEN:
		return "wav: a chunk's length runs past the end of the RIFF data (truncated or "
		       "lying "
		       "chunk length)";
	case CODEC_WAV_ENOFMT:
		return "wav: no \"fmt \" chunk before the \"data\" chunk";
	case CODEC_WAV_EFMTLEN:
		return "wav: \"fmt \" chunk too short for its format";
	case CODEC_WAV_EDUPFMT:
		return "wav: more than one \"fmt \" chunk";
	case CODEC_WAV_EFORMAT:
		return "wav: not PCM (only WAVE_FORMAT_PCM and extensible PCM are supported)";
	case CODEC_WAV_EBITS:
		return "wav: not 16 bits per sample (only PCM s16 is supported)";
	case CODEC_WAV_ECHANNELS:
		return "wav: channels must be 1 or 2";
	case CODEC_WAV_ERATE:
		return "wav: sample rate must be 8000..48000 Hz";
	case CODEC_WAV_EBLOCKALIGN:
		return "wav: block align disagrees with channels x 2 bytes (lying header)";
	case CODEC_WAV_EBYTERATE:
		return "wav: byte rate disagrees with sample rate x block align (lying header)";
	case CODEC_WAV_ENODATA:
		return "wav: no \"data\" chunk";
	case CODEC_WAV_EDATALEN:
		return "wav: data length is not a whole number of sample frames";
	case CODEC_WAV_ETOOBIG:
		return "wav: more audio than a WAV file can hold (4 GiB)";
	default:
		if (err < 0 && err > -4096)
			return strerror(-err);
		return "wav: unknown error";
	}
}

struct fmt {
	unsigned channels;
	unsigned rate;
};

/* Parses and checks the body of a "fmt " chunk. */
static int parse_fmt(const uint8_t *p, size_t len, struct fmt *f)
{
	struct buf_reader r;
	uint16_t tag, channels, block_align, bits, cb_size, valid_bits;
	uint32_t rate, byte_rate;
	uint8_t sub[16];

	if (len < 16)
		return CODEC_WAV_EFMTLEN;
	buf_reader_init(&r, p, len);
	tag = buf_read_u16_le(&r);
	channels = buf_read_u16_le(&r);
	rate = buf_read_u32_le(&r);
	byte_rate = buf_read_u32_le(&r);
	block_align = buf_read_u16_le(&r);
	bits = buf_read_u16_le(&r);
	if (tag == WAVE_FORMAT_EXTENSIBLE) {
		/* cbSize, wValidBitsPerSample, dwChannelMask, SubFormat GUID */
		if (len < 40)
			return CODEC_WAV_EFMTLEN;
		cb_size = buf_read_u16_le(&r);
		valid_bits = buf_read_u16_le(&r);
		(void)buf_read_u32_le(&r);
		if (!buf_read_bytes(&r, sub, sizeof sub) || cb_size < 22)
			return CODEC_WAV_EFMTLEN;
		if (memcmp(sub, subtype_pcm, sizeof sub) != 0)
			return CODEC_WAV_EFORMAT;
		if (valid_bits != 16)
			return CODEC_WAV_EBITS;
	} else if (tag != WAVE_FORMAT_PCM) {
		return CODEC_WAV_EFORMAT;
	}
	if (!buf_reader_ok(&r))
		return CODEC_WAV_EFMTLEN;
	if (bits != 16)
		return CODEC_WAV_EBITS;
	if (channels < 1 || channels > CODEC_WAV_CHANNELS_MAX)
		return CODEC_WAV_ECHANNELS;
	if (rate < CODEC_WAV_RATE_MIN || rate > CODEC_WAV_RATE_MAX)
		return CODEC_WAV_ERATE;
	if (block_align != channels * 2)
		return CODEC_WAV_EBLOCKALIGN;
	if (byte_rate != rate * block_align)
		return CODEC_WAV_EBYTERATE;
	f->channels = channels;
	f->rate = rate;
	return 0;
}

int codec_wav_parse(const uint8_t *p, size_t len, struct codec_wav_info *info, int16_t **pcm)
{
	struct buf_reader r, riff;
	uint8_t magic[4];
	uint32_t riff_len;
	const uint8_t *data = NULL, *body;
	size_t data_len = 0, samples;
	struct fmt fmt = {0, 0};
	bool have_fmt = false;
	int16_t *out = NULL;
	int ret;

	if (!p || !info || !pcm)
		return -EINVAL;
	buf_reader_init(&r, p, len);
	if (!buf_read_bytes(&r, magic, 4))
		return CODEC_WAV_ETRUNC;
	if (memcmp(magic, "RIFF", 4) != 0)
		return CODEC_WAV_ENOTRIFF;
	riff_len = buf_read_u32_le(&r);
	if (!buf_read_bytes(&r, magic, 4))
		return CODEC_WAV_ETRUNC;
	if (memcmp(magic, "WAVE", 4) != 0)
		return CODEC_WAV_ENOTWAVE;
	/* riff_len counts from "WAVE" on; everything after it (trailing garbage) is ignored. */
	if (riff_len < 4 || riff_len - 4 > buf_reader_left(&r))
		return CODEC_WAV_ERIFFLEN;
	buf_reader_init(&riff, buf_read_view(&r, riff_len - 4), riff_len - 4);

	while (buf_reader_left(&riff) >= 8) {
		uint8_t id[4];
		uint32_t clen;

		(void)buf_read_bytes(&riff, id, 4);
		clen = buf_read_u32_le(&riff);
		if (clen > buf_reader_left(&riff))
			return CODEC_WAV_ECHUNKLEN;
		body = buf_read_view(&riff, clen);
		if (!memcmp(id, "fmt ", 4)) {
			if (have_fmt)
				return CODEC_WAV_EDUPFMT;
			if ((ret = parse_fmt(body, clen, &fmt)) != 0)
				return ret;
			have_fmt = true;
		} else if (!memcmp(id, "data", 4)) {
			if (!have_fmt)
				return CODEC_WAV_ENOFMT;
			data = body;
			data_len = clen;
			break; /* chunks after the audio (LIST, id3, ...) are of no use to us */
		}
		/* Other chunks (LIST, fact, JUNK, bext, ...) are skipped. A chunk of odd length is
		 * followed by a pad byte, which some writers leave out at the very end. */
		if ((clen & 1) && buf_reader_left(&riff) > 0)
			(void)buf_skip(&riff, 1);
	}
	if (!have_fmt)
		return CODEC_WAV_ENOFMT;
	if (!data)
		return CODEC_WAV_ENODATA;
	if (data_len % (fmt.channels * 2))
		return CODEC_WAV_EDATALEN;

	samples = data_len / 2;
	if (samples > 0) {
		if (!(out = malloc(samples * sizeof *out)))
			return -ENOMEM;
		for (size_t i = 0; i < samples; i++)
			out[i] = (int16_t)(uint16_t)(data[2 * i] | (unsigned)data[2 * i + 1] << 8);
	}
	info->sample_rate = fmt.rate;
	info->channels = fmt.channels;
	info->frames = samples / fmt.channels;
	*pcm = out;
	return 0;
}

int codec_wav_read_file(const char *path, struct codec_wav_info *info, int16_t **pcm)
{
	uint8_t *buf = NULL;
	struct stat st;
	size_t size, got = 0;
	int fd = -1, ret;

	if (!path || !info || !pcm)
		return -EINVAL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		ret = -errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > (uint64_t)UINT32_MAX + 8) {
		ret = CODEC_WAV_ETOOBIG;
		goto out;
	}
	size = (size_t)st.st_size;
	if (!(buf = malloc(size ? size : 1))) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break; /* the file shrank: parse what is there, the parser will judge it */
		got += (size_t)n;
	}
	ret = codec_wav_parse(buf, got, info, pcm);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

int codec_wav_serialize(const struct codec_wav_info *info, const int16_t *pcm, uint8_t **out,
                        size_t *out_len)
{
	struct buf_writer w;
	uint8_t *buf;
	size_t samples, data_len, total;

	if (!info || !out || !out_len || (!pcm && info->frames > 0))
		return -EINVAL;
	if (info->channels < 1 || info->channels > CODEC_WAV_CHANNELS_MAX)
		return CODEC_WAV_ECHANNELS;
	if (info->sample_rate < CODEC_WAV_RATE_MIN || info->sample_rate > CODEC_WAV_RATE_MAX)
		return CODEC_WAV_ERATE;
	if (info->frames > CODEC_WAV_DATA_MAX / 2 / info->channels)
		return CODEC_WAV_ETOOBIG;
	samples = info->frames * info->channels;
	data_len = samples * 2;
	total = CODEC_WAV_HEADER_LEN + data_len;
	if (!(buf = malloc(total)))
		return -ENOMEM;
	buf_writer_init(&w, buf, total);
	buf_write_bytes(&w, "RIFF", 4);
	buf_write_u32_le(&w, (uint32_t)(total - 8));
	buf_write_bytes(&w, "WAVEfmt ", 8);
	buf_write_u32_le(&w, 16);
	buf_write_u16_le(&w, WAVE_FORMAT_PCM);
	buf_write_u16_le(&w, (uint16_t)info->channels);
	buf_write_u32_le(&w, info->sample_rate);
	buf_write_u32_le(&w, info->sample_rate * info->channels * 2);
	buf_write_u16_le(&w, (uint16_t)(info->channels * 2));
	buf_write_u16_le(&w, 16);
	buf_write_bytes(&w, "data", 4);
	buf_write_u32_le(&w, (uint32_t)data_len);
	for (size_t i = 0; i < samples; i++)
		buf_write_u16_le(&w, (uint16_t)pcm[i]);
	if (!buf_writer_ok(&w) || buf_writer_len(&w) != total) {
		free(buf);
		return -EINVAL; /* unreachable: the buffer was sized for exactly this */
	}
	*out = buf;
	*out_len = total;
	return 0;
}

int codec_wav_write_file(const char *path, const struct codec_wav_info *info, const int16_t *pcm)
{
	uint8_t *buf = NULL;
	size_t len = 0, done = 0;
	int fd = -1, ret;

	if (!path)
		return -EINVAL;
	if ((ret = codec_wav_serialize(info, pcm, &buf, &len)) != 0)
		return ret;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		ret = -errno;
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		ret = -errno;
		goto out;
	}
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}
