/* relay/rtcp.h — RTCP compound packets (RFC 3550: SR, RR, SDES, BYE, APP), feedback (RFC 4585
 * generic NACK and PLI, RFC 5104 FIR, REMB) and transport-wide congestion-control feedback
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01), building and parsing.
 *
 * Parsing is bounded (common/buf.h) and walks a compound packet one sub-packet at a time, the
 * way aiortc does, so a malformed sub-packet is reported with the same message aiortc gives.
 * Parsed values borrow the caller's buffer. Building appends sub-packets to a caller-owned
 * struct buf_writer; nothing allocates.
 *
 * Error codes: -3540 .. -3579 (see rtp.h for the relay media ranges).
 */
#ifndef PIROGUE_RELAY_RTCP_H
#define PIROGUE_RELAY_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

#define RTCP_ERR_BASE (ERR_BASE_RELAY - 540)
enum {
	RTCP_ESHORT = RTCP_ERR_BASE - 0,     /* fewer than 4 bytes left for a header */
	RTCP_EVERSION = RTCP_ERR_BASE - 1,   /* version is not 2 */
	RTCP_ETRUNC = RTCP_ERR_BASE - 2,     /* length field runs past the end */
	RTCP_EPADDING = RTCP_ERR_BASE - 3,   /* padding count invalid */
	RTCP_ESR = RTCP_ERR_BASE - 4,        /* SR length invalid */
	RTCP_ERR = RTCP_ERR_BASE - 5,        /* RR length invalid */
	RTCP_ESDES_SRC = RTCP_ERR_BASE - 6,  /* SDES source (chunk) truncated */
	RTCP_ESDES_ITEM = RTCP_ERR_BASE - 7, /* SDES item truncated */
	RTCP_EBYE = RTCP_ERR_BASE - 8,       /* BYE length invalid */
	RTCP_EAPP = RTCP_ERR_BASE - 9,       /* APP length invalid */
	RTCP_ERTPFB = RTCP_ERR_BASE - 10,    /* RTPFB length invalid */
	RTCP_EPSFB = RTCP_ERR_BASE - 11,     /* PSFB length invalid */
	RTCP_ETWCC = RTCP_ERR_BASE - 12,     /* transport-cc feedback malformed */
	RTCP_EREMB = RTCP_ERR_BASE - 13,     /* REMB malformed */
	RTCP_EFIR = RTCP_ERR_BASE - 14,      /* FIR malformed */
	RTCP_ENOSPACE = RTCP_ERR_BASE - 15,  /* output too small */
	RTCP_EINVAL = RTCP_ERR_BASE - 16,    /* argument out of range */
	RTCP_ETYPE = RTCP_ERR_BASE - 17,     /* wrong packet type/format for this accessor */
};

enum rtcp_type {
	RTCP_SR = 200,
	RTCP_RR = 201,
	RTCP_SDES = 202,
	RTCP_BYE = 203,
	RTCP_APP = 204,
	RTCP_RTPFB = 205,
	RTCP_PSFB = 206,
};
/* Feedback message types (FMT field). */
#define RTCP_RTPFB_NACK 1
#define RTCP_RTPFB_TWCC 15
#define RTCP_PSFB_PLI   1
#define RTCP_PSFB_FIR   4
#define RTCP_PSFB_AFB   15 /* application layer feedback: REMB */

#define RTCP_MAX_COUNT      31
#define RTCP_SDES_MAX_ITEMS 8 /* items kept per chunk; further items are skipped */

struct rtcp_report {
	uint32_t ssrc;
	uint8_t fraction_lost;
	int32_t packets_lost; /* 24-bit signed cumulative */
	uint32_t highest_seq;
	uint32_t jitter;
	uint32_t lsr;
	uint32_t dlsr;
};

struct rtcp_sdes_item {
	uint8_t type; /* 1 CNAME .. 8 PRIV */
	uint8_t len;
	const uint8_t *data;
};
struct rtcp_sdes_chunk {
	uint32_t ssrc;
	uint8_t n_items;
	struct rtcp_sdes_item items[RTCP_SDES_MAX_ITEMS];
};

/* One parsed sub-packet of a compound packet. Which member is valid depends on type. */
struct rtcp_packet {
	uint8_t type;        /* enum rtcp_type or another 192..223 value (body only in raw) */
	uint8_t count;       /* RC / SC / FMT */
	const uint8_t *body; /* after the 4-byte header, padding removed */
	size_t body_len;
	union {
		struct {
			uint32_t ssrc;
			uint64_t ntp;
			uint32_t rtp_ts, packet_count, octet_count;
			uint8_t n_reports;
			struct rtcp_report reports[RTCP_MAX_COUNT];
		} sr; /* RR uses the same member with ntp.. zero */
		struct {
			uint8_t n_chunks;
			struct rtcp_sdes_chunk chunks[RTCP_MAX_COUNT];
		} sdes;
		struct {
			uint8_t n_sources;
			uint32_t sources[RTCP_MAX_COUNT];
			const uint8_t *reason;
			uint8_t reason_len;
		} bye;
		struct {
			uint8_t subtype;
			uint32_t ssrc;
			char name[4];
			const uint8_t *data;
			size_t len;
		} app;
		struct {
			uint8_t fmt;
			uint32_t ssrc, media_ssrc;
			const uint8_t *fci;
			size_t fci_len;
		} fb; /* RTPFB and PSFB */
	} u;
};

/* Text for an RTCP error code (aiortc's wording where it has one) or a negated errno. */
const char *rtcp_strerror(int err);

/* Walks a compound packet. Initialise with rtcp_iter_init, then call rtcp_iter_next until it
 * returns 0 (end) or an error; each call returns 1 and fills *pkt with the next sub-packet. */
struct rtcp_iter {
	struct buf_reader r;
};
void rtcp_iter_init(struct rtcp_iter *it, const uint8_t *data, size_t len);
/* Returns 1 (one packet parsed into *pkt), 0 (end of data), or an RTCP_E* code; after an error
 * the iterator stays in error. */
int rtcp_iter_next(struct rtcp_iter *it, struct rtcp_packet *pkt)
        __attribute__((warn_unused_result));
/* Validates a whole compound packet; returns the number of sub-packets (>= 1) or an error
 * (RTCP_ESHORT for empty input). */
int rtcp_compound_validate(const uint8_t *data, size_t len) __attribute__((warn_unused_result));

/* Generic NACK (RFC 4585 6.2.1): expands the FCI of an RTPFB/1 packet into sequence numbers.
 * Writes at most cap numbers to lost and sets *n to the number written; returns 0,
 * RTCP_ETYPE (not a NACK), RTCP_ENOSPACE (more than cap). */
int rtcp_nack_lost(const struct rtcp_packet *pkt, uint16_t *lost, size_t cap, size_t *n)
        __attribute__((warn_unused_result));
/* REMB: bitrate in bit/s and up to cap SSRCs. Returns 0, RTCP_ETYPE, RTCP_EREMB. */
int rtcp_remb_parse(const struct rtcp_packet *pkt, uint64_t *bitrate, uint32_t *ssrcs, size_t cap,
                    size_t *n) __attribute__((warn_unused_result));
/* FIR (RFC 5104): the FCI entries (ssrc, command sequence number). Returns 0, RTCP_ETYPE,
 * RTCP_EFIR. */
struct rtcp_fir_entry {
	uint32_t ssrc;
	uint8_t seq;
};
int rtcp_fir_parse(const struct rtcp_packet *pkt, struct rtcp_fir_entry *e, size_t cap, size_t *n)
        __attribute__((warn_unused_result));

/* Transport-wide feedback: one entry per reported packet. */
struct rtcp_twcc_pkt {
	uint16_t seq;
	bool received;
	int64_t arrival_us; /* on the receiver's clock (ref time origin); valid when received */
};
struct rtcp_twcc_info {
	uint32_t ssrc, media_ssrc;
	uint16_t base_seq;
	uint16_t status_count;
	int32_t ref_time; /* 24-bit signed, in 64 ms units */
	uint8_t fb_count;
};
/* Parses an RTPFB/15 packet: fills *info and up to cap entries (status_count of them, which
 * must fit: RTCP_ENOSPACE otherwise). Returns 0, RTCP_ETYPE, RTCP_ETWCC, RTCP_ENOSPACE. */
int rtcp_twcc_parse(const struct rtcp_packet *pkt, struct rtcp_twcc_info *info,
                    struct rtcp_twcc_pkt *pkts, size_t cap) __attribute__((warn_unused_result));

/* ---- building (each appends one sub-packet to w; RTCP_ENOSPACE when it does not fit, in which
 * case w is in error) ---- */
/* SR with n reports (n <= 31). */
int rtcp_write_sr(struct buf_writer *w, uint32_t ssrc, uint64_t ntp, uint32_t rtp_ts,
                  uint32_t packet_count, uint32_t octet_count, const struct rtcp_report *r,
                  size_t n) __attribute__((warn_unused_result));
int rtcp_write_rr(struct buf_writer *w, uint32_t ssrc, const struct rtcp_report *r, size_t n)
        __attribute__((warn_unused_result));
/* SDES with one chunk of n items (item lengths <= 255). */
int rtcp_write_sdes(struct buf_writer *w, uint32_t ssrc, const struct rtcp_sdes_item *items,
                    size_t n) __attribute__((warn_unused_result));
int rtcp_write_bye(struct buf_writer *w, const uint32_t *sources, size_t n, const char *reason)
        __attribute__((warn_unused_result));
/* APP: name is 4 ASCII bytes, len a multiple of 4. */
int rtcp_write_app(struct buf_writer *w, uint8_t subtype, uint32_t ssrc, const char name[4],
                   const uint8_t *data, size_t len) __attribute__((warn_unused_result));
/* Generic NACK for n sequence numbers (any order, duplicates fine; packed into PID+BLP). */
int rtcp_write_nack(struct buf_writer *w, uint32_t ssrc, uint32_t media_ssrc, const uint16_t *lost,
                    size_t n) __attribute__((warn_unused_result));
int rtcp_write_pli(struct buf_writer *w, uint32_t ssrc, uint32_t media_ssrc)
        __attribute__((warn_unused_result));
int rtcp_write_fir(struct buf_writer *w, uint32_t ssrc, const struct rtcp_fir_entry *e, size_t n)
        __attribute__((warn_unused_result));
int rtcp_write_remb(struct buf_writer *w, uint32_t ssrc, uint64_t bitrate, const uint32_t *ssrcs,
                    size_t n) __attribute__((warn_unused_result));
/* Transport-wide feedback for packets base_seq .. base_seq+n-1 (received[i], arrival_us[i] on
 * the receiver clock, >= 0). Encodes as many as fit the deltas' range starting at index 0 (at
 * least one) and sets *consumed; the caller sends another feedback for the rest. Returns 0,
 * RTCP_EINVAL, RTCP_ENOSPACE. */
int rtcp_write_twcc(struct buf_writer *w, uint32_t ssrc, uint32_t media_ssrc, uint16_t base_seq,
                    const bool *received, const int64_t *arrival_us, size_t n, uint8_t fb_count,
                    size_t *consumed) __attribute__((warn_unused_result));

/* ---- receiver side helpers ---- */

/* Per-source receiver statistics for RR/SR report blocks (RFC 3550 A.1, A.3, A.8). */
struct rtcp_rx_stats {
	uint32_t ssrc;
	unsigned clock_rate;
	bool started;
	uint16_t max_seq;
	uint32_t cycles; /* shifted count of sequence number wraps */
	uint32_t base_seq;
	uint32_t received;
	uint32_t expected_prior, received_prior;
	bool have_transit;
	int64_t transit; /* in RTP clock units */
	double jitter;   /* in RTP clock units */
};
/* Starts statistics for source ssrc whose RTP clock runs at clock_rate Hz (> 0). */
void rtcp_rx_stats_init(struct rtcp_rx_stats *s, uint32_t ssrc, unsigned clock_rate);
/* Accounts one received packet (arrival on the receiver's clock, microseconds). */
void rtcp_rx_stats_update(struct rtcp_rx_stats *s, uint16_t seq, uint32_t rtp_ts,
                          int64_t arrival_us);
/* Fills a report block: fraction lost since the previous call, cumulative lost (clamped to 24
 * bits), extended highest sequence number, interarrival jitter; lsr/dlsr as given. */
void rtcp_rx_stats_report(struct rtcp_rx_stats *s, struct rtcp_report *out, uint32_t lsr,
                          uint32_t dlsr);

/* Records transport-wide sequence numbers and arrival times and builds the feedback for them.
 * Each packet is reported once: a build covers everything from the oldest unreported sequence
 * number to the newest received one (gaps reported as not received). A packet arriving after
 * its number was reported lost is dropped from reporting. */
struct rtcp_twcc_recorder;
int rtcp_twcc_recorder_new(struct rtcp_twcc_recorder **out) __attribute__((warn_unused_result));
void rtcp_twcc_recorder_free(struct rtcp_twcc_recorder *r);
/* Records a packet (arrival_us >= 0 on the receiver's clock). Returns 0, RTCP_EINVAL (negative
 * time), RTCP_ENOSPACE (more than 4096 numbers ahead of the oldest unreported one: the
 * recorder then restarts from this packet). */
int rtcp_twcc_recorder_add(struct rtcp_twcc_recorder *r, uint16_t seq, int64_t arrival_us)
        __attribute__((warn_unused_result));
/* Appends one or more RTPFB/15 packets to w for everything unreported; sets *n_reported (0 when
 * there was nothing new, and nothing is written). Returns 0 or RTCP_ENOSPACE / -ENOMEM (then
 * the packets stay unreported). */
int rtcp_twcc_recorder_build(struct rtcp_twcc_recorder *r, struct buf_writer *w, uint32_t ssrc,
                             uint32_t media_ssrc, size_t *n_reported)
        __attribute__((warn_unused_result));

#endif
