// vigil::plugin — a header-only C++ wrapper over the C plugin ABI of
// <vigil/plugin.h>.
//
// Derive from vigil::plugin::Rule (or Decoder), give the class a static
// kName (and optionally kVersion, kDescription and a kConfig array of
// vigil_config_key), and export it with VIGIL_PLUGIN(MyRule):
//
//   class Spike : public vigil::plugin::Rule {
//    public:
//     static constexpr const char* kName = "spike";
//     explicit Spike(const vigil::plugin::Host& host)
//         : Rule(host), field_(host.Field("temp")), limit_(host.NumberOr("limit", 30)) {}
//     void OnEvent(const vigil::plugin::Event& e, vigil::plugin::Emitter& emit) override {
//       if (auto v = e.field(field_)) *v > limit_ ? emit.Raise(e.key(), e.ts(), *v) : emit.Clear(e.key(), e.ts(), *v);
//     }
//    private:
//     int32_t field_;
//     double limit_;
//   };
//   VIGIL_PLUGIN(Spike)
//
// The macro generates the C trampolines: every exception thrown by the
// class (constructor included) is caught there and becomes VIGIL_ERROR with
// its what() as the reason, so no exception ever crosses the C boundary.
// Throw vigil::plugin::Error for a clean message. Thread-safety: as in
// plugin.h (one instance per shard, called from one thread at a time).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "vigil/plugin.h"

namespace vigil::plugin {

// What a plugin throws to refuse a configuration or report a run-time error.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// vigil's function table and this instance's context.
class Host {
 public:
  Host(const vigil_host* host, vigil_host_ctx* ctx) : host_(host), ctx_(ctx) {}

  std::optional<double> Number(const char* key) const {
    double v = 0;
    return host_->config_number(ctx_, key, &v) ? std::optional<double>(v) : std::nullopt;
  }
  double NumberOr(const char* key, double fallback) const { return Number(key).value_or(fallback); }
  std::optional<std::string_view> String(const char* key) const {
    vigil_string s{nullptr, 0};
    return host_->config_string(ctx_, key, &s) ? std::optional<std::string_view>(std::string_view(s.data, s.len))
                                               : std::nullopt;
  }
  std::string_view StringOr(const char* key, std::string_view fallback) const {
    return String(key).value_or(fallback);
  }
  std::optional<bool> Bool(const char* key) const {
    int32_t v = 0;
    return host_->config_bool(ctx_, key, &v) ? std::optional<bool>(v != 0) : std::nullopt;
  }

  // The index of a numeric field for Event::field (call in the constructor).
  int32_t Field(std::string_view name) const {
    const int32_t i = host_->field_index(ctx_, name.data(), name.size());
    if (i < 0) throw Error("field '" + std::string(name) + "' is not available");
    return i;
  }
  // The index of a tag for Event::tag (call in the constructor).
  int32_t Tag(std::string_view name) const {
    const int32_t i = host_->tag_index(ctx_, name.data(), name.size());
    if (i < 0) throw Error("tag '" + std::string(name) + "' is not available");
    return i;
  }
  // The i-th tag value of the rule's key for `key` (empty when unknown).
  std::string_view KeyTag(uint64_t key, uint32_t i) const {
    vigil_string s{nullptr, 0};
    return host_->key_tag(ctx_, key, i, &s) ? std::string_view(s.data, s.len) : std::string_view();
  }
  void SetTimer(int64_t ts_ms) const { host_->set_timer(ctx_, ts_ms); }
  void MarkChanged(uint64_t key) const { host_->mark_changed(ctx_, key); }
  void Log(vigil_log_level level, std::string_view message) const {
    host_->log(ctx_, level, message.data(), message.size());
  }

  const vigil_host* raw() const { return host_; }
  vigil_host_ctx* ctx() const { return ctx_; }

 private:
  const vigil_host* host_;
  vigil_host_ctx* ctx_;
};

// A message, as on_event sees it (valid during OnEvent only).
class Event {
 public:
  Event(const vigil_host* host, const vigil_event* event) : host_(host), event_(event) {}
  int64_t ts() const { return host_->event_ts(event_); }
  uint64_t key() const { return host_->event_key(event_); }
  std::optional<double> field(int32_t index) const {
    double v = 0;
    return host_->event_field(event_, index, &v) ? std::optional<double>(v) : std::nullopt;
  }
  std::optional<std::string_view> tag(int32_t index) const {
    vigil_string s{nullptr, 0};
    return host_->event_tag(event_, index, &s) ? std::optional<std::string_view>(std::string_view(s.data, s.len))
                                              : std::nullopt;
  }

 private:
  const vigil_host* host_;
  const vigil_event* event_;
};

// Raises and clears alerts (valid during the call it is passed to).
class Emitter {
 public:
  Emitter(const vigil_host* host, vigil_emitter* emitter) : host_(host), emitter_(emitter) {}
  void Raise(uint64_t key, int64_t ts_ms, double value = std::numeric_limits<double>::quiet_NaN()) {
    host_->emit(emitter_, key, VIGIL_ALERT_RAISE, ts_ms, value);
  }
  void Clear(uint64_t key, int64_t ts_ms, double value = std::numeric_limits<double>::quiet_NaN()) {
    host_->emit(emitter_, key, VIGIL_ALERT_CLEAR, ts_ms, value);
  }

 private:
  const vigil_host* host_;
  vigil_emitter* emitter_;
};

// Snapshot bytes of one key. Put() writes trivially copyable values in the
// host's byte order (vigil state is not moved between architectures).
class Buffer {
 public:
  Buffer(const vigil_host* host, vigil_buffer* buffer) : host_(host), buffer_(buffer) {}
  void Append(const void* data, size_t len) { host_->buffer_append(buffer_, data, len); }
  template <typename T>
  void Put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>, "Put() takes trivially copyable values");
    Append(&value, sizeof value);
  }

 private:
  const vigil_host* host_;
  vigil_buffer* buffer_;
};

// Reads what Buffer wrote; throws Error when the bytes run out.
class Reader {
 public:
  Reader(const void* data, size_t len) : p_(static_cast<const char*>(data)), left_(len) {}
  template <typename T>
  T Get() {
    static_assert(std::is_trivially_copyable_v<T>, "Get() returns trivially copyable values");
    T value;
    if (left_ < sizeof value) throw Error("snapshot is shorter than expected");
    std::memcpy(&value, p_, sizeof value);
    p_ += sizeof value;
    left_ -= sizeof value;
    return value;
  }
  size_t remaining() const { return left_; }

 private:
  const char* p_;
  size_t left_;
};

// Fields of a decoded payload (valid during Decode only).
class Fields {
 public:
  Fields(const vigil_host* host, vigil_fields_out* out) : host_(host), out_(out) {}
  void Set(std::string_view name, double value) { host_->out_field(out_, name.data(), name.size(), value); }
  void SetTag(std::string_view name, std::string_view value) {
    host_->out_tag(out_, name.data(), name.size(), value.data(), value.size());
  }

 private:
  const vigil_host* host_;
  vigil_fields_out* out_;
};

// Base of rule plugins: one object per shard.
class Rule {
 public:
  explicit Rule(const Host& host) : host_(host) {}
  virtual ~Rule() = default;
  virtual void OnEvent(const Event& event, Emitter& emit) = 0;
  // The watermark reached a time asked with host().SetTimer.
  virtual void OnWatermark(int64_t watermark_ms, Emitter& emit) {}
  // Appends the state of `key` (nothing: no state worth keeping).
  virtual void Snapshot(uint64_t key, Buffer& out) {}
  // Reads back what Snapshot wrote, after a restart (throw on bad bytes).
  virtual void Restore(uint64_t key, Reader& in) {}
  // vigil evicted `key` after engine.key_ttl of silence.
  virtual void Forget(uint64_t key) {}

 protected:
  const Host& host() const { return host_; }

 private:
  Host host_;
};

// Base of decoder plugins: one object per source reader.
class Decoder {
 public:
  explicit Decoder(const Host& host) : host_(host) {}
  virtual ~Decoder() = default;
  // Decodes `payload` into `out`; throw to reject the message.
  virtual void Decode(std::string_view payload, Fields& out) = 0;

 protected:
  const Host& host() const { return host_; }

 private:
  Host host_;
};

namespace detail {

struct Instance {
  const vigil_host* host;
  vigil_host_ctx* ctx;
  void* object;  // the plugin class
};

inline int32_t Fail(const Instance* in, const char* what) {
  in->host->set_error(in->ctx, what, std::strlen(what));
  return VIGIL_ERROR;
}

// Runs `f`, turning every exception into VIGIL_ERROR with its reason.
template <typename F>
int32_t Guard(const Instance* in, F&& f) noexcept {
  try {
    f();
    return VIGIL_OK;
  } catch (const std::exception& e) {
    return Fail(in, e.what());
  } catch (...) {
    return Fail(in, "unknown exception");
  }
}

template <typename T, typename = void>
struct HasConfig : std::false_type {};
template <typename T>
struct HasConfig<T, std::void_t<decltype(T::kConfig)>> : std::true_type {};
template <typename T, typename = void>
struct HasVersion : std::false_type {};
template <typename T>
struct HasVersion<T, std::void_t<decltype(T::kVersion)>> : std::true_type {};
template <typename T, typename = void>
struct HasDescription : std::false_type {};
template <typename T>
struct HasDescription<T, std::void_t<decltype(T::kDescription)>> : std::true_type {};

template <typename T>
void* Create(const char* /*config_json*/, size_t /*len*/, const vigil_host* host, vigil_host_ctx* ctx) noexcept {
  auto* in = new (std::nothrow) Instance{host, ctx, nullptr};
  if (in == nullptr) return nullptr;
  const int32_t rc = Guard(in, [&] { in->object = new T(Host(host, ctx)); });
  if (rc != VIGIL_OK) {
    delete in;
    return nullptr;
  }
  return in;
}

template <typename T>
void Destroy(void* instance) noexcept {
  auto* in = static_cast<Instance*>(instance);
  try {
    delete static_cast<T*>(in->object);
  } catch (...) {
  }
  delete in;
}

template <typename T>
T& Object(void* instance) {
  return *static_cast<T*>(static_cast<Instance*>(instance)->object);
}

template <typename T>
int32_t OnEvent(void* instance, const vigil_event* event, vigil_emitter* emitter) noexcept {
  auto* in = static_cast<Instance*>(instance);
  return Guard(in, [&] {
    Emitter emit(in->host, emitter);
    Object<T>(instance).OnEvent(Event(in->host, event), emit);
  });
}

template <typename T>
int32_t OnWatermark(void* instance, int64_t watermark_ms, vigil_emitter* emitter) noexcept {
  auto* in = static_cast<Instance*>(instance);
  return Guard(in, [&] {
    Emitter emit(in->host, emitter);
    Object<T>(instance).OnWatermark(watermark_ms, emit);
  });
}

template <typename T>
int32_t Snapshot(void* instance, uint64_t key, vigil_buffer* out) noexcept {
  auto* in = static_cast<Instance*>(instance);
  return Guard(in, [&] {
    Buffer buffer(in->host, out);
    Object<T>(instance).Snapshot(key, buffer);
  });
}

template <typename T>
int32_t Restore(void* instance, uint64_t key, const void* data, size_t len) noexcept {
  auto* in = static_cast<Instance*>(instance);
  return Guard(in, [&] {
    Reader reader(data, len);
    Object<T>(instance).Restore(key, reader);
  });
}

template <typename T>
void Forget(void* instance, uint64_t key) noexcept {
  auto* in = static_cast<Instance*>(instance);
  (void)Guard(in, [&] { Object<T>(instance).Forget(key); });
}

template <typename T>
int32_t Decode(void* instance, const void* data, size_t len, vigil_fields_out* out) noexcept {
  auto* in = static_cast<Instance*>(instance);
  return Guard(in, [&] {
    Fields fields(in->host, out);
    Object<T>(instance).Decode(std::string_view(static_cast<const char*>(data), len), fields);
  });
}

// The descriptor of plugin class T (static storage).
template <typename T>
const vigil_plugin_descriptor* Describe() noexcept {
  static const vigil_plugin_descriptor d = [] {
    vigil_plugin_descriptor x;
    std::memset(&x, 0, sizeof x);
    x.struct_size = sizeof(vigil_plugin_descriptor);
    x.abi_version = VIGIL_PLUGIN_ABI_VERSION;
    x.name = T::kName;
    if constexpr (HasVersion<T>::value) x.version = T::kVersion;
    if constexpr (HasDescription<T>::value) x.description = T::kDescription;
    if constexpr (HasConfig<T>::value) {
      x.config_keys = T::kConfig;
      x.config_key_count = static_cast<uint32_t>(sizeof(T::kConfig) / sizeof(T::kConfig[0]));
    }
    x.create = &Create<T>;
    x.destroy = &Destroy<T>;
    if constexpr (std::is_base_of_v<Rule, T>) {
      x.kind = VIGIL_PLUGIN_RULE;
      x.on_event = &OnEvent<T>;
      x.on_watermark = &OnWatermark<T>;
      x.snapshot = &Snapshot<T>;
      x.restore = &Restore<T>;
      x.forget = &Forget<T>;
    } else {
      static_assert(std::is_base_of_v<Decoder, T>, "a plugin class derives from vigil::plugin::Rule or Decoder");
      x.kind = VIGIL_PLUGIN_DECODER;
      x.decode = &Decode<T>;
    }
    return x;
  }();
  return &d;
}

}  // namespace detail
}  // namespace vigil::plugin

// Exports plugin class `Class` as this library's plugin.
#define VIGIL_PLUGIN(Class)                                                          \
  extern "C" VIGIL_PLUGIN_EXPORT const vigil_plugin_descriptor* vigil_plugin_entry(void) { \
    return ::vigil::plugin::detail::Describe<Class>();                               \
  }
