/* common/netaddr.h — small helpers on socket addresses (header only: one inline each). */
#ifndef PIROGUE_COMMON_NETADDR_H
#define PIROGUE_COMMON_NETADDR_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

/* The port of an IPv4 or IPv6 address, in host order; 0 for any other family. */
static inline uint16_t netaddr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

#endif
