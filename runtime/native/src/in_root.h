/*
 * In-root path resolution: open a path as if `root` were "/", so that "..",
 * absolute symlinks and relative symlinks can never leave it (CVE-2021-30465,
 * CVE-2024-23652 class). Shared by the addon and the sandbox helper.
 */
#ifndef TBUILD_IN_ROOT_H
#define TBUILD_IN_ROOT_H

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for open_in_root. */
#define IN_ROOT_NOFOLLOW 1 /* do not follow a symlink in the final component */
#define IN_ROOT_FORCE_WALK 2 /* skip openat2 (tests the fallback walk) */

/*
 * Returns an O_PATH|O_CLOEXEC fd for `path` resolved inside the directory fd
 * `rootfd`, or -1 with errno set. Uses openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS) and falls back to a component-by-component walk with
 * O_NOFOLLOW opens when the kernel lacks openat2 (before 5.6).
 */
int open_in_root(int rootfd, const char *path, int flags);

#ifdef __cplusplus
}
#endif
#endif
