// PluginDecoderFactory: a decoder plugin as the engine's DecoderFactory.
// Each parser gets its own plugin instance (PluginPayloadDecoder), so a
// plugin never sees two threads at once.
//
// Thread-safety: the factory is immutable; a decoder belongs to one parser.
#pragma once

#include <memory>
#include <string>

#include "plugin/plugin_config.h"
#include "plugin/plugin_library.h"
#include "vigil/engine/payload_decoder.h"

namespace vigil::rules {

class PluginDecoderFactory final : public DecoderFactory {
 public:
  PluginDecoderFactory(std::shared_ptr<const PluginLibrary> library, std::shared_ptr<const PluginConfig> config)
      : library_(std::move(library)), config_(std::move(config)) {}
  const std::string& name() const override { return library_->name(); }
  std::unique_ptr<PayloadDecoder> Create(std::string* error) const override;

 private:
  std::shared_ptr<const PluginLibrary> library_;
  std::shared_ptr<const PluginConfig> config_;
};

}  // namespace vigil::rules
