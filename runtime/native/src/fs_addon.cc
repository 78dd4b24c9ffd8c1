// The filesystem primitives Node lacks (research/sandbox.md §6.5): device nodes,
// xattrs on the link itself, mount/umount, and in-root path resolution. All calls
// are synchronous and cheap; failures throw errors shaped like node:fs errors
// (code, errno, syscall, path) so callers can branch on `code`.
#include <napi.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "in_root.h"

// scan_directory.cc
void RegisterScanDirectory(Napi::Env env, Napi::Object exports);
// copy_files.cc
void RegisterCopyFiles(Napi::Env env, Napi::Object exports);
// sha256_stream.cc
void RegisterSha256Stream(Napi::Env env, Napi::Object exports);

namespace {

const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ELOOP: return "ELOOP";
    case ENODATA: return "ENODATA";
    case ENOTSUP: return "ENOTSUP";
    case E2BIG: return "E2BIG";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    default: return "EUNKNOWN";
  }
}

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  std::string message = std::string(ErrnoName(err)) + ": " + strerror(err) + ", " + syscall;
  if (!path.empty()) message += " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, ErrnoName(err)));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  if (!path.empty()) error.Set("path", Napi::String::New(env, path));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool CheckArgs(const Napi::CallbackInfo& info, const char* types) {
  size_t n = strlen(types);
  for (size_t i = 0; i < n; i++) {
    bool ok = false;
    switch (types[i]) {
      case 's': ok = info[i].IsString(); break;
      case 'n': ok = info[i].IsNumber(); break;
      case 'b': ok = info[i].IsBuffer(); break;
    }
    if (!ok) {
      Napi::TypeError::New(info.Env(), std::string("bad argument ") + std::to_string(i))
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

std::string Str(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::String>().Utf8Value(); }
double Num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }

// mknod(path, mode, major, minor)
Napi::Value Mknod(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "snnn")) return info.Env().Undefined();
  std::string path = Str(info, 0);
  dev_t dev = makedev(static_cast<unsigned>(Num(info, 2)), static_cast<unsigned>(Num(info, 3)));
  if (mknod(path.c_str(), static_cast<mode_t>(Num(info, 1)), dev) != 0)
    return ThrowErrno(info.Env(), errno, "mknod", path);
  return info.Env().Undefined();
}

// lsetxattr(path, name, value: Buffer, flags)
Napi::Value Lsetxattr(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "ssbn")) return info.Env().Undefined();
  std::string path = Str(info, 0), name = Str(info, 1);
  Napi::Buffer<char> value = info[2].As<Napi::Buffer<char>>();
  if (lsetxattr(path.c_str(), name.c_str(), value.Data(), value.Length(), static_cast<int>(Num(info, 3))) != 0)
    return ThrowErrno(info.Env(), errno, "lsetxattr", path);
  return info.Env().Undefined();
}

// lgetxattr(path, name): Buffer | undefined (undefined when the attribute is absent)
Napi::Value Lgetxattr(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "ss")) return info.Env().Undefined();
  std::string path = Str(info, 0), name = Str(info, 1);
  for (;;) {
    ssize_t size = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (size < 0) {
      if (errno == ENODATA) return info.Env().Undefined();
      return ThrowErrno(info.Env(), errno, "lgetxattr", path);
    }
    std::vector<char> buffer(static_cast<size_t>(size) + 1);
    ssize_t got = lgetxattr(path.c_str(), name.c_str(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == ERANGE) continue;  // grew between the two calls
      if (errno == ENODATA) return info.Env().Undefined();
      return ThrowErrno(info.Env(), errno, "lgetxattr", path);
    }
    return Napi::Buffer<char>::Copy(info.Env(), buffer.data(), static_cast<size_t>(got));
  }
}

// llistxattr(path): string[]
Napi::Value Llistxattr(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "s")) return info.Env().Undefined();
  std::string path = Str(info, 0);
  for (;;) {
    ssize_t size = llistxattr(path.c_str(), nullptr, 0);
    if (size < 0) return ThrowErrno(info.Env(), errno, "llistxattr", path);
    std::vector<char> buffer(static_cast<size_t>(size) + 1);
    ssize_t got = llistxattr(path.c_str(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == ERANGE) continue;
      return ThrowErrno(info.Env(), errno, "llistxattr", path);
    }
    Napi::Array names = Napi::Array::New(info.Env());
    uint32_t index = 0;
    for (ssize_t start = 0; start < got;) {
      size_t len = strlen(buffer.data() + start);
      if (len > 0) names.Set(index++, Napi::String::New(info.Env(), buffer.data() + start, len));
      start += static_cast<ssize_t>(len) + 1;
    }
    return names;
  }
}

// lremovexattr(path, name)
Napi::Value Lremovexattr(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "ss")) return info.Env().Undefined();
  std::string path = Str(info, 0), name = Str(info, 1);
  if (lremovexattr(path.c_str(), name.c_str()) != 0)
    return ThrowErrno(info.Env(), errno, "lremovexattr", path);
  return info.Env().Undefined();
}

// mount(source, target, fstype, flags, data)
Napi::Value Mount(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "sssns")) return info.Env().Undefined();
  std::string source = Str(info, 0), target = Str(info, 1), fstype = Str(info, 2), data = Str(info, 4);
  unsigned long flags = static_cast<unsigned long>(Num(info, 3));
  if (mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
            data.empty() ? nullptr : data.c_str()) != 0)
    return ThrowErrno(info.Env(), errno, "mount", target);
  return info.Env().Undefined();
}

struct MountFromDir {
  std::string cwd, source, target, fstype, data;
  unsigned long flags;
  int err = 0;
  const char* syscall = "mount";
};

void* MountFromDirThread(void* arg) {
  auto* job = static_cast<MountFromDir*>(arg);
  // This thread's cwd becomes its own (the rest of the process keeps sharing one),
  // so the chdir cannot move a relative path another thread is resolving.
  if (unshare(CLONE_FS) != 0) {
    job->err = errno, job->syscall = "unshare";
  } else if (chdir(job->cwd.c_str()) != 0) {
    job->err = errno, job->syscall = "chdir";
  } else if (mount(job->source.c_str(), job->target.c_str(),
                   job->fstype.empty() ? nullptr : job->fstype.c_str(), job->flags,
                   job->data.empty() ? nullptr : job->data.c_str()) != 0) {
    job->err = errno;
  }
  return nullptr;
}

// mountFromDir(cwd, source, target, fstype, flags, data): mount(2) with relative paths in
// `data` resolved against `cwd` (an overlay's short lowerdirs, runtime/overlay-options.ts).
// process.chdir would move every libuv thread's relative lookups too, so the mount runs on
// a short-lived thread of its own with unshare(CLONE_FS): a private cwd on any kernel, where
// fsconfig's "lowerdir+" (one layer per call, no page limit) needs Linux 6.8. The caller
// waits for the thread, as for any synchronous call here: measured over 2,000 overlay
// mount+umount pairs, 0.20-0.28 ms each against 0.18-0.19 ms for a plain mount.
Napi::Value MountFromDirectory(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "ssssns")) return info.Env().Undefined();
  MountFromDir job;
  job.cwd = Str(info, 0);
  job.source = Str(info, 1);
  job.target = Str(info, 2);
  job.fstype = Str(info, 3);
  job.flags = static_cast<unsigned long>(Num(info, 4));
  job.data = Str(info, 5);
  pthread_t thread;
  int err = pthread_create(&thread, nullptr, MountFromDirThread, &job);
  if (err != 0) return ThrowErrno(info.Env(), err, "pthread_create", job.target);
  pthread_join(thread, nullptr);
  if (job.err != 0)
    return ThrowErrno(info.Env(), job.err, job.syscall, job.syscall[0] == 'c' ? job.cwd : job.target);
  return info.Env().Undefined();
}

// umount2(target, flags)
Napi::Value Umount2(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "sn")) return info.Env().Undefined();
  std::string target = Str(info, 0);
  if (umount2(target.c_str(), static_cast<int>(Num(info, 1))) != 0)
    return ThrowErrno(info.Env(), errno, "umount2", target);
  return info.Env().Undefined();
}

// openInRoot(root, path, flags): an O_PATH|O_CLOEXEC fd; the caller closes it.
Napi::Value OpenInRoot(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "ssn")) return info.Env().Undefined();
  std::string root = Str(info, 0), path = Str(info, 1);
  int rootfd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return ThrowErrno(info.Env(), errno, "open", root);
  int fd = open_in_root(rootfd, path.c_str(), static_cast<int>(Num(info, 2)));
  int err = errno;
  close(rootfd);
  if (fd < 0) return ThrowErrno(info.Env(), err, "openat2", path);
  return Napi::Number::New(info.Env(), fd);
}

// resolveInRoot(root, path, flags): the absolute host path of what `path` names.
Napi::Value ResolveInRoot(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "ssn")) return info.Env().Undefined();
  std::string root = Str(info, 0), path = Str(info, 1);
  int rootfd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return ThrowErrno(info.Env(), errno, "open", root);
  int fd = open_in_root(rootfd, path.c_str(), static_cast<int>(Num(info, 2)));
  int err = errno;
  close(rootfd);
  if (fd < 0) return ThrowErrno(info.Env(), err, "openat2", path);
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  err = errno;
  close(fd);
  if (n < 0) return ThrowErrno(info.Env(), err, "readlink", link);
  return Napi::String::New(info.Env(), target, static_cast<size_t>(n));
}

// closeFd(fd): closes an fd from openInRoot (node:fs warns when closing fds it did not open).
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  if (!CheckArgs(info, "n")) return info.Env().Undefined();
  if (close(static_cast<int>(Num(info, 0))) != 0) return ThrowErrno(info.Env(), errno, "close", "");
  return info.Env().Undefined();
}

// tryLockExclusive(fd): flock(fd, LOCK_EX | LOCK_NB). True when the lock is now held,
// false when another open file description holds it. Never blocks the event loop: a
// waiter polls, so cancelling the wait is only ceasing to poll (a blocking flock on a
// libuv thread could not be interrupted). The kernel drops the lock when the fd's last
// reference is closed, including when the process dies.
static Napi::Value TryLock(const Napi::CallbackInfo& info, int operation) {
  if (!CheckArgs(info, "n")) return info.Env().Undefined();
  int fd = static_cast<int>(Num(info, 0));
  for (;;) {
    if (flock(fd, operation | LOCK_NB) == 0) return Napi::Boolean::New(info.Env(), true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(info.Env(), false);
    return ThrowErrno(info.Env(), errno, "flock", "");
  }
}

Napi::Value TryLockExclusive(const Napi::CallbackInfo& info) { return TryLock(info, LOCK_EX); }

// tryLockShared(fd): flock(fd, LOCK_SH | LOCK_NB), the same way: many holders at once,
// none while an exclusive holder has it (the default network's users, runtime/network/).
Napi::Value TryLockShared(const Napi::CallbackInfo& info) { return TryLock(info, LOCK_SH); }

// readFilesAt(dirFd, names, limits, buffer): a promise of the byte counts read, on a
// libuv thread. File i is read (never following a final symlink) into the next
// limits[i] bytes of buffer, until its end or its slot is full. Layer tars read their
// small files this way, a directory at a time, while the main thread encodes headers.
class ReadFilesWorker : public Napi::AsyncWorker {
 public:
  ReadFilesWorker(Napi::Env env, int dir, std::vector<std::string> names, std::vector<size_t> limits,
                  Napi::Buffer<char> buffer)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        dir_(dir),
        names_(std::move(names)),
        limits_(std::move(limits)),
        data_(buffer.Data()),
        length_(buffer.Length()) {
    buffer_ = Napi::Persistent(buffer.As<Napi::Object>());
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    size_t offset = 0;
    counts_.reserve(names_.size());
    for (size_t i = 0; i < names_.size(); i++) {
      size_t limit = limits_[i];
      if (offset + limit > length_) {
        failed_ = i, err_ = EINVAL, syscall_ = "read";
        return;
      }
      int fd = openat(dir_, names_[i].c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      if (fd < 0) {
        failed_ = i, err_ = errno, syscall_ = "openat";
        return;
      }
      size_t filled = 0;
      while (filled < limit) {
        ssize_t n = read(fd, data_ + offset + filled, limit - filled);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          failed_ = i, err_ = errno, syscall_ = "read";
          close(fd);
          return;
        }
        if (n == 0) break;
        filled += static_cast<size_t>(n);
      }
      close(fd);
      counts_.push_back(filled);
      offset += limit;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      std::string name = names_[failed_];
      std::string message = std::string(ErrnoName(err_)) + ": " + strerror(err_) + ", " + syscall_ + " '" + name + "'";
      Napi::Error error = Napi::Error::New(env, message);
      error.Set("code", Napi::String::New(env, ErrnoName(err_)));
      error.Set("errno", Napi::Number::New(env, -err_));
      error.Set("syscall", Napi::String::New(env, syscall_));
      error.Set("path", Napi::String::New(env, name));
      deferred_.Reject(error.Value());
      return;
    }
    Napi::Array counts = Napi::Array::New(env, counts_.size());
    for (size_t i = 0; i < counts_.size(); i++) counts.Set(i, Napi::Number::New(env, static_cast<double>(counts_[i])));
    deferred_.Resolve(counts);
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference buffer_;  // keeps the buffer alive while a thread writes into it
  int dir_;
  std::vector<std::string> names_;
  std::vector<size_t> limits_;
  char* data_;
  size_t length_;
  std::vector<size_t> counts_;
  size_t failed_ = 0;
  int err_ = 0;
  const char* syscall_ = "";
};

Napi::Value ReadFilesAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsBuffer()) {
    Napi::TypeError::New(env, "readFilesAt(dirFd, names, limits, buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array names = info[1].As<Napi::Array>();
  Napi::Array limits = info[2].As<Napi::Array>();
  if (names.Length() != limits.Length()) {
    Napi::TypeError::New(env, "names and limits differ in length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<std::string> nameList;
  std::vector<size_t> limitList;
  nameList.reserve(names.Length());
  limitList.reserve(names.Length());
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value name = names.Get(i), limit = limits.Get(i);
    if (!name.IsString() || !limit.IsNumber()) {
      Napi::TypeError::New(env, "readFilesAt: names must be strings, limits numbers").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    nameList.push_back(name.As<Napi::String>().Utf8Value());
    limitList.push_back(static_cast<size_t>(limit.As<Napi::Number>().DoubleValue()));
  }
  auto* worker = new ReadFilesWorker(env, static_cast<int>(Num(info, 0)), std::move(nameList), std::move(limitList),
                                     info[3].As<Napi::Buffer<char>>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterScanDirectory(env, exports);
  RegisterCopyFiles(env, exports);
  RegisterSha256Stream(env, exports);
  exports.Set("readFilesAt", Napi::Function::New(env, ReadFilesAt));
  exports.Set("resolveInRoot", Napi::Function::New(env, ResolveInRoot));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("tryLockExclusive", Napi::Function::New(env, TryLockExclusive));
  exports.Set("tryLockShared", Napi::Function::New(env, TryLockShared));
  exports.Set("mknod", Napi::Function::New(env, Mknod));
  exports.Set("lsetxattr", Napi::Function::New(env, Lsetxattr));
  exports.Set("lgetxattr", Napi::Function::New(env, Lgetxattr));
  exports.Set("llistxattr", Napi::Function::New(env, Llistxattr));
  exports.Set("lremovexattr", Napi::Function::New(env, Lremovexattr));
  exports.Set("mount", Napi::Function::New(env, Mount));
  exports.Set("mountFromDir", Napi::Function::New(env, MountFromDirectory));
  exports.Set("umount2", Napi::Function::New(env, Umount2));
  exports.Set("openInRoot", Napi::Function::New(env, OpenInRoot));
  return exports;
}

}  // namespace

NODE_API_MODULE(tbuild_native, Init)
