/* tests/fuzz/fuzz_stream.c — arbitrary datagrams into a stream, at the opener and at the
 * acceptor, both mid-transfer (bytes written, packets in flight) so ACK processing, loss
 * detection, reassembly and flow control all see hostile input.
 *
 * Input: a sequence of records [flags u8][len u8][len bytes]. flags bit 0: overwrite bytes 1..4
 * with the stream id (so most datagrams get past the id check); bits 1..7: virtual time to
 * advance (ms) before the datagram. After each datagram both streams are polled dry and read.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "relay/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ID 0x01020304u

static void drain(struct relay_stream *s, struct relay_stream *peer, int64_t now, bool deliver)
{
	static uint8_t out[1500], rd[65536];
	size_t len;
	int64_t nx;

	for (int i = 0; i < 64; i++) {
		if (relay_stream_poll(s, now, out, sizeof out, &len, &nx) != 1)
			break;
		if (len > 1443)
			__builtin_trap();
		/* half of our own output reaches the peer: real state, not just garbage */
		if (deliver && (i & 1))
			(void)relay_stream_input(peer, out, len, now);
	}
	(void)relay_stream_read(s, rd, sizeof rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pat[100000];
	struct relay_stream *a = NULL, *b = NULL;
	struct relay_stream_config c = {0};
	struct relay_stream_stats st;
	uint8_t d[256];
	int64_t now = 0;
	size_t o = 0;

	c.recv_window = 65536;
	c.send_buffer = 200000;
	if (relay_stream_new(&a, &c, ID, true, now) || relay_stream_new(&b, &c, ID, false, now))
		goto out;
	(void)relay_stream_write(a, pat, sizeof pat);
	(void)relay_stream_write(b, pat, sizeof pat);
	drain(a, b, now, true);
	drain(b, a, now, true);
	while (o + 2 <= size) {
		uint8_t flags = data[o], len = data[o + 1];

		o += 2;
		if (len > size - o)
			len = (uint8_t)(size - o);
		memcpy(d, data + o, len);
		o += len;
		if ((flags & 1) && len >= 5) {
			d[1] = ID >> 24;
			d[2] = ID >> 16 & 0xff;
			d[3] = ID >> 8 & 0xff;
			d[4] = ID & 0xff;
		}
		now += (int64_t)(flags >> 1) * 1000;
		(void)relay_stream_peek(d, len, NULL, NULL);
		(void)relay_stream_is_open(d, len);
		(void)relay_stream_input(a, d, len, now);
		(void)relay_stream_input(b, d, len, now);
		drain(a, b, now, true);
		drain(b, a, now, true);
		relay_stream_stats(a, &st);
		if (relay_stream_readable(a) > c.recv_window ||
		    relay_stream_readable(b) > c.recv_window)
			__builtin_trap();
		(void)relay_stream_write(a, pat, relay_stream_writable(a) % 3000);
	}
	(void)relay_stream_strerror(relay_stream_error(a));
out:
	relay_stream_free(a);
	relay_stream_free(b);
	return 0;
}
