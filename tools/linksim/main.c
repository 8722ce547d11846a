/* tools/linksim/main.c — the `linksim` command: a table of subcommands (wireguard-tools
 * style) over lab.c (namespaces, daemon), profile.c (profiles) and emu.c (the emulator). */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "tools/linksim/lab.h"
#include "tools/linksim/profile.h"

#define MAX_SETS 64

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct cmd *find_cmd(const char *name);

static int usage_error(const char *cmd, const char *msg)
{
	const struct cmd *c = find_cmd(cmd);
	fprintf(stderr, "linksim %s: %s\nusage: linksim %s %s\n", cmd, msg, cmd, c ? c->usage : "");
	return 2;
}

static bool want_help(int argc, char **argv)
{
	return argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

static int need_root(const char *cmd)
{
	if (geteuid() != 0) {
		fprintf(stderr,
		        "linksim %s: must run as root (network namespaces and TUN devices "
		        "need CAP_NET_ADMIN and CAP_SYS_ADMIN)\n",
		        cmd);
		return 1;
	}
	return 0;
}

/* Commands that change the lab refuse to touch one that another suite holds the lock on. */
static int need_lock(const char *cmd)
{
	char err[LINKSIM_ERR_MAX];

	if (linksim_lab_lock_check(err) != 0) {
		fprintf(stderr, "linksim %s: %s\n", cmd, err);
		return 1;
	}
	return 0;
}

/* Parses --profile NAME and --set k=v (repeatable) from argv[1..], stopping at "--" (whose
 * index goes to *rest, or argc). Loads the profile into *prof. Returns 0, 1 or 2. */
static int parse_up_args(const char *cmd, int argc, char **argv, struct linksim_profile *prof,
                         int *rest)
{
	const char *profile = NULL, *sets[MAX_SETS];
	char path[1024], err[LINKSIM_ERR_MAX];
	int nsets = 0, i, ret;

	*rest = argc;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			*rest = i + 1;
			break;
		} else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
			profile = argv[++i];
		} else if (!strncmp(argv[i], "--profile=", 10)) {
			profile = argv[i] + 10;
		} else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
			if (nsets == MAX_SETS)
				return usage_error(cmd, "too many --set");
			sets[nsets++] = argv[++i];
		} else if (!strncmp(argv[i], "--set=", 6)) {
			if (nsets == MAX_SETS)
				return usage_error(cmd, "too many --set");
			sets[nsets++] = argv[i] + 6;
		} else {
			char msg[300];
			snprintf(msg, sizeof msg, "unexpected argument \"%.200s\"", argv[i]);
			return usage_error(cmd, msg);
		}
	}
	if (!profile)
		return usage_error(cmd, "--profile is required");
	if (linksim_profile_find(profile, path, sizeof path, err) != 0) {
		fprintf(stderr, "linksim %s: %s\n", cmd, err);
		return 1;
	}
	if ((ret = linksim_profile_load(prof, path, err)) != 0) {
		fprintf(stderr, "linksim %s: %s\n", cmd, err);
		return 1;
	}
	for (i = 0; i < nsets; i++) {
		if (linksim_profile_set(prof, sets[i], err) != 0) {
			fprintf(stderr, "linksim %s: --set %s: %s\n", cmd, sets[i], err);
			linksim_profile_release(prof);
			return 1;
		}
	}
	return 0;
}

static void describe(const char *name, const struct linksim_params *p)
{
	char rate[64];

	if (p->trace)
		snprintf(rate, sizeof rate, "trace (%.0f kbit/s mean)",
		         linksim_trace_rate_bps(p->trace) / 1e3);
	else if (p->rate_bps)
		snprintf(rate, sizeof rate, "%.0f kbit/s", (double)p->rate_bps / 1e3);
	else
		snprintf(rate, sizeof rate, "unlimited");
	printf("  %-4s %s, delay %.1f ms +/- %.1f ms, loss %.2f %%, queue %.0f ms%s%s\n", name,
	       rate, (double)p->delay_ns / 1e6, (double)p->jitter_ns / 1e6, p->loss * 100,
	       (double)p->queue_ns / 1e6, p->outage.n ? ", outages" : "",
	       p->fade.n ? ", fades" : "");
}

static int lab_up(const char *cmd, struct linksim_profile *prof)
{
	char err[LINKSIM_ERR_MAX];
	int ret;

	if ((ret = linksim_lab_up(prof, err)) != 0) {
		fprintf(stderr, "linksim %s: %s\n", cmd, err);
		return 1;
	}
	printf("linksim: lab up, profile %s (emulator pid %d)\n", prof->path,
	       (int)linksim_lab_emu_pid());
	printf("  clinic %s <-> hub %s\n", LINKSIM_CLINIC_ADDR, LINKSIM_HUB_ADDR);
	describe("up", &prof->up);
	describe("down", &prof->down);
	fflush(stdout);
	return 0;
}

static int cmd_up(int argc, char **argv)
{
	struct linksim_profile prof;
	int rest, ret;

	if (need_root("up") || need_lock("up"))
		return 1;
	if ((ret = parse_up_args("up", argc, argv, &prof, &rest)) != 0)
		return ret;
	if (rest != argc) {
		linksim_profile_release(&prof);
		return usage_error("up", "no command expected (see `linksim run`)");
	}
	ret = lab_up("up", &prof);
	linksim_profile_release(&prof);
	return ret;
}

static int cmd_down(int argc, char **argv)
{
	char err[LINKSIM_ERR_MAX];

	if (argc > 1)
		return usage_error("down", "no arguments expected");
	if (need_root("down") || need_lock("down"))
		return 1;
	if (linksim_lab_down(err) != 0) {
		fprintf(stderr, "linksim down: %s\n", err);
		return 1;
	}
	return 0;
}

static int cmd_exec(int argc, char **argv)
{
	char **args;
	int i, first;

	if (argc < 3)
		return usage_error("exec", "namespace and command required");
	if (strcmp(argv[1], "clinic") && strcmp(argv[1], "hub"))
		return usage_error("exec", "namespace must be clinic or hub");
	first = !strcmp(argv[2], "--") ? 3 : 2;
	if (first >= argc)
		return usage_error("exec", "command required");
	if (need_root("exec"))
		return 1;
	if (!linksim_lab_ns_exists(argv[1])) {
		fprintf(stderr, "linksim exec: the lab is not up (no namespace %s)\n", argv[1]);
		return 1;
	}
	args = calloc((size_t)(argc - first + 5), sizeof *args);
	if (!args)
		return 1;
	args[0] = "ip";
	args[1] = "netns";
	args[2] = "exec";
	args[3] = argv[1];
	for (i = first; i < argc; i++)
		args[4 + i - first] = argv[i];
	execvp("ip", args);
	fprintf(stderr, "linksim exec: ip: %s\n", strerror(errno));
	free(args);
	return 127;
}

static void print_dir(const char *name, json_t *d)
{
	json_t *p = json_object_get(d, "params");
	double rate = (double)json_integer_value(json_object_get(d, "rate_bps_now"));

	printf("%-5s %10lld %12lld %8lld %8lld %8lld %8lld %6lld %7lld %10.0f %8.2f %8.2f %s%s\n",
	       name, (long long)json_integer_value(json_object_get(d, "delivered_packets")),
	       (long long)json_integer_value(json_object_get(d, "delivered_bytes")),
	       (long long)json_integer_value(json_object_get(d, "dropped_loss")),
	       (long long)json_integer_value(json_object_get(d, "dropped_queue")),
	       (long long)json_integer_value(json_object_get(d, "dropped_outage")),
	       (long long)json_integer_value(json_object_get(d, "dropped_police")),
	       (long long)json_integer_value(json_object_get(d, "dropped_error")),
	       (long long)json_integer_value(json_object_get(d, "queue_packets")), rate / 1e3,
	       json_real_value(json_object_get(p, "delay_ms")),
	       json_real_value(json_object_get(d, "late_us_p99")),
	       json_is_true(json_object_get(d, "in_outage")) ? " OUTAGE" : "",
	       json_is_true(json_object_get(d, "in_fade")) ? " FADE" : "");
}

static int cmd_stats(int argc, char **argv)
{
	char err[LINKSIM_ERR_MAX], *reply = NULL;
	bool as_json = false;
	json_t *o;
	json_error_t jerr;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			as_json = true;
		else
			return usage_error("stats", "unexpected argument");
	}
	if (need_root("stats"))
		return 1;
	if (linksim_lab_request("stats", &reply, err) != 0) {
		fprintf(stderr, "linksim stats: %s\n", err);
		return 1;
	}
	if (as_json) {
		fputs(reply, stdout);
		free(reply);
		return 0;
	}
	o = json_loads(reply, 0, &jerr);
	free(reply);
	if (!o) {
		fprintf(stderr, "linksim stats: bad reply from the emulator: %s\n", jerr.text);
		return 1;
	}
	printf("profile %s, up for %.1f s\n", json_string_value(json_object_get(o, "profile")),
	       (double)json_integer_value(json_object_get(o, "elapsed_ms")) / 1e3);
	printf("%-5s %10s %12s %8s %8s %8s %8s %6s %7s %10s %8s %8s\n", "dir", "delivered", "bytes",
	       "loss", "queue", "outage", "police", "error", "queued", "kbit/s", "delay_ms",
	       "late_p99");
	print_dir("up", json_object_get(o, "up"));
	print_dir("down", json_object_get(o, "down"));
	printf("(up = clinic -> hub; drops by cause: loss, queue (drop-tail), outage, police "
	       "(token-bucket policer), error; "
	       "late_p99 = 99th percentile of delivery lateness in us)\n");
	json_decref(o);
	return 0;
}

static int cmd_set(int argc, char **argv)
{
	char err[LINKSIM_ERR_MAX], req[1100], *reply = NULL;
	int i, ret = 0;

	if (argc < 2)
		return usage_error("set", "key=value required");
	for (i = 1; i < argc; i++) {
		if (!strchr(argv[i], '=') || strchr(argv[i], '\n') || strlen(argv[i]) > 1000)
			return usage_error("set", "arguments are key=value, up.key=value or "
			                          "down.key=value");
	}
	if (need_root("set") || need_lock("set"))
		return 1;
	for (i = 1; i < argc; i++) {
		snprintf(req, sizeof req, "set %s", argv[i]);
		if (linksim_lab_request(req, &reply, err) != 0) {
			fprintf(stderr, "linksim set: %s\n", err);
			return 1;
		}
		if (strncmp(reply, "ok", 2) != 0) {
			fprintf(stderr, "linksim set: %s: %s", argv[i], reply);
			ret = 1;
		}
		free(reply);
		reply = NULL;
		if (ret)
			break;
	}
	return ret;
}

static volatile sig_atomic_t child_pid;

static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

static int cmd_run(int argc, char **argv)
{
	struct linksim_profile prof;
	struct sigaction sa;
	char err[LINKSIM_ERR_MAX];
	int rest, ret, status = 0;
	pid_t pid;

	if (need_root("run") || need_lock("run"))
		return 1;
	if ((ret = parse_up_args("run", argc, argv, &prof, &rest)) != 0)
		return ret;
	if (rest >= argc) {
		linksim_profile_release(&prof);
		return usage_error("run", "a command is required after --");
	}
	ret = lab_up("run", &prof);
	linksim_profile_release(&prof);
	if (ret != 0)
		return ret;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = forward_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pid = fork();
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		execvp(argv[rest], argv + rest);
		fprintf(stderr, "linksim run: %s: %s\n", argv[rest], strerror(errno));
		_exit(127);
	}
	if (pid < 0) {
		fprintf(stderr, "linksim run: fork: %s\n", strerror(errno));
		ret = 1;
	} else {
		child_pid = pid;
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	if (linksim_lab_down(err) != 0) {
		fprintf(stderr, "linksim run: tearing down: %s\n", err);
		if (ret == 0)
			ret = 1;
	}
	return ret;
}

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
        {"up", cmd_up, "--profile NAME|PATH [--set [up.|down.]key=value ...]"},
        {"down", cmd_down, ""},
        {"exec", cmd_exec, "clinic|hub -- CMD [ARGS...]"},
        {"stats", cmd_stats, "[--json]"},
        {"set", cmd_set, "[up.|down.]key=value ..."},
        {"run", cmd_run, "--profile NAME|PATH [--set key=value ...] -- CMD [ARGS...]"},
        {"help", cmd_help, ""},
};

static const struct cmd *find_cmd(const char *name)
{
	size_t i;
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	}
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	size_t i;

	printf("linksim — the Pirogue link lab: namespaces clinic (%s) and hub (%s) joined by an\n"
	       "emulated link (rate, delay, jitter, Gilbert-Elliott loss, queue, outages, fades,\n"
	       "Mahimahi traces). Profiles: tools/linksim/profiles/ (keys in its README).\n\n",
	       LINKSIM_CLINIC_ADDR, LINKSIM_HUB_ADDR);
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		printf("  linksim %s %s\n", cmds[i].name, cmds[i].usage);
	printf("\nExit status: 0 ok, 1 failed, 2 usage; `run` returns CMD's status.\n");
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	log_init("linksim", LOG_LVL_INFO);
	if (argc < 2) {
		cmd_help(0, NULL);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	c = find_cmd(argv[1]);
	if (!c) {
		fprintf(stderr, "linksim: unknown command \"%s\" (try `linksim help`)\n", argv[1]);
		return 2;
	}
	if (want_help(argc - 1, argv + 1)) {
		printf("usage: linksim %s %s\n", c->name, c->usage);
		return 0;
	}
	return c->fn(argc - 1, argv + 1);
}
