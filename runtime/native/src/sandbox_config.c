/*
 * Config records on fd 3, written by runtime/sandbox-config.ts: each is a 1-byte
 * tag, a 4-byte little-endian length and that many bytes. Strings carry no NUL;
 * the parser NUL-terminates them in a copy (each record's 5-byte header makes room).
 */
#include "sandbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  T_LOWER = 1, T_UPPER, T_WORK, T_ROOTFS,
  T_MOUNT = 10, /* kind \n source \n dest \n ro \n uid \n gid \n mode \n [data] */
  T_ARG = 20, T_ENV, T_CWD, T_UID, T_GID, T_GROUP, T_HOSTNAME, T_NETWORK,
  T_HOSTS, T_RESOLV, T_SECCOMP, T_RLIMIT, T_CGROUP_PROCS, T_CGROUP_NS, T_CGROUP_CLONE,
  T_LAYER_DIR, T_SHM_SIZE,
  /* The default network's records (sandbox_network.c), numbered apart from the rest. */
  T_NET_SUBNET = 48, T_NET_MTU = 49,
};

static uint8_t *read_all(int fd, size_t *length) {
  size_t cap = 1 << 16, len = 0;
  uint8_t *buffer = malloc(cap);
  for (;;) {
    if (!buffer) die("config", "out of memory");
    if (len == cap) buffer = realloc(buffer, cap *= 2);
    if (!buffer) die("config", "out of memory");
    ssize_t n = read(fd, buffer + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("config", "read");
    if (n == 0) break;
    len += (size_t)n;
  }
  *length = len;
  return buffer;
}

/* Splits a "\n"-separated field off *cursor (NUL-terminating it). */
static char *field(char **cursor) {
  char *start = *cursor;
  char *end = strchr(start, '\n');
  if (!end) die("config", "mount record is truncated");
  *end = '\0';
  *cursor = end + 1;
  return start;
}

/* calloc for `count` items plus a terminating NULL slot; never NULL. */
static void *list_of(size_t count, size_t size) {
  void *list = calloc(count + 1, size);
  if (!list) die("config", "out of memory for %zu items", count);
  return list;
}

/* The record's 4-byte little-endian length, after checking that the record is whole. */
static uint32_t record_length(const uint8_t *raw, size_t length, size_t in) {
  if (length - in < 5) die("config", "truncated record header");
  uint32_t len = (uint32_t)raw[in + 1] | (uint32_t)raw[in + 2] << 8 | (uint32_t)raw[in + 3] << 16 |
                 (uint32_t)raw[in + 4] << 24;
  if (len > length - in - 5) die("config", "truncated record");
  return len;
}

int parse_config(int fd, struct sandbox_config *c) {
  size_t length;
  uint8_t *raw = read_all(fd, &length);
  /* First pass: count the records of each tag, so every list is as long as it needs to be. */
  size_t count[256] = {0};
  for (size_t in = 0; in < length; in += 5 + record_length(raw, length, in)) count[raw[in]]++;
  memset(c, 0, sizeof *c);
  c->lower = list_of(count[T_LOWER], sizeof *c->lower);
  c->mounts = list_of(count[T_MOUNT], sizeof *c->mounts);
  c->argv = list_of(count[T_ARG], sizeof *c->argv);
  c->env = list_of(count[T_ENV], sizeof *c->env);
  c->groups = list_of(count[T_GROUP], sizeof *c->groups);
  c->rlimits = list_of(count[T_RLIMIT], sizeof *c->rlimits);
  c->cgroup_procs = list_of(count[T_CGROUP_PROCS], sizeof *c->cgroup_procs);
  /* Copy into a buffer with room for a NUL after every record (a record takes 5 bytes of header). */
  uint8_t *buffer = malloc(length + 1);
  if (!buffer) die("config", "out of memory");
  size_t in = 0, out = 0;
  c->hostname = "buildkitsandbox";
  c->network = "none";
  c->cwd = "/";
  while (in < length) {
    uint8_t tag = raw[in];
    uint32_t len = record_length(raw, length, in);
    in += 5;
    char *value = (char *)buffer + out;
    memcpy(value, raw + in, len);
    value[len] = '\0';
    in += len;
    out += len + 1;
    switch (tag) {
      case T_LOWER: c->lower[c->nlower++] = value; break;
      case T_UPPER: c->upper = value; break;
      case T_WORK: c->work = value; break;
      case T_ROOTFS: c->rootfs = value; break;
      case T_LAYER_DIR: c->layer_dir = value; break;
      case T_SHM_SIZE: c->shm_size = strtoull(value, NULL, 10); break;
      case T_MOUNT: {
        struct sandbox_mount *m = &c->mounts[c->nmounts++];
        char *cursor = value;
        m->kind = field(&cursor);
        m->source = field(&cursor);
        m->dest = field(&cursor);
        m->readonly = atoi(field(&cursor));
        m->uid = (uid_t)strtoul(field(&cursor), NULL, 10);
        m->gid = (gid_t)strtoul(field(&cursor), NULL, 10);
        m->mode = (mode_t)strtoul(field(&cursor), NULL, 8);
        m->data = (const uint8_t *)cursor;
        m->data_len = len - (size_t)(cursor - value);
        break;
      }
      case T_ARG: c->argv[c->nargv++] = value; break;
      case T_ENV: c->env[c->nenv++] = value; break;
      case T_CWD: c->cwd = value; break;
      case T_UID: c->uid = (uid_t)strtoul(value, NULL, 10); break;
      case T_GID: c->gid = (gid_t)strtoul(value, NULL, 10); break;
      case T_GROUP: c->groups[c->ngroups++] = (gid_t)strtoul(value, NULL, 10); break;
      case T_HOSTNAME: c->hostname = value; break;
      case T_NETWORK: c->network = value; break;
      case T_NET_SUBNET: c->net_subnet = value; break;
      case T_NET_MTU: c->net_mtu = atoi(value); break;
      case T_HOSTS: c->hosts_file = value; break;
      case T_RESOLV: c->resolv_file = value; break;
      case T_SECCOMP: c->seccomp = (const uint8_t *)value; c->seccomp_len = len; break;
      case T_RLIMIT: {
        struct sandbox_rlimit *r = &c->rlimits[c->nrlimits++];
        char *end;
        r->resource = (int)strtol(value, &end, 10);
        r->soft = strtoull(end, &end, 10);
        r->hard = strtoull(end, &end, 10);
        break;
      }
      case T_CGROUP_PROCS: c->cgroup_procs[c->ncgroup_procs++] = value; break;
      case T_CGROUP_NS: c->cgroup_ns = 1; break;
      case T_CGROUP_CLONE: c->cgroup_clone = value; break;
      default: die("config", "unknown record tag %d", tag);
    }
  }
  free(raw);
  /* argv and env end with the NULL slot list_of left after the last item. */
  if (c->nargv == 0) die("config", "empty argv");
  if (c->nlower == 0 || !c->upper || !c->work || !c->rootfs) die("config", "incomplete rootfs");
  return 0;
}
