/* common/err.h — error-number ranges reserved per module.
 *
 * Functions that can fail return 0, a negated errno (-ENOMEM, -EIO, ...) for system failures,
 * or a module code from that module's range below for everything else. Each module has its own
 * <module>_strerror() that also understands negated errnos.
 */
#ifndef PIROGUE_COMMON_ERR_H
#define PIROGUE_COMMON_ERR_H

#define ERR_BASE_COMMON -1000 /* common/: config, keys (-1000 .. -1099) */
#define ERR_BASE_NOISE  -1100 /* common/noise (-1100 .. -1199) */
#define ERR_BASE_CODEC  -2000 /* codec/ (-2000 .. -2999) */
#define ERR_BASE_RELAY  -3000 /* relay/ (-3000 .. -3999) */
#define ERR_BASE_SYNC   -4000 /* sync/ (-4000 .. -4999) */

#endif
