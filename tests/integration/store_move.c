/* tests/integration/store_move.c — test-only driver: moves every pending outbox record of one
 * site into another site's inbox through the store's sender and receiver APIs (what the two
 * daemons do over the network, minus the network). Built by tests/integration/case_cli.sh.
 *
 * usage: store_move FROM.conf TO.conf
 * A hub destination checks its allow-list first, like pirogued at the handshake: an unknown or
 * revoked sender is refused (exit 3) and nothing is stored. Prints one line per record moved.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sync/site.h"
#include "sync/store.h"

int main(int argc, char **argv)
{
	struct sync_site *from = NULL, *to = NULL;
	struct sync_store *fs = NULL, *ts = NULL;
	struct sync_out_item items[256];
	char err[SYNC_SITE_ERR_MAX];
	uint8_t *buf = malloc(SYNC_ENV_CHUNK_WIRE_MAX);
	size_t n = 0;
	int r, status = 1;

	if (argc != 3 || !buf)
		return 2;
	if (sync_site_open_all(argv[1], 0, &from, &fs, err) ||
	    sync_site_open_all(argv[2], 0, &to, &ts, err)) {
		fprintf(stderr, "store_move: %s\n", err);
		goto out;
	}
	if (to->role == SYNC_ROLE_HUB &&
	    (r = sync_store_peer_check(ts, from->keys->pub.x25519, NULL)) != 0) {
		fprintf(stderr, "store_move: refused by the hub: %s\n", sync_strerror(r));
		status = 3;
		goto out;
	}
	if ((r = sync_store_out_pending(fs, &to->keys->pub, items, 256, &n)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct sync_recv_status st;
		uint8_t *hdr = NULL;
		size_t hlen, len;
		char hex[SYNC_ENV_ID_HEX_LEN];
		int reason = 0;

		if ((r = sync_store_out_header(fs, items[i].id, &hdr, &hlen)) != 0)
			goto fail;
		r = sync_store_recv_begin(ts, hdr, hlen, &from->keys->pub, &to->keys->pub, &st);
		free(hdr);
		if (r != 0)
			goto fail;
		for (uint32_t k = st.next; !st.done && k < st.chunk_count; k++) {
			uint32_t next;
			if ((r = sync_store_out_chunk(fs, items[i].id, k, buf,
			                              SYNC_ENV_CHUNK_WIRE_MAX, &len)) != 0 ||
			    (r = sync_store_recv_chunk(ts, items[i].id, k, buf, len, &next)) != 0 ||
			    (r = sync_store_out_ack(fs, items[i].id, next)) != 0)
				goto fail;
		}
		if ((r = sync_store_recv_finish(ts, items[i].id, to->keys, NULL, &reason)) != 0) {
			fprintf(stderr, "store_move: finish: %s (%s)\n", sync_strerror(r),
			        sync_strerror(reason));
			goto fail;
		}
		if ((r = sync_store_out_delivered(fs, items[i].id)) != 0)
			goto fail;
		sync_env_id_hex(items[i].id, hex);
		printf("moved %s\n", hex);
	}
	status = 0;
	goto out;
fail:
	fprintf(stderr, "store_move: %s\n", sync_strerror(r));
out:
	sync_store_close(fs);
	sync_store_close(ts);
	sync_site_free(from);
	sync_site_free(to);
	free(buf);
	return status;
}
