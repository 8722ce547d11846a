/* sync/notify.h — "new work" pokes from the CLI to a running daemon, over a local socket.
 *
 * The daemon binds a unix DATAGRAM socket at <store dir>/control.sock (SYNC_NOTIFY_SOCK) and
 * watches it with an event. After a successful write to the store, the CLI sends one datagram;
 * if no daemon is running (no socket file, or nobody bound: ENOENT / ECONNREFUSED) that is
 * fine and nothing happens — the daemon reads the store at start anyway. Datagrams are only a
 * hint to look at the store NOW (no polling); the store is always the truth, so a lost or
 * duplicated poke is harmless.
 *
 * Protocol: one datagram of printable ASCII, at most SYNC_NOTIFY_MSG_MAX bytes, no newline:
 *     "case <32 hex id>"    a case was queued (outbox)
 *     "reply <32 hex id>"   a reply was queued (outbox)
 *     "peers"               the allow-list changed (enroll/revoke): re-check connected peers
 *                           (a revoked clinic's session must be closed)
 *     "yield BITS LEASE_MS" a live consultation (`pirogue consult`) asks the sync transfer to
 *                           send at most BITS bit/s for the next LEASE_MS ms (100..60000),
 *                           renewed about every 500 ms while its media flows (sync/yield.h);
 *                           when the lease runs out unrenewed the configured rate_cap is back
 *     "yield end"           the consultation is over: the configured rate_cap is back now
 *     "rate BYTES"          sets the sync rate cap to BYTES bytes/s (0 = none) until the next
 *                           reload or change of yield (a debugging aid)
 * The receiver must ignore unknown words (future use). The socket file is created with mode
 * 0600 inside the 0700 store directory, so only the site's user can poke.
 */
#ifndef PIROGUE_SYNC_NOTIFY_H
#define PIROGUE_SYNC_NOTIFY_H

#include <stddef.h>

#define SYNC_NOTIFY_SOCK    "control.sock"
#define SYNC_NOTIFY_MSG_MAX 128

/* Sends one message to the daemon of the store in `store_dir`, without blocking.
 * Returns 0 if delivered, 1 if no daemon is listening (not an error), -ENAMETOOLONG if the
 * socket path does not fit a sockaddr_un, -EAGAIN if the daemon's queue is full (it has
 * pending pokes anyway), other -errno. */
int sync_notify_send(const char *store_dir, const char *msg) __attribute__((warn_unused_result));

/* Daemon side: creates the bound, non-blocking, close-on-exec datagram socket for
 * `store_dir` (removing a stale socket file first) and returns its fd in *fd. Errors: -errno,
 * -ENAMETOOLONG. Close with sync_notify_close(). */
int sync_notify_listen(const char *store_dir, int *fd) __attribute__((warn_unused_result));

/* Reads one pending message into buf (NUL-terminated, cap >= SYNC_NOTIFY_MSG_MAX + 1).
 * Returns its length, or -EAGAIN when none is pending, or -errno. Non-printable input is
 * refused (-EBADMSG, the datagram is consumed). */
int sync_notify_recv(int fd, char *buf, size_t cap) __attribute__((warn_unused_result));

/* Closes the socket and removes its file. fd < 0 is fine. */
void sync_notify_close(int fd, const char *store_dir);

#endif
