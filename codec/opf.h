/* codec/opf.h — "POPF", Pirogue's file of raw Opus packets (what `pirogue media encode` writes
 * for WAV input and `pirogue media decode` reads back). Not Ogg Opus: a minimal, documented,
 * length-prefixed container so that a test or a tool can keep the exact packets a live session
 * would send, with what is needed to rebuild the original WAV exactly.
 *
 * Layout, all integers little-endian:
 *   offset  size
 *        0     4  magic "POPF"
 *        4     1  version (1)
 *        5     1  channels (1 or 2)
 *        6     2  reserved (0)
 *        8     4  opus_rate: the rate the encoder ran at (8000/12000/16000/24000/48000)
 *       12     4  input_rate: the source WAV's rate (8000 .. 48000)
 *       16     4  pre_skip: samples (per channel, at opus_rate) of encoder delay to drop from
 *                 the start of the decoded signal (at most opus_rate / 10)
 *       20     8  input_frames: length of the source in sample frames at input_rate
 *       28     4  packets: number of packets that follow
 *   then `packets` times: length u16 (1 .. CODEC_OPF_PACKET_MAX) and that many bytes.
 * The reader refuses, with the reason, a file whose header is cut short or out of range, whose
 * packet lengths run past the end or are 0 / too big, whose packet count disagrees with the
 * packets present (a lying count), or whose input_frames could not have come from that many
 * packets (at most 120 ms each) — so decoding never allocates more than the file justifies.
 */
#ifndef PIROGUE_CODEC_OPF_H
#define PIROGUE_CODEC_OPF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CODEC_OPF_HEADER_SIZE 32
#define CODEC_OPF_PACKET_MAX  1500 /* = CODEC_OPUS_PACKET_MAX; RFC 6716 frames are <= 1275 */

#define CODEC_OPF_EMAGIC  (ERR_BASE_CODEC - 580) /* not a POPF file */
#define CODEC_OPF_ETRUNC  (ERR_BASE_CODEC - 581) /* header or packet cut short */
#define CODEC_OPF_EHEADER (ERR_BASE_CODEC - 582) /* header field out of range */
#define CODEC_OPF_EPACKET (ERR_BASE_CODEC - 583) /* packet length 0 or over the maximum */
#define CODEC_OPF_ECOUNT  (ERR_BASE_CODEC - 584) /* packet count or length disagrees */

struct codec_opf_info {
	unsigned channels;
	unsigned opus_rate;
	unsigned input_rate;
	unsigned pre_skip;
	uint64_t input_frames;
	uint32_t packets;
};

/* One packet inside a parsed file: a view into the caller's buffer. */
struct codec_opf_packet {
	const uint8_t *data;
	size_t len;
};

/* Message for a CODEC_OPF_* code or a negated errno. Never NULL; static. */
const char *codec_opf_strerror(int err);

/* Parses a whole POPF file held in memory (p, len; borrowed). On success fills *info and sets
 * *packets to a malloc'd array of info->packets views into `p` (caller frees the array; the
 * views live as long as `p`). On error writes nothing; `why` (optional) gets the reason.
 * Errors: the CODEC_OPF_* codes above, -EINVAL, -ENOMEM. */
int codec_opf_parse(const uint8_t *p, size_t len, struct codec_opf_info *info,
                    struct codec_opf_packet **packets, char *why, size_t why_len)
        __attribute__((warn_unused_result));

/* Serialises the 32-byte header of *info into out. Returns 0 or -EINVAL (fields out of the
 * ranges above). */
int codec_opf_header_write(const struct codec_opf_info *info, uint8_t out[CODEC_OPF_HEADER_SIZE])
        __attribute__((warn_unused_result));

/* Serialises one packet's length prefix into out[2]. Returns 0 or -EINVAL (len 0 or over
 * CODEC_OPF_PACKET_MAX). */
int codec_opf_packet_prefix(size_t len, uint8_t out[2]) __attribute__((warn_unused_result));

#endif
