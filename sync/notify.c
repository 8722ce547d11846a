/* sync/notify.c — "new work" pokes over a unix datagram socket (see notify.h). */
#include "sync/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int sock_addr(const char *store_dir, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (!store_dir)
		return -EINVAL;
	if ((size_t)snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", store_dir,
	                     SYNC_NOTIFY_SOCK) >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	return 0;
}

int sync_notify_send(const char *store_dir, const char *msg)
{
	struct sockaddr_un sa;
	size_t n = msg ? strlen(msg) : 0;
	int fd, ret;

	if (n == 0 || n > SYNC_NOTIFY_MSG_MAX)
		return -EINVAL;
	if ((ret = sock_addr(store_dir, &sa)) != 0)
		return ret;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -errno;
	if (sendto(fd, msg, n, 0, (struct sockaddr *)&sa, sizeof sa) == (ssize_t)n)
		ret = 0;
	else if (errno == ENOENT || errno == ECONNREFUSED)
		ret = 1; /* no daemon: fine, it reads the store when it starts */
	else
		ret = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	close(fd);
	return ret;
}

int sync_notify_listen(const char *store_dir, int *out)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, ret;

	if ((ret = sock_addr(store_dir, &sa)) != 0)
		return ret;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -errno;
	if (unlink(sa.sun_path) != 0 && errno != ENOENT) {
		ret = -errno;
		close(fd);
		return ret;
	}
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : -errno;
	umask(old);
	if (ret != 0) {
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

int sync_notify_recv(int fd, char *buf, size_t cap)
{
	ssize_t n;

	if (cap < SYNC_NOTIFY_MSG_MAX + 1)
		return -EINVAL;
	do
		n = recv(fd, buf, SYNC_NOTIFY_MSG_MAX + 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0 || n > SYNC_NOTIFY_MSG_MAX)
		return -EBADMSG;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] < 0x20 || buf[i] > 0x7e)
			return -EBADMSG;
	buf[n] = 0;
	return (int)n;
}

void sync_notify_close(int fd, const char *store_dir)
{
	struct sockaddr_un sa;

	if (fd < 0)
		return;
	close(fd);
	if (sock_addr(store_dir, &sa) == 0)
		unlink(sa.sun_path);
}
