/* tools/pirogue/cmd.h — the `pirogue` CLI's subcommands (one file each: cmd_<name>.c).
 *
 * Each subcommand is `int cmd_<name>(int argc, char **argv)`: argv[0] is the subcommand name;
 * it returns the exit status: 0 ok, 1 failed, 2 usage. Errors go to stderr prefixed with
 * "pirogue <name>: ". Each handles --help itself (usage on stdout, status 0).
 */
#ifndef PIROGUE_TOOLS_CMD_H
#define PIROGUE_TOOLS_CMD_H

#include <jansson.h>

#define CMD_OK    0
#define CMD_FAIL  1
#define CMD_USAGE 2

/* Prints a JSON value (indented, sorted keys) on stdout for --json and takes ownership of it
 * (NULL, as from a failed json_pack, is reported as a failure). Returns CMD_OK or CMD_FAIL. */
int cmd_print_json(json_t *o);
/* Prints "pirogue CMD: ARG: reason" for a failed record lookup (sync_store_find/get or the
 * caller's own filter): r == 0 or SYNC_ENOTFOUND print `missing`; `noun` names what an id
 * should be ("case", "record"). */
void cmd_record_error(const char *cmd, const char *arg, int r, const char *noun,
                      const char *missing);

/* Default config path when --config is not given. */
#define CMD_DEFAULT_CONFIG "/etc/pirogue/pirogue.conf"

int cmd_keygen(int argc, char **argv);
int cmd_case(int argc, char **argv);
int cmd_inbox(int argc, char **argv);
int cmd_reply(int argc, char **argv);
int cmd_enroll(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_media(int argc, char **argv);
int cmd_consult(int argc, char **argv);

#endif
