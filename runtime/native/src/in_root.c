#include "in_root.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_SYMLINKS 40

static int same_inode(int a, int b) {
  struct stat sa, sb;
  if (fstat(a, &sa) != 0 || fstat(b, &sb) != 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Replaces *rest with prefix + "/" + (*rest), freeing the old buffer. */
static int prepend(char **rest, const char *prefix) {
  size_t a = strlen(prefix), b = strlen(*rest);
  char *joined = malloc(a + b + 2);
  if (!joined) return -1;
  memcpy(joined, prefix, a);
  joined[a] = '/';
  memcpy(joined + a + 1, *rest, b + 1);
  free(*rest);
  *rest = joined;
  return 0;
}

/* The securejoin-style fallback: every component opened with O_NOFOLLOW. */
static int walk_in_root(int rootfd, const char *path, int flags) {
  char *rest = strdup(path);
  if (!rest) return -1;
  int cur = openat(rootfd, ".", O_PATH | O_CLOEXEC | O_DIRECTORY);
  int links = 0;
  size_t pos = 0;
  while (cur >= 0) {
    while (rest[pos] == '/') pos++;
    if (rest[pos] == '\0') break;
    size_t end = pos;
    while (rest[end] != '\0' && rest[end] != '/') end++;
    int last = 1;
    for (size_t k = end; rest[k] != '\0'; k++)
      if (rest[k] != '/') { last = 0; break; }
    char component[256];
    size_t len = end - pos;
    if (len >= sizeof component) { close(cur); cur = -1; errno = ENAMETOOLONG; break; }
    memcpy(component, rest + pos, len);
    component[len] = '\0';
    pos = end;
    if (strcmp(component, ".") == 0) continue;
    if (strcmp(component, "..") == 0) {
      if (same_inode(cur, rootfd)) continue; /* ".." at the root stays at the root */
      int up = openat(cur, "..", O_PATH | O_CLOEXEC | O_DIRECTORY);
      close(cur);
      cur = up;
      continue;
    }
    int next = openat(cur, component, O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (next < 0) { int e = errno; close(cur); cur = -1; errno = e; break; }
    struct stat st;
    if (fstat(next, &st) != 0) { int e = errno; close(next); close(cur); cur = -1; errno = e; break; }
    if (S_ISLNK(st.st_mode) && !(last && (flags & IN_ROOT_NOFOLLOW))) {
      char target[4096];
      ssize_t n = readlinkat(next, "", target, sizeof target - 1);
      close(next);
      if (n < 0 || ++links > MAX_SYMLINKS) {
        close(cur); cur = -1; errno = n < 0 ? errno : ELOOP; break;
      }
      target[n] = '\0';
      /* Continue with the link target followed by what was left. */
      char *remaining = strdup(rest + pos);
      if (!remaining || prepend(&remaining, target) != 0) { free(remaining); close(cur); cur = -1; errno = ENOMEM; break; }
      free(rest);
      rest = remaining;
      pos = 0;
      if (target[0] == '/') {
        close(cur);
        cur = openat(rootfd, ".", O_PATH | O_CLOEXEC | O_DIRECTORY);
      }
      continue;
    }
    close(cur);
    cur = next;
  }
  free(rest);
  return cur;
}

int open_in_root(int rootfd, const char *path, int flags) {
  if (!(flags & IN_ROOT_FORCE_WALK)) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC | ((flags & IN_ROOT_NOFOLLOW) ? O_NOFOLLOW : 0);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    for (int tries = 0; tries < 8; tries++) {
      long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof how);
      if (fd >= 0) return (int)fd;
      /* EAGAIN: a concurrent rename raced the lookup; retry as the man page says. */
      if (errno == EAGAIN) continue;
      if (errno != ENOSYS) return -1;
      break;
    }
  }
  return walk_in_root(rootfd, path, flags);
}
