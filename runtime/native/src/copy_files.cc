// Batched file copies and hard links for COPY, on libuv threads.
//
// A COPY of a 20k-file context is 20k inode creations: from Node each file cost
// eight path-based calls (copyFile's open/fstat/open/fstat/fchmod/sendfile, then
// lchown, chmod, utimes), ~90 µs of the main thread per file. Here one call takes
// a directory's worth of files, opens them relative to their directories and sets
// ownership, mode and times on the open descriptor, on a libuv thread, while the
// main thread walks on. Deciding what to copy stays in TypeScript
// (worker/fileop/batch-writer.ts); these only do it.
#include <napi.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

// Per file in copyFiles' attributes: uid, gid, mode, atime s, atime ns, mtime s, mtime ns.
constexpr size_t kAttributeStride = 7;
constexpr size_t kCopyBuffer = 256 * 1024;

struct Failure {
  int err = 0;
  const char* syscall = "";
  std::string path;
};

class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Copies the bytes of `in` to `out`: copy_file_range where the filesystems allow it
// (no trip through user space), read/write otherwise.
bool CopyBytes(int in, int out, std::vector<char>& buffer, const char** syscall) {
  bool ranged = true;
  for (;;) {
    if (ranged) {
      ssize_t n = copy_file_range(in, nullptr, out, nullptr, kCopyBuffer * 16, 0);
      if (n > 0) continue;
      if (n == 0) return true;
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        *syscall = "copy_file_range";
        return false;
      }
      ranged = false;  // nothing was copied by the failed call: go on from the same offsets
    }
    if (buffer.empty()) buffer.resize(kCopyBuffer);
    ssize_t n = read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *syscall = "read";
      return false;
    }
    if (n == 0) return true;
    for (ssize_t written = 0; written < n;) {
      ssize_t w = write(out, buffer.data() + written, static_cast<size_t>(n - written));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        *syscall = "write";
        return false;
      }
      written += w;
    }
  }
}

// Rejects with an error shaped like node:fs errors (code, errno, syscall, path).
void RejectWith(Napi::Env env, Napi::Promise::Deferred& deferred, const Failure& failure) {
  // libuv calls EOPNOTSUPP (the same number) ENOTSUP.
  const char* code = failure.err == ENOTSUP ? "ENOTSUP" : strerrorname_np(failure.err);
  if (code == nullptr) code = "EUNKNOWN";
  std::string message = std::string(code) + ": " + strerror(failure.err) + ", " + failure.syscall + " '" +
                        failure.path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -failure.err));
  error.Set("syscall", Napi::String::New(env, failure.syscall));
  error.Set("path", Napi::String::New(env, failure.path));
  deferred.Reject(error.Value());
}

// copyFiles(sourceDir, targetDir, names, attributes): names[i] in sourceDir, a regular
// file, becomes a new file names[i] in targetDir (which must not exist yet) with the
// i-th uid, gid, mode and times. The first failure rejects, naming the file.
class CopyFilesWorker : public Napi::AsyncWorker {
 public:
  CopyFilesWorker(Napi::Env env, std::string source, std::string target, std::vector<std::string> names,
                  std::vector<double> attributes)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        source_(std::move(source)),
        target_(std::move(target)),
        names_(std::move(names)),
        attributes_(std::move(attributes)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    ScopedFd sourceDir(open(source_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (sourceDir.get() < 0) {
      Fail(errno, "open", source_);
      return;
    }
    ScopedFd targetDir(open(target_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (targetDir.get() < 0) {
      Fail(errno, "open", target_);
      return;
    }
    std::vector<char> buffer;
    for (size_t i = 0; i < names_.size(); i++) {
      if (!CopyOne(sourceDir.get(), targetDir.get(), names_[i], &attributes_[i * kAttributeStride], buffer)) return;
    }
  }

  void OnOK() override {
    if (failure_.err != 0) {
      RejectWith(Env(), deferred_, failure_);
      return;
    }
    deferred_.Resolve(Env().Undefined());
  }

 private:
  bool CopyOne(int sourceDir, int targetDir, const std::string& name, const double* attributes,
               std::vector<char>& buffer) {
    // O_NONBLOCK: a source swapped for a FIFO since its lstat must not hang the thread.
    ScopedFd in(openat(sourceDir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (in.get() < 0) return Fail(errno, "open", source_ + "/" + name);
    struct stat stats;
    if (fstat(in.get(), &stats) != 0) return Fail(errno, "fstat", source_ + "/" + name);
    if (!S_ISREG(stats.st_mode)) return Fail(EINVAL, "open", source_ + "/" + name);
    ScopedFd out(openat(targetDir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0) return Fail(errno, "open", target_ + "/" + name);
    const char* syscall = "";
    if (!CopyBytes(in.get(), out.get(), buffer, &syscall)) return Fail(errno, syscall, target_ + "/" + name);
    // chown before chmod: chown clears the setuid and setgid bits.
    if (fchown(out.get(), static_cast<uid_t>(attributes[0]), static_cast<gid_t>(attributes[1])) != 0)
      return Fail(errno, "fchown", target_ + "/" + name);
    if (fchmod(out.get(), static_cast<mode_t>(attributes[2])) != 0) return Fail(errno, "fchmod", target_ + "/" + name);
    struct timespec times[2];
    times[0].tv_sec = static_cast<time_t>(attributes[3]);
    times[0].tv_nsec = static_cast<long>(attributes[4]);
    times[1].tv_sec = static_cast<time_t>(attributes[5]);
    times[1].tv_nsec = static_cast<long>(attributes[6]);
    if (futimens(out.get(), times) != 0) return Fail(errno, "futimens", target_ + "/" + name);
    return true;
  }

  bool Fail(int err, const char* syscall, const std::string& path) {
    failure_ = Failure{err, syscall, path};
    return false;
  }

  Napi::Promise::Deferred deferred_;
  std::string source_;
  std::string target_;
  std::vector<std::string> names_;
  std::vector<double> attributes_;
  Failure failure_;
};

// linkFiles(fromDir, toDir, names): hard links fromDir/names[i] as toDir/names[i].
// Resolves to one errno per name (0 = linked): a link that cannot be made (the source
// gone, too many links) is the caller's to copy instead, so it is not an error here.
class LinkFilesWorker : public Napi::AsyncWorker {
 public:
  LinkFilesWorker(Napi::Env env, std::string from, std::string to, std::vector<std::string> names)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        from_(std::move(from)),
        to_(std::move(to)),
        names_(std::move(names)) {}

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    ScopedFd fromDir(open(from_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ScopedFd toDir(open(to_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (toDir.get() < 0) {
      failure_ = Failure{errno, "open", to_};
      return;
    }
    results_.assign(names_.size(), fromDir.get() < 0 ? errno : 0);
    if (fromDir.get() < 0) return;
    for (size_t i = 0; i < names_.size(); i++) {
      if (linkat(fromDir.get(), names_[i].c_str(), toDir.get(), names_[i].c_str(), 0) != 0) results_[i] = errno;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.err != 0) {
      RejectWith(env, deferred_, failure_);
      return;
    }
    Napi::Array results = Napi::Array::New(env, results_.size());
    for (size_t i = 0; i < results_.size(); i++) results.Set(i, Napi::Number::New(env, results_[i]));
    deferred_.Resolve(results);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string from_;
  std::string to_;
  std::vector<std::string> names_;
  std::vector<int> results_;
  Failure failure_;
};

bool ReadNames(const Napi::Value& value, std::vector<std::string>* names) {
  if (!value.IsArray()) return false;
  Napi::Array array = value.As<Napi::Array>();
  names->reserve(array.Length());
  for (uint32_t i = 0; i < array.Length(); i++) {
    Napi::Value name = array.Get(i);
    if (!name.IsString()) return false;
    names->push_back(name.As<Napi::String>().Utf8Value());
  }
  return true;
}

Napi::Value CopyFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names;
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !ReadNames(info[2], &names) ||
      !info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    Napi::TypeError::New(env, "copyFiles(sourceDir, targetDir, names, attributes: Float64Array)")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array attributes = info[3].As<Napi::Float64Array>();
  if (attributes.ElementLength() != names.size() * kAttributeStride) {
    Napi::TypeError::New(env, "copyFiles: attributes must hold 7 numbers per name").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<double> copied(attributes.Data(), attributes.Data() + attributes.ElementLength());
  auto* worker = new CopyFilesWorker(env, info[0].As<Napi::String>().Utf8Value(),
                                     info[1].As<Napi::String>().Utf8Value(), std::move(names), std::move(copied));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value LinkFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names;
  if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !ReadNames(info[2], &names)) {
    Napi::TypeError::New(env, "linkFiles(fromDir, toDir, names)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* worker = new LinkFilesWorker(env, info[0].As<Napi::String>().Utf8Value(),
                                     info[1].As<Napi::String>().Utf8Value(), std::move(names));
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void RegisterCopyFiles(Napi::Env env, Napi::Object exports) {
  exports.Set("copyFiles", Napi::Function::New(env, CopyFiles));
  exports.Set("linkFiles", Napi::Function::New(env, LinkFiles));
}
