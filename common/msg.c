/* common/msg.c — see msg.h. */
#include "common/msg.h"

#include <stdio.h>

void msg_vset(char *buf, size_t len, const char *fmt, va_list ap)
{
	if (!buf || len == 0)
		return;
	vsnprintf(buf, len, fmt, ap);
}

void msg_set(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vset(buf, len, fmt, ap);
	va_end(ap);
}
