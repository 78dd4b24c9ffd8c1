import type { SeccompProfile } from './profile.js';

/*
 * Docker's default seccomp profile (moby profiles/seccomp/default.json), resolved for
 * x86_64 and Docker's 14 default capabilities, so only rules that apply to such a
 * container are kept: the capability-gated groups (CAP_SYS_ADMIN, SYS_PTRACE, …) are
 * absent because those capabilities are. research/sandbox.md §1.10 lists what this
 * blocks. As in current moby, io_uring is not allowed (CVE history), and AF_ALG
 * and AF_VSOCK sockets are refused.
 */
const ALWAYS_ALLOWED = `
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown
clock_adjtime clock_getres clock_gettime clock_nanosleep close close_range connect
copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old
epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fallocate fanotify_mark fchdir fchmod fchmodat
fchmodat2 fchown fchownat fcntl fdatasync fgetxattr flistxattr flock fork fremovexattr
fsetxattr fstat fstatfs fsync ftruncate futex futex_waitv futimesat getcpu getcwd getdents
getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresuid getrlimit get_robust_list getrusage getsid
getsockname getsockopt get_thread_area gettid gettimeofday getuid getxattr inotify_add_watch
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lgetxattr link linkat listen listxattr
llistxattr lremovexattr lseek lsetxattr lstat madvise membarrier memfd_create memfd_secret
mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mprotect mq_getsetattr
mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd
msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat open openat openat2
pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pwrite64 pwritev pwritev2
read readahead readlink readlinkat readv recvfrom recvmmsg recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop sendfile
sendmmsg sendmsg sendto setfsgid setfsuid setgid setgroups setitimer setpgid setpriority
setregid setresgid setresuid setreuid setrlimit set_robust_list setsid setsockopt
set_thread_area set_tid_address setuid setxattr shmat shmctl shmdt shmget shutdown
sigaltstack signalfd signalfd4 socketpair splice stat statfs statx symlink symlinkat sync
sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime times tkill
truncate umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4 waitid
write writev
ptrace process_vm_readv process_vm_writev
arch_prctl modify_ldt chroot
`;

const allow = { kind: 'allow' } as const;
const EPERM = 1;
const ENOSYS = 38;
/** Every CLONE_NEW* flag: clone may not create namespaces (no CAP_SYS_ADMIN). */
const CLONE_NAMESPACE_FLAGS = 0x7e020000n;

export const DOCKER_DEFAULT_PROFILE: SeccompProfile = {
  defaultErrno: EPERM,
  rules: [
    { names: ALWAYS_ALLOWED.trim().split(/\s+/), action: allow },
    {
      names: ['socket'],
      action: allow,
      args: [
        { index: 0, op: 'ne', value: 38n },
        { index: 0, op: 'ne', value: 40n },
      ],
    },
    ...[0n, 0x8n, 0x20000n, 0x20008n, 0xffffffffn].map((value) => ({
      names: ['personality'],
      action: allow,
      args: [{ index: 0, op: 'eq', value }] as const,
    })),
    {
      names: ['clone'],
      action: allow,
      args: [{ index: 0, op: 'masked-eq', mask: CLONE_NAMESPACE_FLAGS, value: 0n }],
    },
    // ENOSYS, not EPERM: glibc then falls back to clone, whose flags can be checked (§1.10).
    { names: ['clone3'], action: { kind: 'errno', errno: ENOSYS } },
  ],
};
