/* tests/unit/test_config.c — INI parsing, typed getters and error messages with file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

static struct config *parse_ok(const char *text)
{
	struct config *c = NULL;
	char err[CONFIG_ERR_MAX] = "";

	int ret = config_parse(&c, "t.conf", text, strlen(text), err);
	if (ret)
		fprintf(stderr, "unexpected: %s\n", err);
	assert_int_equal(ret, 0);
	return c;
}

static void test_sections_keys_comments_and_blanks(void **state)
{
	struct config *c = parse_ok("# top comment\n"
	                            "name = island-1\n"
	                            "\n"
	                            "[hub]\n"
	                            "  address   =   198.51.100.2   # trailing comment\n"
	                            "port=7443\n"
	                            "; other comment\n"
	                            "[site]\r\n"
	                            "title = \"  quoted # not a comment \\\"x\\\" \"\n"
	                            "path = /a#b\n");

	assert_string_equal(config_get(c, "", "name"), "island-1");
	assert_string_equal(config_get(c, "hub", "address"), "198.51.100.2");
	assert_string_equal(config_get(c, "hub", "port"), "7443");
	assert_string_equal(config_get(c, "site", "title"), "  quoted # not a comment \"x\" ");
	assert_string_equal(config_get(c, "site", "path"), "/a#b");
	assert_null(config_get(c, "hub", "name"));
	assert_null(config_get(c, "nope", "port"));
	config_free(c);
}

static void expect_error(const char *text, int code, const char *needle)
{
	struct config *c = NULL;
	char err[CONFIG_ERR_MAX] = "";

	assert_int_equal(config_parse(&c, "bad.conf", text, strlen(text), err), code);
	assert_null(c);
	if (!strstr(err, needle))
		fprintf(stderr, "message was: %s\n", err);
	assert_non_null(strstr(err, needle));
}

static void test_errors_name_file_line_and_key(void **state)
{
	expect_error("[a]\nx = 1\nx = 2\n", CONFIG_EDUP, "bad.conf:3: [a] x: key given twice");
	expect_error("ok = 1\n[broken\n", CONFIG_ESYNTAX, "bad.conf:2: malformed section");
	expect_error("a=1\nb=2\njust words\n", CONFIG_ESYNTAX,
	             "bad.conf:3: expected 'key = value'");
	expect_error("k = \"unterminated\n", CONFIG_ESYNTAX, "bad.conf:1: [] k: malformed quoted");
	expect_error("[s] junk\n", CONFIG_ESYNTAX, "bad.conf:1: unexpected text");
	expect_error("bad key = 1\n", CONFIG_ESYNTAX, "bad.conf:1:");
}

static void test_repeated_section_continues_it(void **state)
{
	struct config *c = parse_ok("[a]\nx=1\n[b]\ny=2\n[a]\nz=3\n");

	assert_string_equal(config_get(c, "a", "z"), "3");
	assert_string_equal(config_key_at(c, "a", 0, NULL), "x");
	assert_string_equal(config_key_at(c, "a", 1, NULL), "z");
	assert_null(config_key_at(c, "a", 2, NULL));
	config_free(c);
}

static void test_typed_getters(void **state)
{
	struct config *c = parse_ok("[t]\nn = 42\nneg = -3\nbig = 99999999999999999999\n"
	                            "b1 = yes\nb2 = Off\nbx = maybe\n"
	                            "s1 = 64K\ns2 = 2G\ns3 = 12\nsx = 3Q\n"
	                            "d1 = 500ms\nd2 = 30s\nd3 = 10m\nd4 = 7\ndx = -1s\n");
	char err[CONFIG_ERR_MAX];
	int64_t i;
	bool b;
	uint64_t u;

	assert_int_equal(config_get_int(c, "t", "n", 0, 100, 7, &i, err), 0);
	assert_int_equal(i, 42);
	assert_int_equal(config_get_int(c, "t", "missing", 0, 100, 7, &i, err), 0);
	assert_int_equal(i, 7);
	assert_int_equal(config_get_int(c, "t", "neg", 0, 100, 7, &i, err), CONFIG_EVALUE);
	assert_non_null(strstr(err, "t.conf:3: [t] neg: out of range [0, 100]"));
	assert_int_equal(config_get_int(c, "t", "big", INT64_MIN, INT64_MAX, 0, &i, err),
	                 CONFIG_EVALUE);
	assert_int_equal(config_get_bool(c, "t", "b1", false, &b, err), 0);
	assert_true(b);
	assert_int_equal(config_get_bool(c, "t", "b2", true, &b, err), 0);
	assert_false(b);
	assert_int_equal(config_get_bool(c, "t", "bx", true, &b, err), CONFIG_EVALUE);
	assert_non_null(strstr(err, "[t] bx"));
	assert_int_equal(config_get_size(c, "t", "s1", 0, &u, err), 0);
	assert_true(u == 65536);
	assert_int_equal(config_get_size(c, "t", "s2", 0, &u, err), 0);
	assert_true(u == 2ull << 30);
	assert_int_equal(config_get_size(c, "t", "s3", 0, &u, err), 0);
	assert_true(u == 12);
	assert_int_equal(config_get_size(c, "t", "sx", 0, &u, err), CONFIG_EVALUE);
	assert_int_equal(config_get_duration_ms(c, "t", "d1", 0, &u, err), 0);
	assert_true(u == 500);
	assert_int_equal(config_get_duration_ms(c, "t", "d2", 0, &u, err), 0);
	assert_true(u == 30000);
	assert_int_equal(config_get_duration_ms(c, "t", "d3", 0, &u, err), 0);
	assert_true(u == 600000);
	assert_int_equal(config_get_duration_ms(c, "t", "d4", 0, &u, err), 0);
	assert_true(u == 7000);
	assert_int_equal(config_get_duration_ms(c, "t", "dx", 0, &u, err), CONFIG_EVALUE);
	config_free(c);
}

static void test_require_names_missing_key(void **state)
{
	struct config *c = parse_ok("[site]\nrole = clinic\nempty =\n");
	char err[CONFIG_ERR_MAX];
	const char *s;

	assert_int_equal(config_require_str(c, "site", "role", &s, err), 0);
	assert_string_equal(s, "clinic");
	assert_int_equal(config_require_str(c, "site", "key", &s, err), CONFIG_ENOKEY);
	assert_non_null(strstr(err, "t.conf: [site] key: required key missing"));
	assert_int_equal(config_require_str(c, "site", "empty", &s, err), CONFIG_EVALUE);
	config_free(c);
}

static void test_line_limit_and_nul(void **state)
{
	struct config_parser *p;
	char *line = malloc(CONFIG_LINE_MAX + 2);
	char err[CONFIG_ERR_MAX];

	assert_non_null(line);
	memset(line, 'a', CONFIG_LINE_MAX + 1);
	assert_int_equal(config_parser_new(&p, "long.conf"), 0);
	assert_int_equal(config_parser_line(p, line, CONFIG_LINE_MAX + 1, err), CONFIG_ETOOLONG);
	assert_int_equal(config_parser_line(p, "a=\0b", 4, err), CONFIG_ESYNTAX);
	config_parser_free(p);
	free(line);
}

static void test_load_from_file_and_missing_file(void **state)
{
	char path[] = "/tmp/pirogue-test-config-XXXXXX";
	int fd = mkstemp(path);
	struct config *c = NULL;
	char err[CONFIG_ERR_MAX];
	const char text[] = "[a]\nk = v\nlast = no newline";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	close(fd);
	assert_int_equal(config_load(&c, path, err), 0);
	assert_string_equal(config_get(c, "a", "last"), "no newline");
	assert_string_equal(config_name(c), path);
	config_free(c);
	unlink(path);
	assert_true(config_load(&c, path, err) < 0);
	assert_non_null(strstr(err, "No such file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sections_keys_comments_and_blanks),
	        cmocka_unit_test(test_errors_name_file_line_and_key),
	        cmocka_unit_test(test_repeated_section_continues_it),
	        cmocka_unit_test(test_typed_getters),
	        cmocka_unit_test(test_require_names_missing_key),
	        cmocka_unit_test(test_line_limit_and_nul),
	        cmocka_unit_test(test_load_from_file_and_missing_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
