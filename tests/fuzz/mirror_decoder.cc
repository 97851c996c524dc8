// mirror_decoder: a decoder plugin for the decoder fuzz target that hands
// whatever its payload says back to vigil, so the host's handling of a
// plugin's output is fuzzed, not only the plugin: "name=value;..." sets a
// field (value that reads as a number) or a tag (anything else), names and
// values being any bytes (empty, huge, NUL, not UTF-8); a payload starting
// with '!' is refused with the rest as the reason.
#include <vigil/plugin.hpp>

#include <cstdlib>
#include <string>

namespace {

class Mirror final : public vigil::plugin::Decoder {
 public:
  static constexpr const char* kName = "mirror";
  explicit Mirror(const vigil::plugin::Host& host) : Decoder(host) {}

  void Decode(std::string_view payload, vigil::plugin::Fields& out) override {
    if (!payload.empty() && payload[0] == '!') throw vigil::plugin::Error(std::string(payload.substr(1)));
    while (!payload.empty()) {
      const size_t end = payload.find(';');
      const std::string_view item = payload.substr(0, end);
      const size_t eq = item.find('=');
      const std::string_view name = item.substr(0, eq);
      const std::string value(eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
      char* stop = nullptr;
      const double d = std::strtod(value.c_str(), &stop);
      if (!value.empty() && stop == value.c_str() + value.size()) {
        out.Set(name, d);
      } else {
        out.SetTag(name, value);
      }
      if (end == std::string_view::npos) break;
      payload.remove_prefix(end + 1);
    }
  }
};

}  // namespace

VIGIL_PLUGIN(Mirror)
