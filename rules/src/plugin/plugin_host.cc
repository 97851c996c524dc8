// The vigil_host function table: thin C entry points onto the handles.
// Each function checks its handle and index arguments, since a plugin may
// pass anything.
#include "plugin/plugin_host.h"

#include <cmath>
#include <cstring>

namespace vigil::rules {

namespace {

int32_t ConfigNumber(vigil_host_ctx* ctx, const char* key, double* out) {
  if (ctx == nullptr || key == nullptr || out == nullptr) return 0;
  return ctx->config->Number(key, out) ? 1 : 0;
}

int32_t ConfigString(vigil_host_ctx* ctx, const char* key, vigil_string* out) {
  if (ctx == nullptr || key == nullptr || out == nullptr) return 0;
  const std::string* s = ctx->config->Scalar(key);
  if (s == nullptr) return 0;
  *out = {s->data(), s->size()};
  return 1;
}

int32_t ConfigBool(vigil_host_ctx* ctx, const char* key, int32_t* out) {
  bool b = false;
  if (ctx == nullptr || key == nullptr || out == nullptr || !ctx->config->Bool(key, &b)) return 0;
  *out = b ? 1 : 0;
  return 1;
}

int32_t FieldIndex(vigil_host_ctx* ctx, const char* name, size_t len) {
  if (ctx == nullptr || name == nullptr || len == 0) return -1;
  return ctx->FieldIndex(std::string_view(name, len));
}

int32_t TagIndex(vigil_host_ctx* ctx, const char* name, size_t len) {
  if (ctx == nullptr || name == nullptr || len == 0) return -1;
  return ctx->TagIndex(std::string_view(name, len));
}

int64_t EventTs(const vigil_event* e) { return e != nullptr ? e->event->ts : 0; }

uint64_t EventKey(const vigil_event* e) { return e != nullptr ? e->key : 0; }

int32_t EventField(const vigil_event* e, int32_t field, double* out) {
  if (e == nullptr || out == nullptr || field < 0 || static_cast<uint32_t>(field) >= e->field_count) return 0;
  const double v = e->event->fields[field];
  if (IsNull(v)) return 0;
  *out = v;
  return 1;
}

int32_t EventTag(const vigil_event* e, int32_t tag, vigil_string* out) {
  if (e == nullptr || out == nullptr || tag < 0 || static_cast<uint32_t>(tag) >= e->tag_count) return 0;
  const uint32_t id = e->event->tags[tag];
  if (id == kNoTag) return 0;
  const std::string& s = e->tags->Get(id);
  *out = {s.data(), s.size()};
  return 1;
}

int32_t KeyTag(vigil_host_ctx* ctx, uint64_t key, uint32_t i, vigil_string* out) {
  if (ctx == nullptr || out == nullptr) return 0;
  return ctx->KeyTag(key, i, out) ? 1 : 0;
}

void Emit(vigil_emitter* emitter, uint64_t key, vigil_alert_state state, int64_t ts_ms, double value) {
  // An infinite value would not render as JSON: it is null, like NaN.
  if (emitter != nullptr) emitter->Emit(key, state, ts_ms, std::isfinite(value) ? value : NullValue());
}

void SetTimer(vigil_host_ctx* ctx, int64_t ts_ms) {
  if (ctx != nullptr) ctx->SetTimer(ts_ms);
}

void MarkChanged(vigil_host_ctx* ctx, uint64_t key) {
  if (ctx != nullptr) ctx->MarkChanged(key);
}

void BufferAppend(vigil_buffer* buffer, const void* data, size_t len) {
  if (buffer == nullptr || (data == nullptr && len > 0)) return;
  buffer->bytes->append(static_cast<const char*>(data), len);
}

void OutField(vigil_fields_out* out, const char* name, size_t len, double value) {
  // JSON cannot carry NaN or infinities; neither can a decoded field (NaN means absent).
  if (out == nullptr || name == nullptr || len == 0 || !std::isfinite(value)) return;
  out->out->Field(std::string_view(name, len), value);
}

void OutTag(vigil_fields_out* out, const char* name, size_t len, const char* value, size_t value_len) {
  if (out == nullptr || name == nullptr || len == 0 || (value == nullptr && value_len > 0)) return;
  out->out->Tag(std::string_view(name, len), std::string_view(value, value_len));
}

void Log(vigil_host_ctx* ctx, vigil_log_level level, const char* message, size_t len) {
  if (ctx == nullptr || (message == nullptr && len > 0)) return;
  ctx->Log(level, std::string_view(message, len));
}

void SetError(vigil_host_ctx* ctx, const char* message, size_t len) {
  if (ctx == nullptr || (message == nullptr && len > 0)) return;
  ctx->error.assign(message, len);
}

constexpr vigil_host kTable = {
    sizeof(vigil_host), VIGIL_PLUGIN_ABI_VERSION, ConfigNumber, ConfigString, ConfigBool, FieldIndex, TagIndex,
    EventTs, EventKey, EventField, EventTag, KeyTag, Emit, SetTimer, MarkChanged, BufferAppend, OutField, OutTag,
    Log, SetError,
};

}  // namespace

const vigil_host* PluginHostTable() { return &kTable; }

}  // namespace vigil::rules
