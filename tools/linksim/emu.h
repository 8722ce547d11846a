/* tools/linksim/emu.h — the link emulator process: one libevent loop that carries packets
 * between the clinic and hub TUN devices through two linksim_dir pipelines (model.h), and a
 * control socket for `linksim stats` and `linksim set`.
 *
 * Control protocol (unix stream socket, one request line per connection, reply then close):
 *     "stats\n"          -> one JSON object (see linksim_emu_stats_json in emu.c) + "\n"
 *     "set KEY=VALUE\n"  -> "ok\n" or "error: MESSAGE\n"  (KEY may be up.KEY / down.KEY)
 */
#ifndef PIROGUE_LINKSIM_EMU_H
#define PIROGUE_LINKSIM_EMU_H

#include "tools/linksim/profile.h"

/* Runs the emulator until SIGTERM or SIGINT. tun_clinic/tun_hub are open TUN fds (IFF_NO_PI)
 * that the emulator takes over; ctl_fd is a listening unix socket (taken over too); ready_fd,
 * if >= 0, gets "ok\n" written and closed once the loop is about to start. The profile is
 * borrowed for the call. Returns 0 on a clean stop, -errno if the loop could not start. */
int linksim_emu_run(struct linksim_profile *prof, int tun_clinic, int tun_hub, int ctl_fd,
                    int ready_fd) __attribute__((warn_unused_result));

#endif
