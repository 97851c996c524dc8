// fault_throw_rule: a C++ rule plugin whose OnEvent throws for a negative
// `x` (caught by the plugin.hpp trampolines) and otherwise raises above 10;
// built with FAULT_RAW (library fault_raw) its on_event throws straight
// through the C boundary, without the wrapper's guard, which vigil must
// also survive.
#include <vigil/plugin.hpp>

#include <stdexcept>

namespace {

class Thrower final : public vigil::plugin::Rule {
 public:
  static constexpr const char* kName = "fault_throw";
  explicit Thrower(const vigil::plugin::Host& host) : Rule(host), x_(host.Field("x")) {}
  void OnEvent(const vigil::plugin::Event& e, vigil::plugin::Emitter& emit) override {
    const auto v = e.field(x_);
    if (!v) return;
    if (*v < 0) throw std::runtime_error("cannot handle a negative x");
    if (*v > 10) emit.Raise(e.key(), e.ts(), *v);
  }

 private:
  int32_t x_;
};

#ifdef FAULT_RAW
// The same descriptor with on_event replaced by a function that throws
// without any guard (what a careless plugin written on plugin.h alone does).
int32_t RawOnEvent(void*, const vigil_event*, vigil_emitter*) { throw std::logic_error("raw throw across the ABI"); }
#endif

}  // namespace

#ifndef FAULT_RAW
VIGIL_PLUGIN(Thrower)
#else
extern "C" VIGIL_PLUGIN_EXPORT const vigil_plugin_descriptor* vigil_plugin_entry(void) {
  static const vigil_plugin_descriptor d = [] {
    vigil_plugin_descriptor x = *::vigil::plugin::detail::Describe<Thrower>();
    x.name = "fault_raw";
    x.on_event = &RawOnEvent;
    return x;
  }();
  return &d;
}
#endif
