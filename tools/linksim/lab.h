/* tools/linksim/lab.h — the lab around the emulator: network namespaces `clinic` and `hub`
 * (addresses LINKSIM_CLINIC_ADDR / LINKSIM_HUB_ADDR on a /24, no default route), one TUN device
 * LINKSIM_TUN in each, the daemonised emulator and its state under LINKSIM_RUN_DIR:
 *     emu.pid   pid of the emulator (process name "linksim-emu")
 *     ctl.sock  its control socket (emu.h)
 *     emu.log   its log (kept after `down` for post-mortems; overwritten by the next `up`)
 *
 * Namespaces and addresses are set up with iproute2 (`ip netns add`, `ip -n NS addr ...`) run
 * through fork/exec: it is what an operator would type, so the lab can be inspected and repaired
 * by hand with the same tool. The TUN devices are created with the TUNSETIFF ioctl from inside
 * each namespace (setns) and are not persistent: they vanish with the emulator's descriptors,
 * so a crashed emulator leaves only the namespaces, which `down` deletes.
 */
#ifndef PIROGUE_LINKSIM_LAB_H
#define PIROGUE_LINKSIM_LAB_H

#include <stdbool.h>
#include <sys/types.h>

#include "tools/linksim/profile.h"

#define LINKSIM_RUN_DIR     "/run/pirogue-linksim"
#define LINKSIM_CLINIC_ADDR "198.51.100.1"
#define LINKSIM_HUB_ADDR    "198.51.100.2"
#define LINKSIM_PREFIX_LEN  "24"
#define LINKSIM_TUN         "lsim0"
#define LINKSIM_EMU_NAME    "linksim-emu"
#define LINKSIM_LOCK_FILE   "/run/lock/pirogue-linksim.lock"

/* Brings the lab up with the given profile: namespaces, TUNs, addresses, the emulator daemon.
 * Returns once the emulator is ready. Fails (and leaves nothing behind) if the lab is already
 * up. err gets a message (LINKSIM_ERR_MAX bytes). Errors: -EEXIST (already up), -errno. */
int linksim_lab_up(struct linksim_profile *prof, char *err) __attribute__((warn_unused_result));

/* Tears everything down: stops the emulator (SIGTERM, then SIGKILL; every process named
 * linksim-emu, found through /proc, so that one whose pid file was lost goes too — there is one
 * lab per machine), kills processes left in the namespaces, deletes the namespaces and the
 * pid/socket files. Idempotent; works after the emulator crashed. Returns 0, or -errno if something
 * could not be removed. */
int linksim_lab_down(char *err) __attribute__((warn_unused_result));

/* The emulator's pid if it is running (checked by process name), else 0. */
pid_t linksim_lab_emu_pid(void);

/* Sends one request line to the emulator's control socket; *reply (malloc'd, the caller frees)
 * gets the whole answer. Errors: -ENOTCONN (lab not up), -ETIMEDOUT, -errno. */
int linksim_lab_request(const char *request, char **reply, char *err)
        __attribute__((warn_unused_result));

/* The lab is one per machine; suites take an flock on LINKSIM_LOCK_FILE before using it.
 * Returns 0 if nobody holds that lock, or if our caller does (we inherited its descriptor on
 * the lock file, as from a suite's `exec 9>LOCK; flock 9`); -EBUSY when someone else does — so that
 * a stray `linksim down` cannot pull the lab from under a running test. LINKSIM_IGNORE_LOCK=1 in
 * the environment skips the check. */
int linksim_lab_lock_check(char *err) __attribute__((warn_unused_result));

/* Does the namespace exist (by its /run/netns entry)? */
bool linksim_lab_ns_exists(const char *ns);

#endif
