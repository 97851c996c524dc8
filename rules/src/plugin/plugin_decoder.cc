// PluginDecoderFactory and the per-parser decoder instance.
#include "plugin/plugin_decoder.h"

#include <exception>

#include "plugin/plugin_host.h"

namespace vigil::rules {

namespace {

// A decoder's context: decoders read no event fields and have no logger
// (a refused payload is counted and dead-lettered with its reason).
class DecoderCtx final : public vigil_host_ctx {
 public:
  explicit DecoderCtx(const PluginConfig* config) : vigil_host_ctx(config) {}
  int32_t FieldIndex(std::string_view) override { return -1; }
  int32_t TagIndex(std::string_view) override { return -1; }
  void Log(vigil_log_level, std::string_view) override {}
};

class PluginPayloadDecoder final : public PayloadDecoder {
 public:
  PluginPayloadDecoder(std::shared_ptr<const PluginLibrary> library, std::shared_ptr<const PluginConfig> config)
      : library_(std::move(library)), config_(std::move(config)), ctx_(config_.get()) {}
  ~PluginPayloadDecoder() override {
    if (instance_ == nullptr) return;
    try {
      library_->descriptor().destroy(instance_);
    } catch (...) {
    }
  }

  bool Start(std::string* error) {
    const std::string& json = config_->json();
    try {
      instance_ = library_->descriptor().create(json.c_str(), json.size(), PluginHostTable(), &ctx_);
    } catch (const std::exception& e) {
      *error = std::string("exception escaped create: ") + e.what();
      return false;
    } catch (...) {
      *error = "unknown exception escaped create";
      return false;
    }
    if (instance_ == nullptr) *error = ctx_.error.empty() ? "create returned no instance" : ctx_.error;
    return instance_ != nullptr;
  }

  bool Decode(std::string_view payload, DecodedFields& out, std::string* error) noexcept override {
    vigil_fields_out fields{&out};
    ctx_.error.clear();
    int32_t rc = VIGIL_ERROR;
    try {
      rc = library_->descriptor().decode(instance_, payload.data(), payload.size(), &fields);
    } catch (const std::exception& e) {
      ctx_.error = std::string("exception escaped the plugin: ") + e.what();
    } catch (...) {
      ctx_.error = "unknown exception escaped the plugin";
    }
    if (rc == VIGIL_OK) return true;
    *error = ctx_.error.empty() ? "returned an error without a reason" : ctx_.error;
    return false;
  }

 private:
  std::shared_ptr<const PluginLibrary> library_;
  std::shared_ptr<const PluginConfig> config_;
  DecoderCtx ctx_;
  void* instance_ = nullptr;
};

}  // namespace

std::unique_ptr<PayloadDecoder> PluginDecoderFactory::Create(std::string* error) const {
  auto d = std::make_unique<PluginPayloadDecoder>(library_, config_);
  if (!d->Start(error)) return nullptr;
  return d;
}

}  // namespace vigil::rules
