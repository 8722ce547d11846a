/* tools/pirogue/cmd_keygen.c — `pirogue keygen FILE`: create a site key, print its public key. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/keys.h"
#include "tools/pirogue/cmd.h"

static void keygen_usage(FILE *f)
{
	fprintf(f, "usage: pirogue keygen [--json] FILE\n"
	           "  Creates the site's private key file FILE (mode 0600, refuses to overwrite)\n"
	           "  and prints the site's public key (base64) on stdout.\n"
	           "  --json   print {\"public_key\": ..., \"file\": ...}\n");
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"json", no_argument, NULL, 'j'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct keys_pub pub;
	char text[KEYS_PUB_B64_LEN];
	int json = 0, c, ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 'h':
			keygen_usage(stdout);
			return CMD_OK;
		default:
			keygen_usage(stderr);
			return CMD_USAGE;
		}
	}
	if (optind != argc - 1) {
		keygen_usage(stderr);
		return CMD_USAGE;
	}
	if ((ret = keys_generate(argv[optind], &pub)) != 0) {
		fprintf(stderr, "pirogue keygen: %s: %s\n", argv[optind], keys_strerror(ret));
		return CMD_FAIL;
	}
	keys_pub_encode(&pub, text);
	if (json) {
		if (cmd_print_json(json_pack("{s:s, s:s}", "public_key", text, "file",
		                             argv[optind])) != CMD_OK) {
			fprintf(stderr, "pirogue keygen: out of memory\n");
			return CMD_FAIL;
		}
	} else {
		printf("%s\n", text);
	}
	return CMD_OK;
}
