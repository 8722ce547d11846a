/* common/msg.h — formatting a human-readable reason into a caller's buffer.
 *
 * Parsers report *why* they refused an input through a caller-provided buffer (`why`, `err`);
 * this is the one helper they share for it.
 */
#ifndef PIROGUE_COMMON_MSG_H
#define PIROGUE_COMMON_MSG_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into buf (len bytes, always NUL-terminated, truncated if needed). buf may be NULL or
 * len 0, in which case nothing is written: callers need not check. */
void msg_set(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void msg_vset(char *buf, size_t len, const char *fmt, va_list ap);

#endif
