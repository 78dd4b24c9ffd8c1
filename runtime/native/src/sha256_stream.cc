// SHA-256 of a byte stream, hashed on libuv threads.
//
// A layer's diffID is the SHA-256 of its whole uncompressed tar: ~120 MB for a
// 20k-file context, about a tenth of a second that node:crypto can only spend on
// the thread that also makes the tar. Here each update runs on a libuv thread
// while the main thread goes on with the next chunk. Updates must not overlap
// (runtime/sha256-stream.ts chains them). The OpenSSL used is node's own, whose
// symbols node exports for addons, so nothing more is linked.
#include <napi.h>
#include <openssl/evp.h>

namespace {

struct Sha256State {
  EVP_MD_CTX* ctx = nullptr;
  bool busy = false;
  bool finished = false;

  ~Sha256State() { EVP_MD_CTX_free(ctx); }
};

using StateHandle = Napi::External<Sha256State>;

Sha256State* StateArg(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
    return nullptr;
  }
  Sha256State* state = info[0].As<StateHandle>().Data();
  if (state->busy || state->finished) {
    const char* why = state->busy ? "the previous update has not finished" : "the digest was already taken";
    Napi::Error::New(info.Env(), std::string(usage) + ": " + why).ThrowAsJavaScriptException();
    return nullptr;
  }
  return state;
}

class UpdateWorker : public Napi::AsyncWorker {
 public:
  UpdateWorker(Napi::Env env, Napi::Value handle, Sha256State* state, Napi::Uint8Array bytes)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        state_(state),
        data_(bytes.Data()),
        length_(bytes.ByteLength()) {
    // Both stay alive until the thread is done: the state, and the bytes it reads.
    handle_ = Napi::Persistent(handle);
    bytes_ = Napi::Persistent(bytes.As<Napi::Object>());
    state_->busy = true;
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (EVP_DigestUpdate(state_->ctx, data_, length_) != 1) SetError("EVP_DigestUpdate failed");
  }

  void OnOK() override {
    state_->busy = false;
    deferred_.Resolve(Env().Undefined());
  }

  void OnError(const Napi::Error& error) override {
    state_->busy = false;
    deferred_.Reject(error.Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Value> handle_;
  Napi::ObjectReference bytes_;
  Sha256State* state_;
  const uint8_t* data_;
  size_t length_;
};

// sha256Create(): a handle for sha256Update and sha256Digest.
Napi::Value Sha256Create(const Napi::CallbackInfo& info) {
  auto* state = new Sha256State();
  state->ctx = EVP_MD_CTX_new();
  if (state->ctx == nullptr || EVP_DigestInit_ex(state->ctx, EVP_sha256(), nullptr) != 1) {
    delete state;
    Napi::Error::New(info.Env(), "sha256Create: EVP_DigestInit_ex failed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  return StateHandle::New(info.Env(), state, [](Napi::Env, Sha256State* done) { delete done; });
}

// sha256Update(handle, bytes): hashes `bytes` on a libuv thread; they must not change until it resolves.
Napi::Value Sha256Update(const Napi::CallbackInfo& info) {
  const char* usage = "sha256Update(handle, bytes)";
  Sha256State* state = StateArg(info, usage);
  if (state == nullptr) return info.Env().Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(info.Env(), std::string(usage) + ": bytes must be a Uint8Array").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto* worker = new UpdateWorker(info.Env(), info[0], state, info[1].As<Napi::Uint8Array>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// sha256Digest(handle): the lowercase hex digest of everything hashed; ends the stream.
Napi::Value Sha256Digest(const Napi::CallbackInfo& info) {
  Sha256State* state = StateArg(info, "sha256Digest(handle)");
  if (state == nullptr) return info.Env().Undefined();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(state->ctx, digest, &length) != 1) {
    Napi::Error::New(info.Env(), "sha256Digest: EVP_DigestFinal_ex failed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  state->finished = true;
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; i++) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return Napi::String::New(info.Env(), hex);
}

}  // namespace

void RegisterSha256Stream(Napi::Env env, Napi::Object exports) {
  exports.Set("sha256Create", Napi::Function::New(env, Sha256Create));
  exports.Set("sha256Update", Napi::Function::New(env, Sha256Update));
  exports.Set("sha256Digest", Napi::Function::New(env, Sha256Digest));
}
