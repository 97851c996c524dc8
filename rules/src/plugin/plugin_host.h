// The host side of <vigil/plugin.h>: the definitions of the opaque handle
// types and the vigil_host function table every plugin receives.
//
// vigil_host_ctx is the per-instance context; what a call may do depends on
// where the instance lives (validation at load, a rule shard, a decoder),
// so its behaviour is virtual. The function table is a constant: it holds
// no state, every call reaches state through its handle argument.
//
// Thread-safety: a context belongs to one instance and is used from the
// thread that calls that instance.
#pragma once

#include <string>
#include <string_view>

#include "plugin/plugin_config.h"
#include "vigil/engine/event.h"
#include "vigil/engine/payload_decoder.h"
#include "vigil/engine/tag_interner.h"
#include "vigil/plugin.h"

struct vigil_host_ctx {
  explicit vigil_host_ctx(const vigil::rules::PluginConfig* c) : config(c) {}
  virtual ~vigil_host_ctx() = default;

  virtual int32_t FieldIndex(std::string_view name) = 0;
  virtual int32_t TagIndex(std::string_view name) = 0;
  virtual bool KeyTag(uint64_t key, uint32_t i, vigil_string* out) { return false; }
  virtual void SetTimer(int64_t ts_ms) {}
  virtual void MarkChanged(uint64_t key) {}
  virtual void Log(vigil_log_level level, std::string_view message) = 0;

  const vigil::rules::PluginConfig* config;
  std::string error;  // set_error of the current call
};

struct vigil_event {
  const vigil::Event* event;
  vigil::KeyId key;
  const vigil::TagInterner* tags;
  uint32_t field_count;
  uint32_t tag_count;
};

struct vigil_emitter {
  virtual ~vigil_emitter() = default;
  virtual void Emit(uint64_t key, vigil_alert_state state, int64_t ts_ms, double value) = 0;
};

struct vigil_buffer {
  std::string* bytes;
};

struct vigil_fields_out {
  vigil::DecodedFields* out;
};

namespace vigil::rules {

// The function table handed to every plugin (static storage, immutable).
const vigil_host* PluginHostTable();

}  // namespace vigil::rules
