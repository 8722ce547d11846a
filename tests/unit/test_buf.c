/* tests/unit/test_buf.c — bounded reader/writer never overrun and keep a sticky error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/buf.h"

static void test_reads_big_and_little_endian(void **state)
{
	const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
	struct buf_reader r;

	buf_reader_init(&r, b, sizeof b);
	assert_int_equal(buf_read_u8(&r), 1);
	assert_int_equal(buf_read_u16(&r), 0x0203);
	assert_int_equal(buf_read_u24(&r), 0x040506);
	assert_int_equal(buf_read_u32_le(&r), 0x0a090807);
	assert_true(buf_read_u64(&r) == 0x0b0c0d0e0f101112ull);
	assert_int_equal(buf_reader_left(&r), 1);
	assert_true(buf_reader_ok(&r));
}

static void test_overrun_sets_sticky_error_and_reads_nothing(void **state)
{
	const uint8_t b[] = {0xaa, 0xbb, 0xcc};
	uint8_t out[4] = {9, 9, 9, 9};
	struct buf_reader r;

	buf_reader_init(&r, b, sizeof b);
	assert_int_equal(buf_read_u16(&r), 0xaabb);
	assert_int_equal(buf_read_u16(&r), 0); /* only one byte left */
	assert_false(buf_reader_ok(&r));
	assert_int_equal(buf_reader_left(&r), 0);
	/* sticky: even a 1-byte read that would have fitted fails now */
	assert_int_equal(buf_read_u8(&r), 0);
	assert_false(buf_read_bytes(&r, out, 1));
	assert_int_equal(out[0], 9);
	assert_null(buf_read_view(&r, 0));
}

static void test_huge_length_does_not_wrap(void **state)
{
	const uint8_t b[8] = {0};
	struct buf_reader r;

	buf_reader_init(&r, b, sizeof b);
	assert_true(buf_skip(&r, 4));
	assert_null(buf_read_view(&r, SIZE_MAX - 2)); /* off + n would wrap */
	assert_false(buf_reader_ok(&r));
}

static void test_empty_and_null_views(void **state)
{
	struct buf_reader r;

	buf_reader_init(&r, NULL, 100); /* NULL pointer: treated as empty */
	assert_int_equal(buf_reader_left(&r), 0);
	assert_int_equal(buf_read_u8(&r), 0);
	assert_false(buf_reader_ok(&r));
}

static void test_writer_round_trip_and_overflow(void **state)
{
	uint8_t b[16];
	struct buf_writer w;
	struct buf_reader r;

	buf_writer_init(&w, b, sizeof b);
	buf_write_u8(&w, 0x11);
	buf_write_u16(&w, 0x2233);
	buf_write_u24(&w, 0x445566);
	buf_write_u32(&w, 0x778899aa);
	buf_write_u16_le(&w, 0xbbcc);
	buf_write_u32_le(&w, 0xddeeff00);
	assert_int_equal(buf_writer_len(&w), 16);
	assert_true(buf_writer_ok(&w));
	buf_write_u8(&w, 1); /* full */
	assert_false(buf_writer_ok(&w));
	assert_int_equal(buf_writer_len(&w), 16);

	buf_reader_init(&r, b, sizeof b);
	assert_int_equal(buf_read_u8(&r), 0x11);
	assert_int_equal(buf_read_u16(&r), 0x2233);
	assert_int_equal(buf_read_u24(&r), 0x445566);
	assert_int_equal(buf_read_u32(&r), 0x778899aa);
	assert_int_equal(buf_read_u16_le(&r), 0xbbcc);
	assert_int_equal(buf_read_u32_le(&r), 0xddeeff00);
	assert_true(buf_reader_ok(&r));
}

static void test_writer_partial_write_writes_nothing(void **state)
{
	uint8_t b[4] = {0};
	struct buf_writer w;

	buf_writer_init(&w, b, sizeof b);
	buf_write_u16(&w, 0x0102);
	buf_write_u64_le(&w, 0xffffffffffffffffull);
	assert_false(buf_writer_ok(&w));
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 0);
	assert_null(buf_write_reserve(&w, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_reads_big_and_little_endian),
	        cmocka_unit_test(test_overrun_sets_sticky_error_and_reads_nothing),
	        cmocka_unit_test(test_huge_length_does_not_wrap),
	        cmocka_unit_test(test_empty_and_null_views),
	        cmocka_unit_test(test_writer_round_trip_and_overflow),
	        cmocka_unit_test(test_writer_partial_write_writes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
