/*
 * The sandbox's filesystem (research/sandbox.md §1.2–§1.5). Every destination is
 * resolved inside the new root with open_in_root and mounted through
 * /proc/self/fd/N, so a symlink planted in the image can never redirect a mount
 * onto the host (CVE-2021-30465 class).
 */
#include "sandbox.h"
#include "in_root.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

static int rootfd = -1;

static const char *fdpath(int fd, char *buffer) {
  sprintf(buffer, "/proc/self/fd/%d", fd);
  return buffer;
}

/*
 * Returns an O_PATH fd for `path` inside the root, creating what is missing:
 * directories (0755) on the way, and the final component as a directory or an
 * empty file. Every created entry is reported as a stub, with its parent's times
 * before the creation, so the executor can remove it after the run (§1.3).
 */
static int ensure_in_root(const char *path, int want_dir) {
  int fd = open_in_root(rootfd, path, 0);
  if (fd >= 0) return fd;
  if (errno != ENOENT) die("mount", "resolve %s", path);
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", path);
  char *slash = strrchr(parent, '/');
  while (slash && slash[1] == '\0' && slash != parent) { *slash = '\0'; slash = strrchr(parent, '/'); }
  if (!slash) die("mount", "relative target %s", path);
  const char *name = slash + 1;
  char parent_path[4096];
  if (slash == parent) snprintf(parent_path, sizeof parent_path, "/");
  else { *slash = '\0'; snprintf(parent_path, sizeof parent_path, "%s", parent); }
  char name_copy[256];
  snprintf(name_copy, sizeof name_copy, "%s", name);
  int parentfd = ensure_in_root(parent_path, 1);
  struct stat before;
  if (fstat(parentfd, &before) != 0) die("mount", "stat %s", parent_path);
  struct statfs fs;
  /* Only entries made on the overlay land in the layer; those on our own tmpfs do not count. */
  int on_overlay = fstatfs(parentfd, &fs) == 0 && fs.f_type == 0x794c7630 /* OVERLAYFS_SUPER_MAGIC */;
  int created = want_dir ? mkdirat(parentfd, name_copy, 0755)
                         : mknodat(parentfd, name_copy, S_IFREG | 0644, 0);
  if (created != 0 && errno != EEXIST) die("mount", "create stub %s", path);
  if (created == 0 && on_overlay)
    status("stub %c %lld %lld %s", want_dir ? 'D' : 'F',
           (long long)before.st_atim.tv_sec * 1000000000LL + before.st_atim.tv_nsec,
           (long long)before.st_mtim.tv_sec * 1000000000LL + before.st_mtim.tv_nsec, path);
  close(parentfd);
  fd = open_in_root(rootfd, path, 0);
  if (fd < 0) die("mount", "resolve %s", path);
  return fd;
}

static void mount_fd(const char *source, int targetfd, const char *type, unsigned long flags,
                     const char *data, const char *what) {
  char target[64];
  if (mount(source, fdpath(targetfd, target), type, flags, data) != 0) die("mount", "%s", what);
}

static void mount_at(const char *source, const char *dest, const char *type, unsigned long flags,
                     const char *data, int want_dir) {
  int fd = ensure_in_root(dest, want_dir);
  mount_fd(source, fd, type, flags, data, dest);
  close(fd);
}

/* Bind `source` (host path) onto `dest` (in the root); remount read-only if asked. */
static void bind_at(const char *source, const char *dest, int readonly, unsigned long extra) {
  int sourcefd = open(source, O_PATH | O_CLOEXEC);
  if (sourcefd < 0) die("mount", "open bind source %s", source);
  struct stat st;
  if (fstat(sourcefd, &st) != 0) die("mount", "stat %s", source);
  int fd = ensure_in_root(dest, S_ISDIR(st.st_mode));
  char from[64];
  mount_fd(fdpath(sourcefd, from), fd, NULL, MS_BIND | MS_REC, NULL, dest);
  close(fd);
  if (readonly || extra) {
    /* Re-resolve: the bind covers the old inode, the remount applies to the new mount. */
    fd = ensure_in_root(dest, S_ISDIR(st.st_mode));
    mount_fd(NULL, fd, NULL, MS_BIND | MS_REMOUNT | extra | (readonly ? MS_RDONLY : 0), NULL, dest);
    close(fd);
  }
  close(sourcefd);
}

/* A secret: its own small tmpfs, never on disk, one read-only file bound in (§1.3). */
static void secret_at(const struct sandbox_mount *m) {
  int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fsfd < 0) die("secret", "fsopen");
  char size[32];
  snprintf(size, sizeof size, "%zu", m->data_len + 4096);
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "size", size, 0) != 0 ||
      fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "0755", 0) != 0 ||
      fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0)
    die("secret", "fsconfig");
  unsigned int attrs = MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID | ((m->mode & 0111) ? 0 : MOUNT_ATTR_NOEXEC);
  int mntfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
  if (mntfd < 0) die("secret", "fsmount");
  close(fsfd);
  int file = openat(mntfd, "secret", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (file < 0) die("secret", "create");
  for (size_t done = 0; done < m->data_len;) {
    ssize_t n = write(file, m->data + done, m->data_len - done);
    if (n < 0) die("secret", "write");
    done += (size_t)n;
  }
  if (fchown(file, m->uid, m->gid) != 0 || fchmod(file, m->mode & 07777) != 0) die("secret", "chown");
  close(file);
  int tree = open_tree(mntfd, "secret", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) die("secret", "open_tree");
  struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };
  if (mount_setattr(tree, "", AT_EMPTY_PATH, &ro, sizeof ro) != 0) die("secret", "mount_setattr");
  int target = ensure_in_root(m->dest, 0);
  if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    die("secret", "move_mount %s", m->dest);
  close(target);
  close(tree);
  close(mntfd);
}

static void setup_dev(const struct sandbox_config *c) {
  mount_at("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k", 1);
  static const char *nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    char host[64], inside[64];
    snprintf(host, sizeof host, "/dev/%s", nodes[i]);
    snprintf(inside, sizeof inside, "/dev/%s", nodes[i]);
    bind_at(host, inside, 0, 0);
  }
  int dev = open_in_root(rootfd, "/dev", 0);
  if (dev < 0) die("dev", "open /dev");
  static const char *links[][2] = {{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
                                   {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                   {"pts/ptmx", "ptmx"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++)
    if (symlinkat(links[i][0], dev, links[i][1]) != 0) die("dev", "symlink %s", links[i][1]);
  close(dev);
  mount_at("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=0620,gid=5", 1);
  char shm[64] = "mode=1777,size=65536k";
  if (c->shm_size > 0) snprintf(shm, sizeof shm, "mode=1777,size=%llu", c->shm_size);
  mount_at("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, shm, 1);
  mount_at("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, 1);
}

static void setup_sys(const struct sandbox_config *c) {
  const unsigned long flags = MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NODEV;
  mount_at("sysfs", "/sys", "sysfs", flags, NULL, 1);
  struct statfs fs;
  if (statfs("/sys/fs/cgroup", &fs) != 0) return; /* no cgroup fs on the host */
  if (c->cgroup_ns && fs.f_type == 0x63677270 /* CGROUP2_SUPER_MAGIC */) {
    mount_at("cgroup", "/sys/fs/cgroup", "cgroup2", flags, NULL, 1);
    return;
  }
  /* v1 or hybrid: a recursive read-only bind of the host hierarchy (BuildKit's withCGroup intent). */
  int fd = ensure_in_root("/sys/fs/cgroup", 1);
  int tree = open_tree(AT_FDCWD, "/sys/fs/cgroup", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) die("mount", "open_tree /sys/fs/cgroup");
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV };
  if (mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0)
    die("mount", "mount_setattr /sys/fs/cgroup");
  if (move_mount(tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    die("mount", "move_mount /sys/fs/cgroup");
  close(tree);
  close(fd);
}

static void loopback_up(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) die("network", "socket");
  struct ifreq request;
  memset(&request, 0, sizeof request);
  strcpy(request.ifr_name, "lo");
  if (ioctl(sock, SIOCGIFFLAGS, &request) != 0) die("network", "SIOCGIFFLAGS lo");
  request.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &request) != 0) die("network", "SIOCSIFFLAGS lo");
  close(sock);
}

void setup_rootfs(const struct sandbox_config *c) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("mount", "make / private");
  /*
   * Overlay options must fit in one page (mount(2) copies no more). The lowers
   * come relative to layer_dir and we mount from there, as containerd does
   * (§7): 500 six-character snapshot ids fit whatever the root's path is.
   */
  if (c->layer_dir && chdir(c->layer_dir) != 0) die("mount", "chdir %s", c->layer_dir);
  size_t size = sizeof "lowerdir=,upperdir=,workdir=,redirect_dir=off,metacopy=off,index=off" +
                strlen(c->upper) + strlen(c->work);
  for (int i = 0; i < c->nlower; i++) size += strlen(c->lower[i]) + 1;
  char *options = malloc(size);
  if (!options) die("mount", "out of memory for overlay options");
  size_t used = (size_t)snprintf(options, size, "lowerdir=");
  for (int i = 0; i < c->nlower; i++)
    used += (size_t)snprintf(options + used, size - used, "%s%s", i ? ":" : "", c->lower[i]);
  used += (size_t)snprintf(options + used, size - used,
                           ",upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off,index=off", c->upper,
                           c->work);
  /* runtime/overlay-options.ts refuses such a mount first, with the step named; this is the backstop. */
  if (used >= 4096) { errno = E2BIG; die("mount", "overlay options exceed one page"); }
  /* nodev: CAP_MKNOD stays (layers record device nodes) but such nodes cannot be opened (§1.2). */
  if (mount("overlay", c->rootfs, "overlay", MS_NODEV, options) != 0) die("mount", "overlay rootfs");
  free(options);
  if (c->layer_dir && chdir("/") != 0) die("mount", "chdir /");
  rootfd = open(c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) die("mount", "open rootfs");

  mount_at("proc", "/proc", "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL, 1);
  setup_dev(c);
  setup_sys(c);
  for (int i = 0; i < c->nmounts; i++) {
    const struct sandbox_mount *m = &c->mounts[i];
    if (strcmp(m->kind, "bind") == 0)
      bind_at(m->source, m->dest, m->readonly, m->readonly ? MS_NOSUID | MS_NODEV : 0);
    else if (strcmp(m->kind, "tmpfs") == 0)
      mount_at("tmpfs", m->dest, "tmpfs", MS_NOSUID | MS_NODEV | (m->readonly ? MS_RDONLY : 0),
               m->source, 1);
    else if (strcmp(m->kind, "secret") == 0)
      secret_at(m);
    else
      die("mount", "unknown mount kind %s", m->kind);
  }
  if (c->hosts_file) bind_at(c->hosts_file, "/etc/hosts", 1, MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (c->resolv_file) bind_at(c->resolv_file, "/etc/resolv.conf", 1, MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (sethostname(c->hostname, strlen(c->hostname)) != 0) die("hostname", "sethostname");
  if (strcmp(c->network, "host") != 0) loopback_up();
}

static const char *masked_paths[] = {
    "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
    "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
};
static const char *readonly_paths[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};

static void mask(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return; /* masks skip what this kernel does not have */
  if (S_ISDIR(st.st_mode)) {
    if (mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0,mode=000") != 0) die("mask", "%s", path);
  } else if (mount("/dev/null", path, NULL, MS_BIND, NULL) != 0) {
    die("mask", "%s", path);
  }
}

void enter_rootfs(const struct sandbox_config *c) {
  (void)c;
  int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (oldroot < 0) die("pivot_root", "open /");
  if (fchdir(rootfd) != 0) die("pivot_root", "fchdir rootfs");
  /* pivot_root(".", "."), then detach the old root stacked under it: the host tree is gone (§1.4). */
  if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root", "pivot_root");
  if (fchdir(oldroot) != 0) die("pivot_root", "fchdir old root");
  if (mount(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL) != 0) die("pivot_root", "old root slave");
  if (umount2(".", MNT_DETACH) != 0) die("pivot_root", "detach old root");
  if (chdir("/") != 0) die("pivot_root", "chdir /");
  close(oldroot);
  close(rootfd);
  for (size_t i = 0; i < sizeof masked_paths / sizeof *masked_paths; i++) mask(masked_paths[i]);
  for (int cpu = 0; cpu < 4096; cpu++) {
    char path[96];
    snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d", cpu);
    if (access(path, F_OK) != 0) break;
    strcat(path, "/thermal_throttle");
    mask(path);
  }
  for (size_t i = 0; i < sizeof readonly_paths / sizeof *readonly_paths; i++) {
    const char *path = readonly_paths[i];
    if (access(path, F_OK) != 0) continue;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) != 0 ||
        mount(path, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
      die("readonly", "%s", path);
  }
}
