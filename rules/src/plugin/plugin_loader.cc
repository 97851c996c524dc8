// LoadDecoders: `decoder:` entries of sources -> DecoderBindings.
#include "vigil/rules/plugin_loader.h"

#include <memory>
#include <string>

#include "plugin/plugin_decoder.h"
#include "plugin/plugin_path.h"

namespace vigil::rules {

namespace {

void LoadOne(const YAML::Node& n, const std::string& directory, SourceSettings* source, ConfigErrors& errors) {
  const std::string what = "decoder of source '" + source->name + "'";
  if (!n.IsMap()) {
    errors.Add(n, what + " must be a map such as {path: ./libdecoder.so, match: {devicetype: th-v2}}");
    return;
  }
  CheckKeys(n, {"path", "config", "match", "input"}, what, errors);
  DecoderBinding binding;
  if (n["input"]) {
    if (auto v = ReadString(n["input"], what + ": 'input'", errors)) binding.input = *v;
  }
  if (n["match"]) {
    if (!n["match"].IsMap()) {
      errors.Add(n["match"], what + ": 'match' must be a map of field: value, e.g. {devicetype: th-v2}");
    } else {
      for (const auto& kv : n["match"]) {
        if (!kv.second.IsScalar()) {
          errors.Add(kv.second, what + ": match value of '" + kv.first.Scalar() + "' must be a string or number");
          continue;
        }
        binding.match.emplace_back(kv.first.Scalar(), kv.second.Scalar());
      }
    }
  }
  if (!n["path"]) {
    errors.Add(n, what + " needs a 'path' to the plugin's shared library");
    return;
  }
  auto path = ReadString(n["path"], what + ": 'path'", errors);
  if (!path) return;
  auto lib = PluginLibrary::Open(ResolvePluginPath(*path, directory), VIGIL_PLUGIN_DECODER);
  if (!lib.ok()) {
    errors.Add(n["path"], what + ": " + lib.status().message());
    return;
  }
  const std::string plugin_what = what + ": plugin '" + (*lib)->name() + "'";
  const size_t before = errors.size();
  auto config = PluginConfig::Read(n["config"], n, (*lib)->descriptor(), plugin_what, errors);
  if (errors.size() != before) return;
  auto factory = std::make_shared<PluginDecoderFactory>(*lib, config);
  std::string why;
  if (factory->Create(&why) == nullptr) {  // a validation instance, dropped at once
    errors.Add(n["config"] ? n["config"] : n, plugin_what + " refused its config: " + why);
    return;
  }
  binding.factory = std::move(factory);
  source->format.decoders.push_back(std::move(binding));
}

}  // namespace

void LoadDecoders(RulesFile* file, ConfigErrors& errors) {
  for (SourceSettings& s : file->sources) {
    const YAML::Node& n = s.decoder_node;
    if (!n.IsDefined() || n.IsNull()) continue;
    try {
      if (n.IsSequence()) {
        for (const auto& item : n) LoadOne(item, file->directory, &s, errors);
      } else {
        LoadOne(n, file->directory, &s, errors);
      }
    } catch (const YAML::Exception& e) {
      errors.Add(e.mark.line + 1, e.mark.column + 1, e.msg);
    }
  }
}

}  // namespace vigil::rules
