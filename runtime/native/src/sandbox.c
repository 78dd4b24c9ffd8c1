/*
 * tbuild-sandbox main: the parent half. Reads the config, clones the child into
 * new namespaces, places it in the step's cgroup, lets it go, then waits and
 * reports how the command ended. SIGTERM/SIGINT to this process SIGKILL the
 * sandbox's PID 1, which takes the whole PID namespace down (§1.9); if this
 * process is SIGKILLed instead, PR_SET_PDEATHSIG does the same.
 */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child_pid;
static volatile sig_atomic_t cancelled;

void status(const char *format, ...) {
  char line[4096];
  va_list args;
  va_start(args, format);
  int n = vsnprintf(line, sizeof line - 1, format, args);
  va_end(args);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  ssize_t ignored = write(STATUS_FD, line, (size_t)n);
  (void)ignored;
}

void die(const char *stage, const char *format, ...) {
  int err = errno;
  char message[2048];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  if (err != 0)
    status("error %s: %s: %s", stage, message, strerror(err));
  else
    status("error %s: %s", stage, message);
  _exit(125);
}

/* In the child: one byte from the parent, or exit quietly (the parent died or reported why). */
static void await_byte(int fd) {
  char byte;
  ssize_t got;
  while ((got = read(fd, &byte, 1)) < 0 && errno == EINTR) {}
  if (got != 1) _exit(125);
  close(fd);
}

static void kill_child(int signal_number) {
  (void)signal_number;
  cancelled = 1;
  if (child_pid > 0) kill(child_pid, SIGKILL);
}

/* Moves the (not yet started) child into a cgroup by writing its pid into cgroup.procs. */
static void join_cgroup(const char *procs, pid_t pid, const char *pid_text) {
  errno = 0;
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, pid_text, strlen(pid_text)) < 0) {
    kill(pid, SIGKILL);
    die("cgroup", "join %s", procs);
  }
  close(fd);
}

/*
 * clone, straight into the v2 cgroup `dir` when given (clone3 CLONE_INTO_CGROUP,
 * Linux 5.7): moving a process later takes the cgroup threadgroup lock for
 * writing, which waits for an RCU grace period, ~10 ms per step on a busy host.
 * Kernels or seccomp profiles without it get a plain clone, and *cloned_into
 * stays 0 so the caller joins the cgroup the slow way.
 */
static pid_t clone_into_cgroup(long flags, const char *dir, int *cloned_into) {
  if (dir != NULL) {
    int cgroup = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cgroup < 0) die("cgroup", "open %s", dir);
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = ((uint64_t)flags & ~(uint64_t)CSIGNAL) | CLONE_INTO_CGROUP;
    args.exit_signal = (uint64_t)(flags & CSIGNAL);
    args.cgroup = (uint64_t)cgroup;
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    int err = errno;
    if (pid != 0) close(cgroup); /* the child closes it at exec (O_CLOEXEC) */
    if (pid >= 0) {
      *cloned_into = 1;
      return pid;
    }
    if (err != ENOSYS && err != EINVAL && err != E2BIG && err != EPERM) {
      errno = err;
      return -1;
    }
  }
  return (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
}

int main(void) {
  /* Our own status pipe must not reach the command: close-on-exec everywhere. */
  if (fcntl(STATUS_FD, F_SETFD, FD_CLOEXEC) != 0) return 125;
  static struct sandbox_config config;
  parse_config(CONFIG_FD, &config);
  close(CONFIG_FD);

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) die("sync", "pipe2");
  /*
   * The default network's link is made while the child builds its root, on the other
   * CPU: the child waits for this byte only before it starts the command.
   */
  int nat = strcmp(config.network, "nat") == 0;
  int net_ready[2] = {-1, -1};
  if (nat && pipe2(net_ready, O_CLOEXEC) != 0) die("sync", "pipe2");

  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = kill_child;
  sigaction(SIGTERM, &action, NULL);
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGHUP, &action, NULL);
  /* tbuild killed (even -9) ends the step as a cancel does: no sandbox, veth or slot outlives it. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);

  long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD;
  if (strcmp(config.network, "host") != 0) flags |= CLONE_NEWNET;
  if (config.cgroup_ns) flags |= CLONE_NEWCGROUP;
  /* A raw clone behaves like fork: the child continues here as PID 1 of the new namespace. */
  int cloned_into = 0;
  pid_t pid = clone_into_cgroup(flags, config.cgroup_clone, &cloned_into);
  if (pid < 0) die("clone", "clone");
  if (pid == 0) {
    close(go[1]);
    if (nat) close(net_ready[1]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* getppid() is 0 across the PID namespace, so the go byte tells us the parent is alive:
     * if it died before the prctl, the pipe reads EOF instead. */
    await_byte(go[0]);
    setup_rootfs(&config);
    enter_rootfs(&config);
    if (nat) await_byte(net_ready[0]); /* EOF: the parent failed to make the link, and said so */
    run_init(&config);
  }
  child_pid = pid;
  close(go[0]);
  if (nat) close(net_ready[0]);
  if (cancelled) kill(pid, SIGKILL); /* a cancel that came before the child existed */
  char pid_text[32];
  snprintf(pid_text, sizeof pid_text, "%d", pid);
  for (int i = 0; i < config.ncgroup_procs; i++) join_cgroup(config.cgroup_procs[i], pid, pid_text);
  if (config.cgroup_clone != NULL && !cloned_into) {
    char procs[4096];
    snprintf(procs, sizeof procs, "%s/cgroup.procs", config.cgroup_clone);
    join_cgroup(procs, pid, pid_text);
  }
  if (write(go[1], "g", 1) != 1) die("sync", "write");
  close(go[1]);
  if (nat) {
    network_attach(&config, pid);
    if (write(net_ready[1], "n", 1) != 1) die("sync", "write");
    close(net_ready[1]);
  }

  int wstatus;
  for (;;) {
    pid_t got = waitpid(pid, &wstatus, 0);
    if (got == pid) break;
    if (got < 0 && errno != EINTR) die("wait", "waitpid");
  }
  if (WIFEXITED(wstatus))
    status("exit %d", WEXITSTATUS(wstatus));
  else if (WIFSIGNALED(wstatus))
    status("signal %d", WTERMSIG(wstatus));
  return 0;
}
