// threshold_plugin: the trivial plugin rule of the plugin benchmark
// (bench/rules_bench.cc BM_OnePluginRule): raise above `limit`, clear at or
// below — the same work as the built-in rule `when: temp > 30` it is
// compared with, so the difference is the cost of the plugin boundary.
#include <vigil/plugin.hpp>

namespace {

class Threshold final : public vigil::plugin::Rule {
 public:
  static constexpr const char* kName = "threshold";
  explicit Threshold(const vigil::plugin::Host& host)
      : Rule(host), field_(host.Field(host.StringOr("field", "temp"))), limit_(host.NumberOr("limit", 30)) {}
  void OnEvent(const vigil::plugin::Event& e, vigil::plugin::Emitter& emit) override {
    const auto v = e.field(field_);
    if (!v) return;
    if (*v > limit_) {
      emit.Raise(e.key(), e.ts(), *v);
    } else {
      emit.Clear(e.key(), e.ts(), *v);
    }
  }

 private:
  int32_t field_;
  double limit_;
};

}  // namespace

VIGIL_PLUGIN(Threshold)
