/*
 * tbuild-sandbox: runs one RUN step in fresh namespaces (research/sandbox.md §1).
 * Node spawns it with the config on fd 3 (records, see sandbox_config.c) and reads
 * status lines on fd 4:
 *   stub D|F <parent-atime-ns> <parent-mtime-ns> <path>   a mount target it created
 *   error <stage>: <message>                               setup failed
 *   execfail <errno> <message>                             the command could not start
 *   exit <code> | signal <number>                          how the command ended
 * Single-threaded plain C: Node itself never forks or unshares (§2).
 */
#ifndef TBUILD_SANDBOX_H
#define TBUILD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STATUS_FD 4
#define CONFIG_FD 3

struct sandbox_mount {
  const char *kind;   /* "bind" | "tmpfs" | "secret" */
  const char *source; /* host path (bind); tmpfs options (tmpfs) */
  const char *dest;   /* absolute path inside the sandbox */
  int readonly;
  const uint8_t *data; /* secret bytes */
  size_t data_len;
  uid_t uid;
  gid_t gid;
  mode_t mode;
};

struct sandbox_rlimit {
  int resource;
  unsigned long long soft, hard;
};

/*
 * Every list is sized from the records the config carries (parse_config counts
 * them first): no fixed cap may drop an argument, a variable, a layer or a group.
 * Where the kernel has a limit of its own (execve's ARG_MAX, NGROUPS_MAX,
 * overlayfs' 500 layers), the call fails and the failure is reported.
 */
struct sandbox_config {
  const char **lower; /* relative to layer_dir when it is set */
  int nlower;
  const char *upper, *work, *rootfs; /* rootfs: host dir the overlay is mounted on */
  /* The helper chdirs here to mount the overlay, so lower paths stay short (§7). */
  const char *layer_dir;
  struct sandbox_mount *mounts;
  int nmounts;
  char **argv; /* NULL-terminated */
  int nargv;
  char **env; /* NULL-terminated */
  int nenv;
  const char *cwd;
  uid_t uid;
  gid_t gid;
  gid_t *groups;
  int ngroups;
  const char *hostname;
  const char *network; /* "none" | "host" | "nat" (sandbox_network.c) */
  const char *net_subnet; /* nat: the build subnet, "a.b.c.d/len" */
  int net_mtu;            /* nat: the veth's MTU; 0 keeps the kernel's */
  const char *hosts_file, *resolv_file;
  const uint8_t *seccomp;
  size_t seccomp_len;
  struct sandbox_rlimit *rlimits;
  int nrlimits;
  const char **cgroup_procs;
  int ncgroup_procs;
  int cgroup_ns;
  const char *cgroup_clone; /* a v2 cgroup dir PID 1 is cloned into (CLONE_INTO_CGROUP), or NULL */
  unsigned long long shm_size; /* bytes of /dev/shm; 0: Docker's 64 MiB */
};

int parse_config(int fd, struct sandbox_config *config);

/* Writes one status line to fd 4 (atomic: lines stay under PIPE_BUF). */
void status(const char *format, ...) __attribute__((format(printf, 1, 2)));
/* Reports "error <stage>: <message>: <strerror(errno)>" and exits 125. */
void die(const char *stage, const char *format, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* In the child, before pivot_root: builds the root filesystem under config->rootfs. */
void setup_rootfs(const struct sandbox_config *config);
/* pivot_root into config->rootfs, then masks and read-only paths. */
void enter_rootfs(const struct sandbox_config *config);
/* In the parent, while the child builds its root: its veth, addresses and route (nat only). */
void network_attach(const struct sandbox_config *config, pid_t pid);
/* PID 1: forks the command, reaps zombies, exits with the command's status. */
void run_init(const struct sandbox_config *config) __attribute__((noreturn));

#endif
