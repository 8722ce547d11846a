/* tests/unit/test_frame.c — sync protocol message encoding and the bounded decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sync/frame.h"

static void fill_id(uint8_t id[SYNC_FRAME_ID_BYTES], uint8_t seed)
{
	for (int i = 0; i < SYNC_FRAME_ID_BYTES; i++)
		id[i] = (uint8_t)(seed + i);
}

static void roundtrip(const struct sync_frame *in, struct sync_frame *out, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	assert_int_equal(sync_frame_encode(in, buf, cap, &len), 0);
	assert_int_equal(len, sync_frame_size(in));
	assert_int_equal(sync_frame_decode(buf, len, out), 0);
	assert_int_equal(out->type, in->type);
}

static void test_every_type_roundtrips(void **state)
{
	uint8_t buf[SYNC_FRAME_MSG_MAX], meta[100], data[1000];
	struct sync_frame f, g;

	(void)state;
	memset(meta, 0xab, sizeof meta);
	memset(data, 0xcd, sizeof data);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_HELLO;
	f.u.hello.role = 2;
	f.u.hello.flags = 1;
	f.u.hello.max_chunk = 65000;
	f.u.hello.window = 1 << 20;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.hello.role, 2);
	assert_int_equal(g.u.hello.max_chunk, 65000);
	assert_int_equal(g.u.hello.window, 1 << 20);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_OFFER;
	fill_id(f.u.offer.id, 7);
	f.u.offer.prio = 2;
	f.u.offer.kind = 1;
	f.u.offer.total = UINT64_C(5000000000);
	f.u.offer.chunk_size = 32768;
	f.u.offer.meta = meta;
	f.u.offer.meta_len = sizeof meta;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_memory_equal(g.u.offer.id, f.u.offer.id, SYNC_FRAME_ID_BYTES);
	assert_int_equal(g.u.offer.total, UINT64_C(5000000000));
	assert_int_equal(g.u.offer.chunk_size, 32768);
	assert_int_equal(g.u.offer.meta_len, sizeof meta);
	assert_memory_equal(g.u.offer.meta, meta, sizeof meta);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_CHUNK;
	fill_id(f.u.chunk.id, 9);
	f.u.chunk.offset = 123456789;
	f.u.chunk.data = data;
	f.u.chunk.len = sizeof data;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.chunk.offset, 123456789);
	assert_int_equal(g.u.chunk.len, sizeof data);
	assert_memory_equal(g.u.chunk.data, data, sizeof data);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_RESUME;
	fill_id(f.u.resume.id, 1);
	f.u.resume.status = SYNC_RESUME_HAVE;
	f.u.resume.offset = 42;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.resume.status, SYNC_RESUME_HAVE);
	assert_int_equal(g.u.resume.offset, 42);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_ACK;
	f.u.ack.offset = 65536;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.ack.offset, 65536);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_DONE;
	f.u.done.total = 99;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.done.total, 99);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_DELIVERED;
	f.u.delivered.status = SYNC_DELIVERED_REJECTED;
	f.u.delivered.code = -4001;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.delivered.status, SYNC_DELIVERED_REJECTED);
	assert_int_equal(g.u.delivered.code, -4001);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_KEEPALIVE;
	f.u.keepalive.stamp = 11;
	f.u.keepalive.echo = 22;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.keepalive.stamp, 11);
	assert_int_equal(g.u.keepalive.echo, 22);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_RATE;
	f.u.rate.bytes_per_s = 64000;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.rate.bytes_per_s, 64000);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_ERROR;
	f.u.error.code = -4402;
	f.u.error.msg = (const uint8_t *)"nope";
	f.u.error.msg_len = 4;
	roundtrip(&f, &g, buf, sizeof buf);
	assert_int_equal(g.u.error.code, -4402);
	assert_memory_equal(g.u.error.msg, "nope", 4);
}

static void test_largest_chunk_fits_one_noise_message(void **state)
{
	static uint8_t data[SYNC_FRAME_CHUNK_MAX + 1], buf[SYNC_FRAME_MSG_MAX + 64];
	struct sync_frame f = {.type = SYNC_MSG_CHUNK}, g;
	size_t len;

	(void)state;
	f.u.chunk.data = data;
	f.u.chunk.len = SYNC_FRAME_CHUNK_MAX;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	assert_int_equal(len, SYNC_FRAME_MSG_MAX);
	assert_int_equal(sync_frame_decode(buf, len, &g), 0);
	assert_int_equal(g.u.chunk.len, SYNC_FRAME_CHUNK_MAX);
	f.u.chunk.len = SYNC_FRAME_CHUNK_MAX + 1;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), SYNC_FRAME_EMALFORMED);
}

static void test_every_truncation_is_refused(void **state)
{
	uint8_t buf[256], meta[10] = {0};
	struct sync_frame f = {.type = SYNC_MSG_OFFER}, g;
	size_t len;

	(void)state;
	f.u.offer.chunk_size = 1024;
	f.u.offer.total = 5000;
	f.u.offer.meta = meta;
	f.u.offer.meta_len = sizeof meta;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(sync_frame_decode(buf, i, &g), SYNC_FRAME_EMALFORMED);
	/* One byte of trailing garbage is refused too. */
	buf[len] = 0;
	assert_int_equal(sync_frame_decode(buf, len + 1, &g), SYNC_FRAME_EMALFORMED);
}

static void test_bad_version_and_type_are_refused(void **state)
{
	uint8_t buf[64];
	struct sync_frame f = {.type = SYNC_MSG_RATE}, g;
	size_t len;

	(void)state;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	buf[0] = SYNC_FRAME_VERSION + 1;
	assert_int_equal(sync_frame_decode(buf, len, &g), SYNC_FRAME_EVERSION);
	buf[0] = SYNC_FRAME_VERSION;
	buf[1] = 0;
	assert_int_equal(sync_frame_decode(buf, len, &g), SYNC_FRAME_ETYPE);
	buf[1] = 200;
	assert_int_equal(sync_frame_decode(buf, len, &g), SYNC_FRAME_ETYPE);
}

static void test_lying_length_fields_are_refused(void **state)
{
	uint8_t buf[8192], meta[SYNC_FRAME_META_MAX] = {0};
	struct sync_frame f = {.type = SYNC_MSG_OFFER}, g;
	size_t len;

	(void)state;
	f.u.offer.chunk_size = 1024;
	f.u.offer.meta = meta;
	f.u.offer.meta_len = 4;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	/* meta_len says 5 but only 4 bytes follow. */
	buf[2 + SYNC_FRAME_ID_BYTES + 15] = 5;
	assert_int_equal(sync_frame_decode(buf, len, &g), SYNC_FRAME_EMALFORMED);
	/* meta_len above the maximum even when the bytes are there. */
	f.u.offer.meta_len = SYNC_FRAME_META_MAX;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	buf[2 + SYNC_FRAME_ID_BYTES + 14] = 0x10;
	buf[2 + SYNC_FRAME_ID_BYTES + 15] = 0x01;
	memset(buf + len, 0, 1);
	assert_int_equal(sync_frame_decode(buf, len + 1, &g), SYNC_FRAME_EMALFORMED);
	/* Encoder refuses meta above the maximum. */
	f.u.offer.meta_len = SYNC_FRAME_META_MAX + 1;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), SYNC_FRAME_EMALFORMED);
}

static void test_out_of_range_fields_are_refused(void **state)
{
	uint8_t buf[64], d = 1;
	struct sync_frame f = {.type = SYNC_MSG_CHUNK}, g;
	size_t len;

	(void)state;
	f.u.chunk.data = &d;
	f.u.chunk.len = 1;
	f.u.chunk.offset = SYNC_FRAME_OFFSET_MAX + 1;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), SYNC_FRAME_EMALFORMED);
	f.u.chunk.offset = 0;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	/* A chunk with no data (header only) is malformed. */
	assert_int_equal(sync_frame_decode(buf, len - 1, &g), SYNC_FRAME_EMALFORMED);
	/* Offset with the top bits set. */
	buf[2 + SYNC_FRAME_ID_BYTES] = 0xff;
	assert_int_equal(sync_frame_decode(buf, len, &g), SYNC_FRAME_EMALFORMED);

	memset(&f, 0, sizeof f);
	f.type = SYNC_MSG_HELLO;
	f.u.hello.role = 3;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), SYNC_FRAME_EMALFORMED);
	f.u.hello.role = 1;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), 0);
	buf[2] = 0;
	assert_int_equal(sync_frame_decode(buf, len, &g), SYNC_FRAME_EMALFORMED);
}

static void test_small_output_buffer_is_refused(void **state)
{
	uint8_t buf[20];
	struct sync_frame f = {.type = SYNC_MSG_ACK};
	size_t len = 777;

	(void)state;
	assert_int_equal(sync_frame_encode(&f, buf, sizeof buf, &len), SYNC_FRAME_ENOSPACE);
	assert_int_equal(len, 777);
	assert_string_equal(sync_frame_strerror(SYNC_FRAME_ENOSPACE),
	                    "sync message does not fit the buffer");
	assert_string_equal(sync_frame_type_name(SYNC_MSG_ACK), "ACK");
	assert_string_equal(sync_frame_type_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_type_roundtrips),
	        cmocka_unit_test(test_largest_chunk_fits_one_noise_message),
	        cmocka_unit_test(test_every_truncation_is_refused),
	        cmocka_unit_test(test_bad_version_and_type_are_refused),
	        cmocka_unit_test(test_lying_length_fields_are_refused),
	        cmocka_unit_test(test_out_of_range_fields_are_refused),
	        cmocka_unit_test(test_small_output_buffer_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
