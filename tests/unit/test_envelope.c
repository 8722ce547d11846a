/* tests/unit/test_envelope.c — sync/envelope: round trips and tampering in every region. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/keys.h"
#include "sync/envelope.h"

#define MAXCH 256

struct rec {
	uint8_t *hdr;
	size_t hlen;
	uint8_t *ch[MAXCH];
	size_t clen[MAXCH];
	uint32_t n;
	uint8_t id[SYNC_ENV_ID_BYTES];
};

struct fx {
	struct keys *a, *b, *c; /* sender, recipient, someone else */
	uint8_t p0[3000], p1[5000];
	char note[2500];
};

static struct keys *mk(uint8_t seed)
{
	uint8_t s[64];
	struct keys *k = NULL;

	memset(s, seed, sizeof s);
	assert_int_equal(keys_from_secret(s, &k), 0);
	return k;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);

	f->a = mk(1);
	f->b = mk(2);
	f->c = mk(3);
	randombytes_buf(f->p0, sizeof f->p0);
	randombytes_buf(f->p1, sizeof f->p1);
	for (size_t i = 0; i + 1 < sizeof f->note; i++)
		f->note[i] = (char)('a' + i % 26);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	keys_free(f->a);
	keys_free(f->b);
	keys_free(f->c);
	free(f);
	return 0;
}

static int collect(uint32_t i, const uint8_t *ct, size_t len, void *arg)
{
	struct rec *r = arg;

	assert_int_equal(i, r->n);
	assert_true(r->n < MAXCH);
	r->ch[r->n] = malloc(len);
	memcpy(r->ch[r->n], ct, len);
	r->clen[r->n++] = len;
	return 0;
}

static void rec_free(struct rec *r)
{
	free(r->hdr);
	for (uint32_t i = 0; i < r->n; i++)
		free(r->ch[i]);
	memset(r, 0, sizeof *r);
}

/* Seals a record of two parts + a note with 1 KiB chunks (about 11 chunks). */
static void seal(struct fx *f, const struct keys *from, const struct keys_pub *to, struct rec *r)
{
	struct sync_env_part parts[2] = {{"photo 1.jpg", "image/jpeg", sizeof f->p0},
	                                 {"ecg.pdf", "application/pdf", sizeof f->p1}};
	struct sync_env_content c = {"Plaie pied diabétique", f->note, strlen(f->note), 2, parts};
	struct sync_env_seal *w = NULL;

	memset(r, 0, sizeof *r);
	assert_int_equal(sync_env_seal_new(&w, from, to, SYNC_ENV_CASE, SYNC_PRIO_URGENT, NULL,
	                                   NULL, 1234567, 1024, &c),
	                 0);
	memcpy(r->id, sync_env_seal_id(w), sizeof r->id);
	/* odd split sizes on purpose */
	assert_int_equal(sync_env_seal_push(w, f->p0, 1000, collect, r), 0);
	assert_int_equal(sync_env_seal_push(w, f->p0 + 1000, sizeof f->p0 - 1000, collect, r), 0);
	assert_int_equal(sync_env_seal_push(w, f->p1, sizeof f->p1, collect, r), 0);
	assert_int_equal(sync_env_seal_finish(w, collect, r, &r->hdr, &r->hlen), 0);
	assert_int_equal(r->n, sync_env_seal_chunk_count(w));
	sync_env_seal_free(w);
}

struct sink {
	uint8_t p0[3000], p1[5000];
	size_t n0, n1;
};

static int sink_part(size_t part, const uint8_t *d, size_t len, void *arg)
{
	struct sink *s = arg;

	if (part == 0) {
		assert_true(s->n0 + len <= sizeof s->p0);
		memcpy(s->p0 + s->n0, d, len);
		s->n0 += len;
	} else {
		assert_int_equal(part, 1);
		assert_true(s->n1 + len <= sizeof s->p1);
		memcpy(s->p1 + s->n1, d, len);
		s->n1 += len;
	}
	return 0;
}

/* Opens r fully as `self`; returns the first error (0 if the record is good). */
static int open_all(const struct rec *r, const struct keys *self, struct sink *sk)
{
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	int ret;

	if ((ret = sync_env_header_parse(&h, r->hdr, r->hlen)) != 0)
		return ret;
	if ((ret = sync_env_open_new(&o, h, self)) != 0)
		goto out;
	for (uint32_t i = 0; i < r->n; i++)
		if ((ret = sync_env_open_chunk(o, i, r->ch[i], r->clen[i], sink_part, sk)) != 0)
			goto out;
	ret = sync_env_open_done(o) ? 0 : SYNC_ENV_ETAG;
out:
	sync_env_open_free(o);
	sync_env_header_free(h);
	return ret;
}

static void test_round_trip_multi_chunk_content_is_identical(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	const struct sync_env_content *c;
	struct sink sk = {0};
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	assert_true(r.n > 8);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	assert_memory_equal(h->id, r.id, 16);
	assert_memory_equal(&h->sender, &f->a->pub, sizeof f->a->pub);
	assert_int_equal(h->priority, SYNC_PRIO_URGENT);
	assert_int_equal(h->created_ms, 1234567);
	assert_int_equal(h->chunk_count, r.n);
	assert_int_equal(sync_env_open_new(&o, h, f->b), 0);
	for (uint32_t i = 0; i < r.n; i++) {
		assert_int_equal(sync_env_chunk_check(h, i, r.ch[i], r.clen[i]), 0);
		assert_int_equal(sync_env_open_chunk(o, i, r.ch[i], r.clen[i], sink_part, &sk), 0);
	}
	assert_true(sync_env_open_done(o));
	c = sync_env_open_content(o);
	assert_non_null(c);
	assert_string_equal(c->title, "Plaie pied diabétique");
	assert_string_equal(c->note, f->note);
	assert_int_equal(c->part_count, 2);
	assert_string_equal(c->parts[0].name, "photo 1.jpg");
	assert_string_equal(c->parts[1].type, "application/pdf");
	assert_int_equal(sk.n0, sizeof f->p0);
	assert_int_equal(sk.n1, sizeof f->p1);
	assert_memory_equal(sk.p0, f->p0, sizeof f->p0);
	assert_memory_equal(sk.p1, f->p1, sizeof f->p1);
	sync_env_open_free(o);
	sync_env_header_free(h);
	rec_free(&r);
}

static void test_every_header_byte_flipped_is_refused(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	for (size_t i = 0; i < r.hlen; i++) {
		int ret;
		r.hdr[i] ^= 0x01;
		ret = sync_env_header_parse(&h, r.hdr, r.hlen);
		if (ret == 0)
			fail_msg("header byte %zu flipped was accepted", i);
		/* magic -> EMAGIC, version/flags -> EVERSION, anything else -> ESIG or EHEADER */
		if (i < 4)
			assert_int_equal(ret, SYNC_ENV_EMAGIC);
		else if (i == 4 || i == 7)
			assert_int_equal(ret, SYNC_ENV_EVERSION);
		else
			assert_true(ret == SYNC_ENV_ESIG || ret == SYNC_ENV_EHEADER);
		r.hdr[i] ^= 0x01;
	}
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	sync_env_header_free(h);
	rec_free(&r);
}

static void test_header_regions_give_specific_errors(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	/* sealed key region (192..271) */
	r.hdr[200] ^= 0x80;
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), SYNC_ENV_ESIG);
	r.hdr[200] ^= 0x80;
	/* a chunk hash */
	r.hdr[SYNC_ENV_FIXED_BYTES + 40] ^= 0x80;
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), SYNC_ENV_ESIG);
	r.hdr[SYNC_ENV_FIXED_BYTES + 40] ^= 0x80;
	/* the signature itself */
	r.hdr[r.hlen - 1] ^= 0x80;
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), SYNC_ENV_ESIG);
	r.hdr[r.hlen - 1] ^= 0x80;
	/* truncated / extended header */
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen - 1), SYNC_ENV_EHEADER);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, 100), SYNC_ENV_EHEADER);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, 2), SYNC_ENV_EMAGIC);
	{
		uint8_t *big = calloc(1, r.hlen + 1);
		memcpy(big, r.hdr, r.hlen);
		assert_int_equal(sync_env_header_parse(&h, big, r.hlen + 1), SYNC_ENV_EHEADER);
		free(big);
	}
	rec_free(&r);
}

static void test_each_chunk_flipped_is_refused_on_arrival(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct sink sk = {0};
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	for (uint32_t i = 0; i < r.n; i++) {
		size_t pos[3] = {0, r.clen[i] / 2, r.clen[i] - 1}; /* start, body, MAC */
		for (int j = 0; j < 3; j++) {
			r.ch[i][pos[j]] ^= 0x04;
			assert_int_equal(sync_env_chunk_check(h, i, r.ch[i], r.clen[i]),
			                 SYNC_ENV_ECHUNKHASH);
			assert_int_equal(
			        sync_env_chunk_check_raw(r.hdr, r.hlen, i, r.ch[i], r.clen[i]),
			        SYNC_ENV_ECHUNKHASH);
			memset(&sk, 0, sizeof sk);
			assert_int_equal(open_all(&r, f->b, &sk), SYNC_ENV_ECHUNKHASH);
			r.ch[i][pos[j]] ^= 0x04;
		}
	}
	memset(&sk, 0, sizeof sk);
	assert_int_equal(open_all(&r, f->b, &sk), 0);
	sync_env_header_free(h);
	rec_free(&r);
}

static void test_truncated_reordered_and_missing_chunks_are_refused(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	struct sink sk = {0};
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	/* truncated chunk */
	assert_int_equal(sync_env_chunk_check(h, 0, r.ch[0], r.clen[0] - 1), SYNC_ENV_ECHUNKSIZE);
	/* extended chunk */
	{
		uint8_t *big = calloc(1, r.clen[0] + 1);
		memcpy(big, r.ch[0], r.clen[0]);
		assert_int_equal(sync_env_chunk_check(h, 0, big, r.clen[0] + 1),
		                 SYNC_ENV_ECHUNKSIZE);
		free(big);
	}
	/* chunk 1 presented as chunk 2 (reorder / replay) */
	assert_int_equal(sync_env_chunk_check(h, 2, r.ch[1], r.clen[1]), SYNC_ENV_ECHUNKHASH);
	/* index past the end */
	assert_int_equal(sync_env_chunk_check(h, r.n, r.ch[0], r.clen[0]), SYNC_ENV_EINDEX);
	/* opening out of order */
	assert_int_equal(sync_env_open_new(&o, h, f->b), 0);
	assert_int_equal(sync_env_open_chunk(o, 1, r.ch[1], r.clen[1], sink_part, &sk),
	                 SYNC_ENV_EORDER);
	sync_env_open_free(o);
	/* last chunk missing: never done */
	assert_int_equal(sync_env_open_new(&o, h, f->b), 0);
	for (uint32_t i = 0; i + 1 < r.n; i++)
		assert_int_equal(sync_env_open_chunk(o, i, r.ch[i], r.clen[i], NULL, NULL), 0);
	assert_false(sync_env_open_done(o));
	sync_env_open_free(o);
	/* a chunk repeated (replayed) in place of the next */
	assert_int_equal(sync_env_open_new(&o, h, f->b), 0);
	assert_int_equal(sync_env_open_chunk(o, 0, r.ch[0], r.clen[0], NULL, NULL), 0);
	assert_int_equal(sync_env_open_chunk(o, 1, r.ch[0], r.clen[0], NULL, NULL),
	                 SYNC_ENV_ECHUNKHASH);
	sync_env_open_free(o);
	sync_env_header_free(h);
	rec_free(&r);
}

static void test_chunk_from_another_record_is_refused(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct rec r1, r2;

	seal(f, f->a, &f->b->pub, &r1);
	seal(f, f->a, &f->b->pub, &r2); /* same content, same sizes, other key */
	assert_int_equal(r1.n, r2.n);
	assert_int_equal(sync_env_header_parse(&h, r1.hdr, r1.hlen), 0);
	for (uint32_t i = 0; i < r1.n; i++)
		assert_int_equal(sync_env_chunk_check(h, i, r2.ch[i], r2.clen[i]),
		                 SYNC_ENV_ECHUNKHASH);
	sync_env_header_free(h);
	rec_free(&r1);
	rec_free(&r2);
}

static void test_wrong_recipient_cannot_open(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	struct keys *fake;
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	assert_int_equal(sync_env_open_new(&o, h, f->c), SYNC_ENV_ERECIPIENT);
	/* someone claiming b's public key but holding another secret: the sealed key won't open */
	fake = mk(9);
	fake->pub = f->b->pub;
	assert_int_equal(sync_env_open_new(&o, h, fake), SYNC_ENV_EKEY);
	keys_free(fake);
	sync_env_header_free(h);
	rec_free(&r);
}

/* The sender re-signs a header whose sealed key was damaged: the signature holds, the key
 * does not open. */
static void test_damaged_sealed_key_is_refused_even_if_signed(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct sync_env_open *o = NULL;
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	r.hdr[192 + 40] ^= 0x10;
	crypto_sign_detached(r.hdr + r.hlen - 64, NULL, r.hdr, r.hlen - 64, f->a->ed25519_sk);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	assert_int_equal(sync_env_open_new(&o, h, f->b), SYNC_ENV_EKEY);
	sync_env_header_free(h);
	rec_free(&r);
}

/* A third party re-signing with its own key changes the sender: the header then names c. */
static void test_third_party_resign_changes_sender(void **state)
{
	struct fx *f = *state;
	struct sync_env_header *h = NULL;
	struct rec r;

	seal(f, f->a, &f->b->pub, &r);
	crypto_sign_detached(r.hdr + r.hlen - 64, NULL, r.hdr, r.hlen - 64, f->c->ed25519_sk);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), SYNC_ENV_ESIG);
	memcpy(r.hdr + 40, &f->c->pub, 64);
	crypto_sign_detached(r.hdr + r.hlen - 64, NULL, r.hdr, r.hlen - 64, f->c->ed25519_sk);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	assert_memory_equal(&h->sender, &f->c->pub, 64);
	assert_memory_not_equal(&h->sender, &f->a->pub, 64);
	sync_env_header_free(h);
	rec_free(&r);
}

static void test_bad_names_and_sizes_are_refused_when_sealing(void **state)
{
	struct fx *f = *state;
	struct sync_env_part bad[1] = {{"../etc/passwd", "text/plain", 1}};
	struct sync_env_part ok[1] = {{"a.txt", "text/plain", 10}};
	struct sync_env_content c = {"t", NULL, 0, 1, bad};
	struct sync_env_seal *w = NULL;
	uint8_t *hdr = NULL;
	size_t hlen;
	struct rec r = {0};

	assert_int_equal(sync_env_seal_new(&w, f->a, &f->b->pub, SYNC_ENV_CASE, SYNC_PRIO_NORMAL,
	                                   NULL, NULL, 0, 0, &c),
	                 SYNC_ENV_ENAME);
	assert_false(sync_env_name_ok(".."));
	assert_false(sync_env_name_ok("a/b"));
	assert_false(sync_env_name_ok(""));
	assert_false(sync_env_name_ok("x\ny"));
	assert_true(sync_env_name_ok("ECG 12 dérivations.pdf"));
	c.parts = ok;
	/* fewer bytes than declared */
	assert_int_equal(sync_env_seal_new(&w, f->a, &f->b->pub, SYNC_ENV_CASE, SYNC_PRIO_NORMAL,
	                                   NULL, NULL, 0, 0, &c),
	                 0);
	assert_int_equal(sync_env_seal_push(w, "12345", 5, collect, &r), 0);
	assert_int_equal(sync_env_seal_finish(w, collect, &r, &hdr, &hlen), SYNC_ENV_ESIZE);
	sync_env_seal_free(w);
	rec_free(&r);
	/* more bytes than declared */
	assert_int_equal(sync_env_seal_new(&w, f->a, &f->b->pub, SYNC_ENV_CASE, SYNC_PRIO_NORMAL,
	                                   NULL, NULL, 0, 0, &c),
	                 0);
	assert_int_equal(sync_env_seal_push(w, "12345678901", 11, collect, &r), SYNC_ENV_ESIZE);
	sync_env_seal_free(w);
	rec_free(&r);
	/* a reply needs its case reference */
	assert_int_equal(sync_env_seal_new(&w, f->a, &f->b->pub, SYNC_ENV_REPLY, SYNC_PRIO_NORMAL,
	                                   NULL, NULL, 0, 0, &c),
	                 -EINVAL);
}

static void test_reply_carries_its_case_reference(void **state)
{
	struct fx *f = *state;
	struct sync_env_content c = {"re", "ok, antibiotiques", 17, 0, NULL};
	struct sync_env_header *h = NULL;
	struct sync_env_seal *w = NULL;
	uint8_t ref[16];
	struct rec r = {0};
	struct sink sk = {0};

	randombytes_buf(ref, sizeof ref);
	assert_int_equal(sync_env_seal_new(&w, f->b, &f->a->pub, SYNC_ENV_REPLY, SYNC_PRIO_NORMAL,
	                                   ref, NULL, 0, 0, &c),
	                 0);
	assert_int_equal(sync_env_seal_finish(w, collect, &r, &r.hdr, &r.hlen), 0);
	sync_env_seal_free(w);
	assert_int_equal(r.n, 1);
	assert_int_equal(sync_env_header_parse(&h, r.hdr, r.hlen), 0);
	assert_int_equal(h->kind, SYNC_ENV_REPLY);
	assert_memory_equal(h->ref, ref, 16);
	assert_int_equal(open_all(&r, f->a, &sk), 0);
	sync_env_header_free(h);
	rec_free(&r);
}

static void test_content_parser_is_bounded(void **state)
{
	struct sync_env_part parts[1] = {{"x.bin", "", 3}};
	struct sync_env_content c = {"title", "note", 4, 1, parts}, *out = NULL;
	uint8_t *enc = NULL;
	size_t len, used;

	(void)state;
	assert_int_equal(sync_env_content_encode(&c, &enc, &len), 0);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(sync_env_content_parse(&out, &used, enc, i), -EAGAIN);
	assert_int_equal(sync_env_content_parse(&out, &used, enc, len), 0);
	assert_int_equal(used, len);
	assert_string_equal(out->parts[0].name, "x.bin");
	sync_env_content_free(out);
	enc[0] ^= 1;
	assert_int_equal(sync_env_content_parse(&out, &used, enc, len), SYNC_ENV_ECONTAINER);
	free(enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip_multi_chunk_content_is_identical),
	        cmocka_unit_test(test_every_header_byte_flipped_is_refused),
	        cmocka_unit_test(test_header_regions_give_specific_errors),
	        cmocka_unit_test(test_each_chunk_flipped_is_refused_on_arrival),
	        cmocka_unit_test(test_truncated_reordered_and_missing_chunks_are_refused),
	        cmocka_unit_test(test_chunk_from_another_record_is_refused),
	        cmocka_unit_test(test_wrong_recipient_cannot_open),
	        cmocka_unit_test(test_damaged_sealed_key_is_refused_even_if_signed),
	        cmocka_unit_test(test_third_party_resign_changes_sender),
	        cmocka_unit_test(test_bad_names_and_sizes_are_refused_when_sealing),
	        cmocka_unit_test(test_reply_carries_its_case_reference),
	        cmocka_unit_test(test_content_parser_is_bounded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
