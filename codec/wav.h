/* codec/wav.h — RIFF/WAVE reader and writer for 16-bit PCM (s16le), mono or stereo, 8–48 kHz.
 *
 * The reader is a bounded parser over a (const uint8_t *, size_t) view (common/buf.h): it never
 * reads past the end and trusts no length field. It walks the RIFF chunks, skips the ones it
 * does not need (LIST, fact, cue, bext, JUNK, ... with their pad byte), requires one "fmt "
 * chunk before the "data" chunk, accepts WAVE_FORMAT_PCM and WAVE_FORMAT_EXTENSIBLE with the
 * PCM sub-format, and refuses with a specific reason (CODEC_WAV_E*) every file that is
 * truncated or whose header lies: a RIFF or chunk length running past the end of the file, a
 * byte rate or block alignment that disagrees with rate/channels/bits, a data length that is
 * not a whole number of sample frames. A refused file produces no output.
 *
 * The writer produces the canonical 44-byte header form (RIFF, fmt  with PCM, data).
 *
 * Samples in memory are interleaved int16_t in host order. Counts are in sample frames (one
 * sample per channel). Error codes of this file: CODEC_WAV_E* (range -2120 .. -2159 inside
 * ERR_BASE_CODEC), plus -EINVAL, -ENOMEM and negated errnos from file I/O.
 */
#ifndef PIROGUE_CODEC_WAV_H
#define PIROGUE_CODEC_WAV_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CODEC_WAV_RATE_MIN     8000
#define CODEC_WAV_RATE_MAX     48000
#define CODEC_WAV_CHANNELS_MAX 2
#define CODEC_WAV_HEADER_LEN   44 /* header the writer produces */
/* Largest data chunk accepted / written: the RIFF size field is 32 bits. */
#define CODEC_WAV_DATA_MAX (UINT32_MAX - CODEC_WAV_HEADER_LEN)

#define CODEC_WAV_ETRUNC      (ERR_BASE_CODEC - 120) /* file ends inside the RIFF/WAVE header */
#define CODEC_WAV_ENOTRIFF    (ERR_BASE_CODEC - 121) /* does not start with "RIFF" */
#define CODEC_WAV_ENOTWAVE    (ERR_BASE_CODEC - 122) /* RIFF form type is not "WAVE" */
#define CODEC_WAV_ERIFFLEN    (ERR_BASE_CODEC - 123) /* RIFF length runs past the end of file */
#define CODEC_WAV_ECHUNKLEN   (ERR_BASE_CODEC - 124) /* a chunk's length runs past the RIFF end */
#define CODEC_WAV_ENOFMT      (ERR_BASE_CODEC - 125) /* no "fmt " chunk before "data" */
#define CODEC_WAV_EFMTLEN     (ERR_BASE_CODEC - 126) /* "fmt " chunk too short for its format */
#define CODEC_WAV_EDUPFMT     (ERR_BASE_CODEC - 127) /* more than one "fmt " chunk */
#define CODEC_WAV_EFORMAT     (ERR_BASE_CODEC - 128) /* format tag not PCM (or extensible PCM) */
#define CODEC_WAV_EBITS       (ERR_BASE_CODEC - 129) /* not 16 bits per sample */
#define CODEC_WAV_ECHANNELS   (ERR_BASE_CODEC - 130) /* channels not 1 or 2 */
#define CODEC_WAV_ERATE       (ERR_BASE_CODEC - 131) /* sample rate outside 8000..48000 Hz */
#define CODEC_WAV_EBLOCKALIGN (ERR_BASE_CODEC - 132) /* block align != channels * 2 */
#define CODEC_WAV_EBYTERATE   (ERR_BASE_CODEC - 133) /* byte rate != rate * block align */
#define CODEC_WAV_ENODATA     (ERR_BASE_CODEC - 134) /* no "data" chunk */
#define CODEC_WAV_EDATALEN    (ERR_BASE_CODEC - 135) /* data length not a whole number of frames */
#define CODEC_WAV_ETOOBIG     (ERR_BASE_CODEC - 136) /* more audio than a WAV file can hold */

/* Format of a WAV file. */
struct codec_wav_info {
	unsigned sample_rate; /* Hz, CODEC_WAV_RATE_MIN..CODEC_WAV_RATE_MAX */
	unsigned channels;    /* 1 or 2 */
	size_t frames;        /* sample frames (samples per channel) */
};

/* Message for a CODEC_WAV_E* code, a negated errno, or any other int. Never NULL; static. */
const char *codec_wav_strerror(int err);

/* Parses a whole WAV file held in memory (p, len; borrowed). On success fills *info and sets
 * *pcm to a malloc'd array of info->frames * info->channels samples (caller frees; NULL when
 * there are no frames). On error writes nothing. Errors: any CODEC_WAV_E* above, -EINVAL (NULL
 * pointers), -ENOMEM. */
int codec_wav_parse(const uint8_t *p, size_t len, struct codec_wav_info *info, int16_t **pcm)
        __attribute__((warn_unused_result));

/* Reads and parses the file at path, as codec_wav_parse. Errors: as codec_wav_parse, negated
 * errnos from open/read (-ENOENT, ...), CODEC_WAV_ETOOBIG for files over 4 GiB. */
int codec_wav_read_file(const char *path, struct codec_wav_info *info, int16_t **pcm)
        __attribute__((warn_unused_result));

/* Builds a complete WAV file in memory: *out is malloc'd (caller frees), *out_len bytes
 * (CODEC_WAV_HEADER_LEN + frames * channels * 2). Errors: -EINVAL (NULL pointers, or pcm NULL
 * with frames > 0), CODEC_WAV_ECHANNELS, CODEC_WAV_ERATE, CODEC_WAV_ETOOBIG, -ENOMEM. */
int codec_wav_serialize(const struct codec_wav_info *info, const int16_t *pcm, uint8_t **out,
                        size_t *out_len) __attribute__((warn_unused_result));

/* Writes a WAV file at path (created or truncated, mode 0644). Errors: as codec_wav_serialize,
 * negated errnos from open/write. On error the file may be left partly written. */
int codec_wav_write_file(const char *path, const struct codec_wav_info *info, const int16_t *pcm)
        __attribute__((warn_unused_result));

#endif
