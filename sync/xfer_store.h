/* sync/xfer_store.h — sync/xfer's storage operations implemented on sync/store (LMDB).
 *
 * What travels for one record is its envelope exactly as stored: the signed header (H bytes)
 * followed by the encrypted chunks (chunk i at byte H + i * stride, stride = chunk_size + 17,
 * the last one shorter). The OFFER's meta carries H, stride and the chunk count (3 x u32 BE)
 * so a receiver can tell where it stands before it has the header.
 *
 * Receiver: header bytes are held in memory until complete, then sync_store_recv_begin()
 * verifies the signature, that the sender is the authenticated Noise peer and that we are the
 * recipient, and stores it durably; each encrypted chunk is held in memory until complete, then
 * sync_store_recv_chunk() checks it against its signed hash and persists it; only then does the
 * durable offset (what ACK carries) move. So at most one partial chunk is lost (and re-sent)
 * per interruption. At DONE, sync_store_recv_finish() verifies the whole envelope and makes it
 * visible: exactly once (an already imported id answers HAVE to the next OFFER).
 * A record that fails verification (header: signature, sender, recipient; a chunk's signed
 * hash; the whole envelope at DONE; an id already used) is refused for good, with the
 * envelope's error as the reason code, and nothing of it is kept; a local failure (disk, LMDB)
 * only closes the connection (retried).
 *
 * Sender: headers and the chunk being sliced are cached per record (bounded); the outbox
 * progress (sync_store_out_ack) is written at most once a second per record and at the end,
 * since each write is a durable transaction. A record the peer refused for good becomes
 * REFUSED with the peer's reason code (sync_store_out_refused): not offered again.
 *
 * Hub: the last accepted handshake timestamp per clinic key is kept in the store
 * (sync_store_hs_stamp, one small durable write per accepted handshake). A handshake refused
 * for its timestamp is logged as a warning naming the clinic (re-enrolment resets it).
 */
#ifndef PIROGUE_SYNC_XFER_STORE_H
#define PIROGUE_SYNC_XFER_STORE_H

#include "common/keys.h"
#include "sync/store.h"
#include "sync/xfer.h"

struct sync_xfer_store;

/* The ops to pass to sync_xfer_new() with a struct sync_xfer_store * as ops_arg. Events go
 * to the callback set with sync_xfer_store_on_event(). */
extern const struct sync_xfer_ops sync_xfer_store_ops;

/* Creates the adapter.
 *   store  the site's open store (borrowed; must outlive the adapter)
 *   self   the site's keys (borrowed): recipient check and opening at finish
 *   role   clinic: the only peer is `hub` (pinned key); hub: peers come from the allow-list
 *   hub    clinic only: the hub's public key (copied); NULL on a hub
 * Errors: -EINVAL, -ENOMEM. */
int sync_xfer_store_new(struct sync_xfer_store **out, struct sync_store *store,
                        const struct keys *self, enum sync_xfer_role role,
                        const struct keys_pub *hub) __attribute__((warn_unused_result));

/* Events of the engine (progress, delivered...) are forwarded to cb(arg, ...) (NULL: none). */
void sync_xfer_store_on_event(struct sync_xfer_store *a,
                              void (*cb)(void *arg, enum sync_xfer_event ev, const uint8_t *peer,
                                         const uint8_t *id, int64_t a, int64_t b),
                              void *arg);

/* Hub: the UDP tunnel's initiation timestamp check (relay/tunnel.h stamp hook, through
 * sync/tunlink), kept in the store apart from xfer's (sync_store_tunnel_stamp). Returns 0 if
 * newer than the last accepted one from that clinic and now recorded; otherwise the handshake
 * is to be refused: SYNC_EREPLAY (logged as a warning naming the clinic), or a store error
 * (logged: an initiation that cannot be checked durably is not answered; it is retried). */
int sync_xfer_store_tunnel_stamp(struct sync_xfer_store *a, const uint8_t peer[32], uint64_t stamp)
        __attribute__((warn_unused_result));

/* Frees the caches; NULL is fine. */
void sync_xfer_store_free(struct sync_xfer_store *a);

#endif
