/* tools/linksim/lab.c — namespaces, TUN devices and the emulator daemon (see lab.h). */
#include "tools/linksim/lab.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mtime.h"
#include "tools/linksim/emu.h"

#define PID_FILE LINKSIM_RUN_DIR "/emu.pid"
#define CTL_SOCK LINKSIM_RUN_DIR "/ctl.sock"
#define LOG_FILE LINKSIM_RUN_DIR "/emu.log"

static const char *const namespaces[] = {"clinic", "hub"};

/* The parent of pid (0 if unknown), from /proc/pid/stat. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *rp;
	int fd;
	ssize_t n;
	long pp;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 2, "%*c %ld", &pp) != 1)
		return 0;
	return (pid_t)pp;
}

/* Does one of our ancestors have the lock file open? (A caller that took the lock but ran us
 * with its descriptors closed, e.g. Python's subprocess with close_fds.) */
static bool ancestor_has_lock_open(const struct stat *lk)
{
	pid_t p = parent_of(getpid());
	int depth;

	for (depth = 0; p > 1 && depth < 32; p = parent_of(p), depth++) {
		char dir[64], path[384];
		DIR *d;
		struct dirent *de;
		struct stat st;
		bool found = false;

		snprintf(dir, sizeof dir, "/proc/%d/fd", (int)p);
		d = opendir(dir);
		while (d && !found && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			found = stat(path, &st) == 0 && st.st_ino == lk->st_ino &&
			        st.st_dev == lk->st_dev;
		}
		if (d)
			closedir(d);
		if (found)
			return true;
	}
	return false;
}

int linksim_lab_lock_check(char *err)
{
	struct stat lk, st;
	DIR *d;
	struct dirent *de;
	int fd = -1, ret = 0;
	bool inherited = false;

	if (getenv("LINKSIM_IGNORE_LOCK") || stat(LINKSIM_LOCK_FILE, &lk) != 0)
		return 0;
	/* A descriptor on the lock file inherited from our caller (a suite's `exec 9>LOCK; flock
	 * 9`): flock on it succeeds if that open file holds the lock, and fails if another does. */
	d = opendir("/proc/self/fd");
	while (d && !inherited && (de = readdir(d)) != NULL) {
		int f = atoi(de->d_name);
		if (f >= 3 && f != dirfd(d) && fstat(f, &st) == 0 && st.st_ino == lk.st_ino &&
		    st.st_dev == lk.st_dev) {
			fd = f;
			inherited = true;
		}
	}
	if (d)
		closedir(d);
	if (!inherited)
		fd = open(LINKSIM_LOCK_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 && !(!inherited && ancestor_has_lock_open(&lk))) {
		linksim_errf(
		        err,
		        "the link lab is in use: another user or test suite holds %s; take the "
		        "lock (flock %s) and wait your turn",
		        LINKSIM_LOCK_FILE, LINKSIM_LOCK_FILE);
		ret = -EBUSY;
	} else if (!inherited) {
		flock(fd, LOCK_UN); /* nobody had it: a manual session, go ahead */
	}
	if (!inherited)
		close(fd);
	return ret;
}

bool linksim_lab_ns_exists(const char *ns)
{
	char path[128];
	snprintf(path, sizeof path, "/run/netns/%s", ns);
	return access(path, F_OK) == 0;
}

/* Runs argv (a NULL-terminated list) and returns its exit status, or -errno. With quiet, its
 * stdout and stderr go to /dev/null. */
static int run_argv(char *const argv[], bool quiet)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 1);
			if (quiet)
				dup2(null, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define IP(...)                                                                                    \
	({                                                                                         \
		char *const _a[] = {"ip", __VA_ARGS__, NULL};                                      \
		run_argv(_a, false);                                                               \
	})

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;
	size_t n = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, n) != (ssize_t)n)
		ret = -errno;
	close(fd);
	return ret;
}

/* Creates the TUN device inside namespace ns (entering it with setns and coming back to self,
 * an fd on our own namespace), with IPv6 disabled there so that no router solicitations or
 * MLD reports cross the link uninvited. Returns the TUN fd or -errno. */
static int open_tun_in(const char *ns, int self, char *err)
{
	struct ifreq ifr;
	char path[128];
	int nsfd, fd = -1, ret;

	snprintf(path, sizeof path, "/run/netns/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		ret = -errno;
		linksim_errf(err, "open %s: %s", path, strerror(errno));
		return ret;
	}
	if (setns(nsfd, CLONE_NEWNET) != 0) {
		ret = -errno;
		linksim_errf(err, "setns %s: %s", ns, strerror(errno));
		close(nsfd);
		return ret;
	}
	close(nsfd);
	(void)write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	(void)write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		linksim_errf(err, "open /dev/net/tun: %s", strerror(errno));
		goto back;
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", LINKSIM_TUN);
	if (ioctl(fd, TUNSETIFF, &ifr) != 0) {
		ret = -errno;
		linksim_errf(err, "TUNSETIFF in %s: %s", ns, strerror(errno));
		close(fd);
		fd = -1;
		goto back;
	}
	ret = fd;
back:
	if (setns(self, CLONE_NEWNET) != 0) {
		/* cannot happen short of a kernel bug; continuing in the wrong namespace would be
		 * worse than stopping */
		log_error("setns back to our namespace: %s", strerror(errno));
		_exit(1);
	}
	return ret;
}

static int config_ns(const char *ns, const char *addr, char *err)
{
	char cidr[64];

	snprintf(cidr, sizeof cidr, "%s/%s", addr, LINKSIM_PREFIX_LEN);
	if (IP("-n", (char *)ns, "link", "set", "lo", "up") != 0 ||
	    IP("-n", (char *)ns, "addr", "add", cidr, "dev", LINKSIM_TUN) != 0 ||
	    IP("-n", (char *)ns, "link", "set", LINKSIM_TUN, "mtu", "1500", "txqueuelen", "1000",
	       "up") != 0) {
		linksim_errf(err, "configuring namespace %s with ip failed", ns);
		return -EIO;
	}
	{
		/* no AQM between the application and the emulated link: the link's own drop-tail
		 * queue is the only one that should shape traffic (fq_codel would drop early if the
		 * emulator ever fell 5 ms behind) */
		char *const tc[] = {"ip",    "netns",   "exec", (char *)ns,  "tc",
		                    "qdisc", "replace", "dev",  LINKSIM_TUN, "root",
		                    "pfifo", "limit",   "1000", NULL};
		if (run_argv(tc, true) != 0)
			log_warn("could not set a pfifo qdisc on %s in %s (tc missing?)",
			         LINKSIM_TUN, ns);
	}
	return 0;
}

static pid_t read_pid(void)
{
	char buf[32];
	int fd = open(PID_FILE, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	long v;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 1 ? (pid_t)v : 0;
}

/* Reads /proc/<pid>/<file> into buf (NUL-terminated); false if the process or file is gone. */
static bool read_proc(pid_t pid, const char *file, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Is pid a live process (not gone, not a zombie waiting for a slow init to reap it)? */
static bool alive(pid_t pid)
{
	char buf[512], *rp;

	if (!read_proc(pid, "stat", buf, sizeof buf))
		return false;
	rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

static bool is_emulator(pid_t pid)
{
	char comm[64];

	if (!read_proc(pid, "comm", comm, sizeof comm))
		return false;
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, LINKSIM_EMU_NAME) == 0 && alive(pid);
}

pid_t linksim_lab_emu_pid(void)
{
	pid_t pid = read_pid();
	return pid && is_emulator(pid) ? pid : 0;
}

/* Sends sig to pid and waits up to ms for it to go away; returns true if it did. */
static bool kill_wait(pid_t pid, int sig, int ms)
{
	uint64_t end = mtime_now_ms() + (uint64_t)ms;

	if (kill(pid, sig) != 0)
		return errno == ESRCH;
	if (!alive(pid))
		return true;
	while (mtime_now_ms() < end) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		/* our own child (`run`, or a just-forked daemon) would linger as a zombie */
		waitpid(pid, NULL, WNOHANG);
		if (!alive(pid))
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* Kills every process that still lives in namespace ns (`ip netns pids`). */
static void kill_ns_pids(const char *ns)
{
	char cmd[128], line[64];
	FILE *f;
	pid_t pids[256];
	size_t n = 0, i;

	snprintf(cmd, sizeof cmd, "ip netns pids %s 2>/dev/null", ns);
	f = popen(cmd, "r");
	if (!f)
		return;
	while (n < sizeof pids / sizeof pids[0] && fgets(line, sizeof line, f)) {
		long v = strtol(line, NULL, 10);
		if (v > 1 && v != getpid())
			pids[n++] = (pid_t)v;
	}
	pclose(f);
	for (i = 0; i < n; i++) {
		if (!kill_wait(pids[i], SIGTERM, 1000))
			(void)kill_wait(pids[i], SIGKILL, 1000);
	}
}

/* Every running emulator (process name linksim-emu): the one in the pid file and any that
 * lost its pid file (one lab per machine, so any of them is a lab's). */
static size_t find_emulators(pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && n < max) {
		long v = strtol(de->d_name, NULL, 10);
		if (v > 1 && v != getpid() && is_emulator((pid_t)v))
			out[n++] = (pid_t)v;
	}
	closedir(d);
	return n;
}

int linksim_lab_down(char *err)
{
	pid_t pids[16];
	size_t n = find_emulators(pids, 16);
	int ret = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!kill_wait(pids[i], SIGTERM, 2000) && !kill_wait(pids[i], SIGKILL, 2000)) {
			linksim_errf(err, "emulator %d does not die", (int)pids[i]);
			ret = -EBUSY;
		}
	}
	for (i = 0; i < 2; i++) {
		const char *ns = namespaces[i];
		if (!linksim_lab_ns_exists(ns))
			continue;
		kill_ns_pids(ns);
		if (IP("netns", "del", (char *)ns) != 0 && linksim_lab_ns_exists(ns)) {
			linksim_errf(err, "ip netns del %s failed", ns);
			ret = -EBUSY;
		}
	}
	if (unlink(PID_FILE) != 0 && errno != ENOENT)
		ret = -errno;
	if (unlink(CTL_SOCK) != 0 && errno != ENOENT)
		ret = -errno;
	return ret;
}

static int make_ctl_socket(char *err)
{
	struct sockaddr_un sa;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", CTL_SOCK);
	unlink(CTL_SOCK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || chmod(CTL_SOCK, 0600) != 0 ||
	    listen(fd, 16) != 0) {
		ret = -errno;
		linksim_errf(err, "control socket %s: %s", CTL_SOCK, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

/* Closes every descriptor >= 3 except the ones in keep[]: the daemon must not hold what its
 * caller had open (a test's lab lock on fd 9 would otherwise stay locked for as long as the
 * emulator lives, and an inherited pipe would keep a caller's $(...) waiting). */
static void close_inherited(const int *keep, size_t nkeep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int fds[1024];
	size_t n = 0, i, k;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL && n < sizeof fds / sizeof fds[0]) {
		int fd = atoi(de->d_name);
		if (fd >= 3 && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	for (i = 0; i < n; i++) {
		for (k = 0; k < nkeep && keep[k] != fds[i]; k++)
			;
		if (k == nkeep)
			close(fds[i]);
	}
}

/* The daemon side of `up`: runs in the grandchild, never returns. */
static void daemon_main(struct linksim_profile *prof, int tc, int th, int ctl, int ready)
{
	const int keep[] = {tc, th, ctl, ready};
	char buf[32];
	int fd, ret;

	close_inherited(keep, sizeof keep / sizeof keep[0]);
	prctl(PR_SET_NAME, LINKSIM_EMU_NAME, 0, 0, 0);
	prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
	fd = open("/dev/null", O_RDONLY);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(LOG_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (chdir("/") != 0)
		_exit(1);
	fd = open(PID_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		_exit(1);
	snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, strlen(buf)) < 0 || close(fd) != 0 || rename(PID_FILE ".tmp", PID_FILE))
		_exit(1);
	log_init("linksim-emu", LOG_LVL_INFO);
	ret = linksim_emu_run(prof, tc, th, ctl, ready);
	if (ret != 0)
		log_error("emulator: %s", linksim_strerror(ret));
	_exit(ret == 0 ? 0 : 1);
}

int linksim_lab_up(struct linksim_profile *prof, char *err)
{
	int self = -1, tun[2] = {-1, -1}, ctl = -1, pipefd[2] = {-1, -1}, ret;
	pid_t pid;
	size_t i;
	char buf[16];
	struct pollfd pfd;

	if (linksim_lab_emu_pid()) {
		linksim_errf(err,
		             "the lab is already up (emulator pid %d); run `linksim down` first",
		             (int)linksim_lab_emu_pid());
		return -EEXIST;
	}
	if (linksim_lab_ns_exists("clinic") || linksim_lab_ns_exists("hub") ||
	    find_emulators(&pid, 1) > 0) {
		log_warn("removing the leftovers of a lab whose emulator is gone");
		if ((ret = linksim_lab_down(err)) != 0)
			return ret;
	}
	if (mkdir(LINKSIM_RUN_DIR, 0755) != 0 && errno != EEXIST) {
		ret = -errno;
		linksim_errf(err, "mkdir %s: %s", LINKSIM_RUN_DIR, strerror(errno));
		return ret;
	}
	for (i = 0; i < 2; i++) {
		if (IP("netns", "add", (char *)namespaces[i]) != 0) {
			linksim_errf(err, "ip netns add %s failed", namespaces[i]);
			ret = -EIO;
			goto fail;
		}
	}
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		ret = -errno;
		linksim_errf(err, "/proc/self/ns/net: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		if ((tun[i] = open_tun_in(namespaces[i], self, err)) < 0) {
			ret = tun[i];
			goto fail;
		}
	}
	if ((ret = config_ns("clinic", LINKSIM_CLINIC_ADDR, err)) != 0 ||
	    (ret = config_ns("hub", LINKSIM_HUB_ADDR, err)) != 0)
		goto fail;
	if ((ctl = make_ctl_socket(err)) < 0) {
		ret = ctl;
		goto fail;
	}
	if (pipe2(pipefd, O_CLOEXEC) != 0) {
		ret = -errno;
		goto fail;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto fail;
	}
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		if (fork() != 0)
			_exit(0);
		daemon_main(prof, tun[0], tun[1], ctl, pipefd[1]);
	}
	close(pipefd[1]);
	pipefd[1] = -1;
	waitpid(pid, NULL, 0);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 10000) != 1 || read(pipefd[0], buf, sizeof buf) < 2 ||
	    strncmp(buf, "ok", 2) != 0) {
		linksim_errf(err, "the emulator did not start (see %s)", LOG_FILE);
		ret = -EIO;
		goto fail;
	}
	ret = 0;
	goto out;
fail : {
	char derr[LINKSIM_ERR_MAX];
	for (i = 0; i < 2; i++) {
		if (tun[i] >= 0)
			close(tun[i]);
		tun[i] = -1;
	}
	if (linksim_lab_down(derr) != 0)
		log_error("cleaning up: %s", derr);
}
out:
	for (i = 0; i < 2; i++) {
		if (tun[i] >= 0)
			close(tun[i]);
	}
	if (ctl >= 0)
		close(ctl);
	if (self >= 0)
		close(self);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return ret;
}

int linksim_lab_request(const char *request, char **reply, char *err)
{
	struct sockaddr_un sa;
	struct timeval tv = {10, 0};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", CTL_SOCK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		linksim_errf(err, "the lab is not up (no emulator at %s: %s)", CTL_SOCK,
		             strerror(errno));
		ret = -ENOTCONN;
		goto out;
	}
	if (write(fd, request, strlen(request)) != (ssize_t)strlen(request) ||
	    write(fd, "\n", 1) != 1) {
		ret = -errno;
		linksim_errf(err, "control socket: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap + 65536);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap += 65536;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			linksim_errf(err, "control socket: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*reply = buf;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}
