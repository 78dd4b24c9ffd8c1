/*
 * PID 1 and the command (research/sandbox.md §1.7, §1.9). PID 1 forks the
 * command, then drops every capability, turns non-dumpable (so /proc/1/exe and
 * /proc/1/root stay closed to the command), and reaps every zombie until the
 * command exits; its own exit then kills whatever is left in the namespace.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Docker's 14 default capabilities: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
 * SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. */
static const unsigned long long DEFAULT_CAPS = 0xa80425fbULL;

static int last_cap(void) {
  int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
  char text[16] = {0};
  if (fd >= 0) {
    ssize_t n = read(fd, text, sizeof text - 1);
    (void)n;
    close(fd);
  }
  int value = atoi(text);
  return value > 0 ? value : CAP_LAST_CAP;
}

static void set_caps(unsigned long long caps) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  data[0].effective = data[0].permitted = (unsigned int)caps;
  data[1].effective = data[1].permitted = (unsigned int)(caps >> 32);
  if (syscall(SYS_capset, &header, data) != 0) die("capabilities", "capset");
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
}

static void drop_bounding(unsigned long long keep) {
  int last = last_cap();
  for (int cap = 0; cap <= last; cap++)
    if (!(keep & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      die("capabilities", "drop %d from the bounding set", cap);
}

/* mkdir -p for the working directory; what it creates is owned by the step's user (BuildKit). */
static void make_cwd(const struct sandbox_config *c) {
  char path[4096];
  snprintf(path, sizeof path, "%s", c->cwd);
  for (char *p = path + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (mkdir(path, 0755) == 0) {
        if (lchown(path, c->uid, c->gid) != 0) die("cwd", "chown %s", path);
      } else if (errno != EEXIST) {
        die("cwd", "mkdir %s", path);
      }
      *p = saved;
      if (saved == '\0') break;
    }
  }
}

static void exec_command(const struct sandbox_config *c) {
  setsid();
  for (int i = 0; i < c->nrlimits; i++) {
    struct rlimit limit = {.rlim_cur = c->rlimits[i].soft, .rlim_max = c->rlimits[i].hard};
    if (setrlimit(c->rlimits[i].resource, &limit) != 0) {
      /* Without CAP_SYS_RESOURCE (tbuild inside a container) the hard limit cannot rise: clamp to it. */
      struct rlimit current;
      if (errno != EPERM || getrlimit(c->rlimits[i].resource, &current) != 0) die("rlimit", "setrlimit %d", c->rlimits[i].resource);
      limit.rlim_max = current.rlim_max;
      if (limit.rlim_cur > limit.rlim_max) limit.rlim_cur = limit.rlim_max;
      if (setrlimit(c->rlimits[i].resource, &limit) != 0) die("rlimit", "setrlimit %d", c->rlimits[i].resource);
    }
  }
  umask(022);
  if (strcmp(c->cwd, "/") != 0) make_cwd(c);
  if (chdir(c->cwd) != 0) die("cwd", "chdir %s", c->cwd);
  char cwd[4096];
  /* CVE-2024-21626: a cwd reached through a leaked host fd reads "(unreachable)". */
  if (!getcwd(cwd, sizeof cwd) || cwd[0] != '/') die("cwd", "working directory is outside the root");
  /* No host fd may reach the command: everything above stderr closes on exec. */
  if (syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */) != 0) die("fds", "close_range");
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL);

  drop_bounding(DEFAULT_CAPS);
  if (c->seccomp_len > 0) {
    /* Without no_new_privs this needs CAP_SYS_ADMIN, so it comes before dropping it (§1.7). */
    struct sock_fprog program = {.len = (unsigned short)(c->seccomp_len / sizeof(struct sock_filter)),
                                 .filter = (struct sock_filter *)c->seccomp};
    if (c->seccomp_len % sizeof(struct sock_filter) != 0) die("seccomp", "truncated program");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) die("seccomp", "install filter");
  }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) die("capabilities", "keepcaps");
  if (setgroups((size_t)c->ngroups, c->groups) != 0) die("user", "setgroups");
  if (setresgid(c->gid, c->gid, c->gid) != 0) die("user", "setresgid %u", c->gid);
  if (setresuid(c->uid, c->uid, c->uid) != 0) die("user", "setresuid %u", c->uid);
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) die("capabilities", "keepcaps");
  set_caps(DEFAULT_CAPS);

  environ = (char **)c->env; /* execvp searches the step's PATH, not ours */
  execvp(c->argv[0], c->argv);
  int err = errno;
  status("execfail %d %s: %s", err, c->argv[0], strerror(err));
  _exit(127);
}

void run_init(const struct sandbox_config *c) {
  sigset_t all, old;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  pid_t command = fork();
  if (command < 0) die("init", "fork");
  if (command == 0) exec_command(c);

  drop_bounding(0);
  set_caps(0);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  /* Keep only the status fd: the command must not find anything of ours through /proc/1/fd. */
  syscall(SYS_close_range, 0U, (unsigned)STATUS_FD - 1, 0U);
  syscall(SYS_close_range, (unsigned)STATUS_FD + 1, ~0U, 0U);
  for (;;) {
    int wstatus;
    pid_t pid = wait(&wstatus);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) _exit(125);
    if (pid != command) continue; /* a reparented orphan: reaped, nothing else to do */
    if (WIFEXITED(wstatus)) {
      status("result exit %d", WEXITSTATUS(wstatus));
      _exit(WEXITSTATUS(wstatus));
    }
    status("result signal %d", WTERMSIG(wstatus));
    _exit(128 + WTERMSIG(wstatus));
  }
}
