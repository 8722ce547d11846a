#include <errno.h>
/* tools/pirogue/main.c — the `pirogue` CLI: a table of subcommands that also writes the usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/pirogue/cmd.h"
#include "sync/store.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} commands[] = {
        {"keygen", cmd_keygen, "create a site's private key file and print its public key"},
        {"case", cmd_case, "add, list and show deferred cases (clinic outbox)"},
        {"inbox", cmd_inbox, "list, show and export received records"},
        {"reply", cmd_reply, "answer a received case (hub)"},
        {"enroll", cmd_enroll, "admit a clinic's public key to the hub's allow-list"},
        {"revoke", cmd_revoke, "refuse an enrolled clinic from now on"},
        {"status", cmd_status, "show the running daemon's sync state (sessions, re-sent bytes)"},
        {"media", cmd_media, "encode, decode, transcode VP8/Opus media files; measure PSNR/SSIM"},
        {"consult", cmd_consult, "run a two-way live consultation from files and record it"},
};

void cmd_record_error(const char *cmd, const char *arg, int r, const char *noun,
                      const char *missing)
{
	if (r == -EINVAL)
		fprintf(stderr, "pirogue %s: %s: not a %s id (hex, at least 8 digits)\n", cmd, arg,
		        noun);
	else if (r == SYNC_EEXIST)
		fprintf(stderr, "pirogue %s: %s: ambiguous prefix (give more digits)\n", cmd, arg);
	else if (r == 0 || r == SYNC_ENOTFOUND)
		fprintf(stderr, "pirogue %s: %s: %s\n", cmd, arg, missing);
	else
		fprintf(stderr, "pirogue %s: %s: %s\n", cmd, arg, sync_strerror(r));
}

int cmd_print_json(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;

	json_decref(o);
	if (!s)
		return CMD_FAIL;
	puts(s);
	free(s);
	return CMD_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pirogue <command> [options]   (pirogue <command> --help for details)\n\n"
	           "commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CMD_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CMD_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "pirogue: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CMD_USAGE;
}
