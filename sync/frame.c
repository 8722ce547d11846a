/* sync/frame.c — encode and decode sync protocol messages (see frame.h). */
#include "sync/frame.h"

#include <errno.h>
#include <string.h>

#include "common/buf.h"

static void write_body(struct buf_writer *w, const struct sync_frame *f)
{
	buf_write_u8(w, SYNC_FRAME_VERSION);
	buf_write_u8(w, (uint8_t)f->type);
	switch (f->type) {
	case SYNC_MSG_HELLO:
		buf_write_u8(w, f->u.hello.role);
		buf_write_u8(w, f->u.hello.flags);
		buf_write_u32(w, f->u.hello.max_chunk);
		buf_write_u32(w, f->u.hello.window);
		break;
	case SYNC_MSG_OFFER:
		buf_write_bytes(w, f->u.offer.id, SYNC_FRAME_ID_BYTES);
		buf_write_u8(w, f->u.offer.prio);
		buf_write_u8(w, f->u.offer.kind);
		buf_write_u64(w, f->u.offer.total);
		buf_write_u32(w, f->u.offer.chunk_size);
		buf_write_u16(w, f->u.offer.meta_len);
		buf_write_bytes(w, f->u.offer.meta, f->u.offer.meta_len);
		break;
	case SYNC_MSG_RESUME:
		buf_write_bytes(w, f->u.resume.id, SYNC_FRAME_ID_BYTES);
		buf_write_u8(w, f->u.resume.status);
		buf_write_u64(w, f->u.resume.offset);
		break;
	case SYNC_MSG_CHUNK:
		buf_write_bytes(w, f->u.chunk.id, SYNC_FRAME_ID_BYTES);
		buf_write_u64(w, f->u.chunk.offset);
		buf_write_bytes(w, f->u.chunk.data, f->u.chunk.len);
		break;
	case SYNC_MSG_ACK:
		buf_write_bytes(w, f->u.ack.id, SYNC_FRAME_ID_BYTES);
		buf_write_u64(w, f->u.ack.offset);
		break;
	case SYNC_MSG_DONE:
		buf_write_bytes(w, f->u.done.id, SYNC_FRAME_ID_BYTES);
		buf_write_u64(w, f->u.done.total);
		break;
	case SYNC_MSG_DELIVERED:
		buf_write_bytes(w, f->u.delivered.id, SYNC_FRAME_ID_BYTES);
		buf_write_u8(w, f->u.delivered.status);
		buf_write_u32(w, (uint32_t)f->u.delivered.code);
		break;
	case SYNC_MSG_KEEPALIVE:
		buf_write_u64(w, f->u.keepalive.stamp);
		buf_write_u64(w, f->u.keepalive.echo);
		break;
	case SYNC_MSG_RATE:
		buf_write_u64(w, f->u.rate.bytes_per_s);
		break;
	case SYNC_MSG_ERROR:
		buf_write_u32(w, (uint32_t)f->u.error.code);
		buf_write_u16(w, f->u.error.msg_len);
		buf_write_bytes(w, f->u.error.msg, f->u.error.msg_len);
		break;
	}
}

/* Field ranges shared by encode (refuse to build) and decode (refuse to accept). */
static bool fields_ok(const struct sync_frame *f)
{
	switch (f->type) {
	case SYNC_MSG_HELLO:
		return f->u.hello.role == 1 || f->u.hello.role == 2;
	case SYNC_MSG_OFFER:
		return f->u.offer.meta_len <= SYNC_FRAME_META_MAX &&
		       (f->u.offer.meta_len == 0 || f->u.offer.meta) &&
		       f->u.offer.total <= SYNC_FRAME_OFFSET_MAX && f->u.offer.chunk_size > 0 &&
		       f->u.offer.chunk_size <= SYNC_FRAME_CHUNK_MAX;
	case SYNC_MSG_RESUME:
		return f->u.resume.status <= SYNC_RESUME_REFUSE &&
		       f->u.resume.offset <= SYNC_FRAME_OFFSET_MAX;
	case SYNC_MSG_CHUNK:
		return f->u.chunk.len > 0 && f->u.chunk.len <= SYNC_FRAME_CHUNK_MAX &&
		       f->u.chunk.data && f->u.chunk.offset <= SYNC_FRAME_OFFSET_MAX;
	case SYNC_MSG_ACK:
		return f->u.ack.offset <= SYNC_FRAME_OFFSET_MAX;
	case SYNC_MSG_DONE:
		return f->u.done.total <= SYNC_FRAME_OFFSET_MAX;
	case SYNC_MSG_DELIVERED:
		return f->u.delivered.status <= SYNC_DELIVERED_REJECTED;
	case SYNC_MSG_KEEPALIVE:
	case SYNC_MSG_RATE:
		return true;
	case SYNC_MSG_ERROR:
		return f->u.error.msg_len <= SYNC_FRAME_ERRMSG_MAX &&
		       (f->u.error.msg_len == 0 || f->u.error.msg);
	}
	return false;
}

size_t sync_frame_size(const struct sync_frame *f)
{
	if (!fields_ok(f))
		return 0;
	switch (f->type) {
	case SYNC_MSG_HELLO:
		return 2 + 10;
	case SYNC_MSG_OFFER:
		return 2 + SYNC_FRAME_ID_BYTES + 16 + f->u.offer.meta_len;
	case SYNC_MSG_RESUME:
		return 2 + SYNC_FRAME_ID_BYTES + 9;
	case SYNC_MSG_CHUNK:
		return SYNC_FRAME_CHUNK_HDR + f->u.chunk.len;
	case SYNC_MSG_ACK:
	case SYNC_MSG_DONE:
		return 2 + SYNC_FRAME_ID_BYTES + 8;
	case SYNC_MSG_DELIVERED:
		return 2 + SYNC_FRAME_ID_BYTES + 5;
	case SYNC_MSG_KEEPALIVE:
		return 2 + 16;
	case SYNC_MSG_RATE:
		return 2 + 8;
	case SYNC_MSG_ERROR:
		return 2 + 6 + f->u.error.msg_len;
	}
	return 0;
}

int sync_frame_encode(const struct sync_frame *f, uint8_t *out, size_t cap, size_t *len)
{
	struct buf_writer w;
	size_t need = sync_frame_size(f);

	if (need == 0 || need > SYNC_FRAME_MSG_MAX)
		return SYNC_FRAME_EMALFORMED;
	if (need > cap)
		return SYNC_FRAME_ENOSPACE;
	buf_writer_init(&w, out, cap);
	write_body(&w, f);
	if (!buf_writer_ok(&w) || buf_writer_len(&w) != need)
		return SYNC_FRAME_ENOSPACE;
	*len = need;
	return 0;
}

int sync_frame_decode(const uint8_t *p, size_t len, struct sync_frame *out)
{
	struct buf_reader r;
	uint8_t ver, type;

	if (len > SYNC_FRAME_MSG_MAX)
		return SYNC_FRAME_EMALFORMED;
	buf_reader_init(&r, p, len);
	ver = buf_read_u8(&r);
	type = buf_read_u8(&r);
	if (!buf_reader_ok(&r))
		return SYNC_FRAME_EMALFORMED;
	if (ver != SYNC_FRAME_VERSION)
		return SYNC_FRAME_EVERSION;
	memset(out, 0, sizeof *out);
	out->type = (enum sync_frame_type)type;
	switch (type) {
	case SYNC_MSG_HELLO:
		out->u.hello.role = buf_read_u8(&r);
		out->u.hello.flags = buf_read_u8(&r);
		out->u.hello.max_chunk = buf_read_u32(&r);
		out->u.hello.window = buf_read_u32(&r);
		break;
	case SYNC_MSG_OFFER:
		buf_read_bytes(&r, out->u.offer.id, SYNC_FRAME_ID_BYTES);
		out->u.offer.prio = buf_read_u8(&r);
		out->u.offer.kind = buf_read_u8(&r);
		out->u.offer.total = buf_read_u64(&r);
		out->u.offer.chunk_size = buf_read_u32(&r);
		out->u.offer.meta_len = buf_read_u16(&r);
		if (out->u.offer.meta_len > SYNC_FRAME_META_MAX)
			return SYNC_FRAME_EMALFORMED;
		out->u.offer.meta = buf_read_view(&r, out->u.offer.meta_len);
		break;
	case SYNC_MSG_RESUME:
		buf_read_bytes(&r, out->u.resume.id, SYNC_FRAME_ID_BYTES);
		out->u.resume.status = buf_read_u8(&r);
		out->u.resume.offset = buf_read_u64(&r);
		break;
	case SYNC_MSG_CHUNK:
		buf_read_bytes(&r, out->u.chunk.id, SYNC_FRAME_ID_BYTES);
		out->u.chunk.offset = buf_read_u64(&r);
		out->u.chunk.len = buf_reader_left(&r);
		out->u.chunk.data = buf_read_view(&r, out->u.chunk.len);
		break;
	case SYNC_MSG_ACK:
		buf_read_bytes(&r, out->u.ack.id, SYNC_FRAME_ID_BYTES);
		out->u.ack.offset = buf_read_u64(&r);
		break;
	case SYNC_MSG_DONE:
		buf_read_bytes(&r, out->u.done.id, SYNC_FRAME_ID_BYTES);
		out->u.done.total = buf_read_u64(&r);
		break;
	case SYNC_MSG_DELIVERED:
		buf_read_bytes(&r, out->u.delivered.id, SYNC_FRAME_ID_BYTES);
		out->u.delivered.status = buf_read_u8(&r);
		out->u.delivered.code = (int32_t)buf_read_u32(&r);
		break;
	case SYNC_MSG_KEEPALIVE:
		out->u.keepalive.stamp = buf_read_u64(&r);
		out->u.keepalive.echo = buf_read_u64(&r);
		break;
	case SYNC_MSG_RATE:
		out->u.rate.bytes_per_s = buf_read_u64(&r);
		break;
	case SYNC_MSG_ERROR:
		out->u.error.code = (int32_t)buf_read_u32(&r);
		out->u.error.msg_len = buf_read_u16(&r);
		if (out->u.error.msg_len > SYNC_FRAME_ERRMSG_MAX)
			return SYNC_FRAME_EMALFORMED;
		out->u.error.msg = buf_read_view(&r, out->u.error.msg_len);
		break;
	default:
		return SYNC_FRAME_ETYPE;
	}
	if (!buf_reader_ok(&r) || buf_reader_left(&r) != 0)
		return SYNC_FRAME_EMALFORMED;
	if (!fields_ok(out))
		return SYNC_FRAME_EMALFORMED;
	return 0;
}

const char *sync_frame_type_name(int type)
{
	static const char *const names[] = {
	        [SYNC_MSG_HELLO] = "HELLO",
	        [SYNC_MSG_OFFER] = "OFFER",
	        [SYNC_MSG_RESUME] = "RESUME",
	        [SYNC_MSG_CHUNK] = "CHUNK",
	        [SYNC_MSG_ACK] = "ACK",
	        [SYNC_MSG_DONE] = "DONE",
	        [SYNC_MSG_DELIVERED] = "DELIVERED",
	        [SYNC_MSG_KEEPALIVE] = "KEEPALIVE",
	        [SYNC_MSG_RATE] = "RATE",
	        [SYNC_MSG_ERROR] = "ERROR",
	};
	if (type <= 0 || type > SYNC_MSG_ERROR)
		return "?";
	return names[type];
}

const char *sync_frame_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case SYNC_FRAME_EMALFORMED:
		return "malformed sync message";
	case SYNC_FRAME_EVERSION:
		return "unsupported sync protocol version";
	case SYNC_FRAME_ETYPE:
		return "unknown sync message type";
	case SYNC_FRAME_ENOSPACE:
		return "sync message does not fit the buffer";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error";
}
