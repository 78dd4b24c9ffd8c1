// scanDirectory(path, withXattrs): every entry of one directory with its lstat, in one
// synchronous call on the calling thread. Walks of a build context or a snapshot cost a
// readdir plus an lstat per entry; through node:fs each lstat is a JS call and a
// BigIntStats object (~5 µs and GC), here it is one fstatat (~2.5 µs) and a row of doubles.
// Synchronous on purpose: a libuv thread hop per directory cost more than it saved.
//
// Result: { names: string[], stats: Float64Array, stride: number }. Entry i's numbers
// are stats[i * stride + field] with the fields below; runtime/scanned-directory.ts
// reads the same layout (and checks `stride`, so a stale build fails loudly).
#include <napi.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

// The layout of one entry; keep in step with FIELD in runtime/scanned-directory.ts.
// 64-bit dev and ino are split into 32-bit halves so JS can print them exactly; times
// are seconds and nanoseconds apart for the same reason.
constexpr size_t kMode = 0, kNlink = 1, kUid = 2, kGid = 3, kSize = 4, kDevHi = 5, kDevLo = 6, kInoHi = 7,
                 kInoLo = 8, kRdevMajor = 9, kRdevMinor = 10, kAtimeSec = 11, kAtimeNsec = 12, kMtimeSec = 13,
                 kMtimeNsec = 14, kCtimeSec = 15, kCtimeNsec = 16, kXattrBytes = 17, kFlags = 18, kStride = 19;
// kFlags bits.
constexpr double kNameNotUtf8 = 1;

// Errors shaped like node:fs errors (as ThrowErrno in fs_addon.cc), with Node's names:
// "scandir" for the directory itself, "lstat" for an entry, as readdirSync/lstatSync say.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& path) {
  // libuv calls EOPNOTSUPP (the same number) ENOTSUP, and so does fs_addon.cc.
  const char* code = err == ENOTSUP ? "ENOTSUP" : strerrorname_np(err);
  if (code == nullptr) code = "EUNKNOWN";
  std::string message = std::string(code) + ": " + strerror(err) + ", " + syscall + " '" + path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.Set("path", Napi::String::New(env, path));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF): exactly the
// names that survive a round trip through a JS string. Layer tars refuse the others.
bool IsUtf8(const unsigned char* s, size_t n) {
  for (size_t i = 0; i < n;) {
    unsigned c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07, min = 0x10000;
    else return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; k++) {
      unsigned d = s[i + k];
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

void Pack(double* f, const struct stat& st, double xattrBytes, bool utf8) {
  uint64_t dev = st.st_dev, ino = st.st_ino;
  f[kMode] = st.st_mode;
  f[kNlink] = static_cast<double>(st.st_nlink);
  f[kUid] = st.st_uid;
  f[kGid] = st.st_gid;
  f[kSize] = static_cast<double>(st.st_size);
  f[kDevHi] = static_cast<double>(dev >> 32);
  f[kDevLo] = static_cast<double>(dev & 0xFFFFFFFFu);
  f[kInoHi] = static_cast<double>(ino >> 32);
  f[kInoLo] = static_cast<double>(ino & 0xFFFFFFFFu);
  f[kRdevMajor] = major(st.st_rdev);
  f[kRdevMinor] = minor(st.st_rdev);
  f[kAtimeSec] = static_cast<double>(st.st_atim.tv_sec);
  f[kAtimeNsec] = static_cast<double>(st.st_atim.tv_nsec);
  f[kMtimeSec] = static_cast<double>(st.st_mtim.tv_sec);
  f[kMtimeNsec] = static_cast<double>(st.st_mtim.tv_nsec);
  f[kCtimeSec] = static_cast<double>(st.st_ctim.tv_sec);
  f[kCtimeNsec] = static_cast<double>(st.st_ctim.tv_nsec);
  f[kXattrBytes] = xattrBytes;
  f[kFlags] = utf8 ? 0 : kNameNotUtf8;
}

Napi::Value ScanDirectory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsBoolean()) {
    Napi::TypeError::New(env, "scanDirectory(path, withXattrs)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  bool withXattrs = info[1].As<Napi::Boolean>().Value();

  // No O_NOFOLLOW: a symlink as the last component is followed, as opendir(3) and
  // readdirSync do. Callers pass directories they have just lstat'd, or mean the target
  // (a context directory given as a link); entries themselves are never followed.
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "scandir", path);
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "scandir", path);
  }

  // llistxattr has no *at form that works on symlinks, so it takes "path/name".
  std::string full = path;
  if (full.empty() || full.back() != '/') full += '/';
  const size_t base = full.size();
  std::string names;  // every name, each followed by a NUL
  std::vector<size_t> ends;
  std::vector<double> stats;
  int err = 0;
  const char* failed = nullptr;  // the syscall, and below the path, of the first failure
  const std::string* failedPath = &path;
  for (;;) {
    errno = 0;
    struct dirent* ent = readdir(dir);
    if (ent == nullptr) {
      if (errno != 0) err = errno, failed = "scandir";
      break;
    }
    const char* name = ent->d_name;
    if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
    size_t len = strlen(name);
    full.resize(base);
    full.append(name, len);
    struct stat st;
    if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      // Removed between readdir and fstatat: as if the directory had been read a moment later.
      if (errno == ENOENT) continue;
      err = errno, failed = "lstat", failedPath = &full;
      break;
    }
    double xattrBytes = 0;
    if (withXattrs) {
      ssize_t size = llistxattr(full.c_str(), nullptr, 0);
      if (size < 0) {
        if (errno == ENOENT) continue;
        // A filesystem without xattrs has none to report.
        if (errno != ENOTSUP) {
          err = errno, failed = "llistxattr", failedPath = &full;
          break;
        }
        size = 0;
      }
      xattrBytes = static_cast<double>(size);
    }
    stats.resize(stats.size() + kStride);
    Pack(stats.data() + stats.size() - kStride, st, xattrBytes,
         IsUtf8(reinterpret_cast<const unsigned char*>(name), len));
    names.append(name, len + 1);
    ends.push_back(names.size() - 1);
  }
  closedir(dir);
  if (err != 0) return ThrowErrno(env, err, failed, *failedPath);

  size_t count = ends.size();
  Napi::Array nameArray = Napi::Array::New(env, count);
  for (size_t i = 0, start = 0; i < count; start = ends[i] + 1, i++)
    nameArray.Set(static_cast<uint32_t>(i), Napi::String::New(env, names.data() + start, ends[i] - start));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, stats.size() * sizeof(double));
  if (!stats.empty()) memcpy(buffer.Data(), stats.data(), stats.size() * sizeof(double));
  Napi::Object result = Napi::Object::New(env);
  result.Set("names", nameArray);
  result.Set("stats", Napi::Float64Array::New(env, stats.size(), buffer, 0));
  result.Set("stride", Napi::Number::New(env, static_cast<double>(kStride)));
  return result;
}

}  // namespace

// Called from the addon's Init in fs_addon.cc.
void RegisterScanDirectory(Napi::Env env, Napi::Object exports) {
  exports.Set("scanDirectory", Napi::Function::New(env, ScanDirectory));
}
