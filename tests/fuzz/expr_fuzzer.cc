// Fuzz target: the expression language (rules/src/expr/): one condition
// parsed, type-checked and compiled, then evaluated.
//
// Input: byte 0 picks the mode (bit 0: event rule or window rule) and the
// values given to fields and aggregates (bits 1-2: null, 0, 1.5, -1e300);
// the rest is the text of `when`. A compiled program, and its left-hand side
// program, are evaluated against an event holding every field, tag and
// aggregate the compiler registered: the evaluation stack is fixed-size, so
// a program the compiler accepts must stay within it (ASan checks).
// Oracles: an error position lies within the text (or at its end); a
// condition evaluates to 0, 1 or null.
// Thread-safety: single-threaded.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <variant>
#include <vector>

#include "expr/compiler.h"
#include "fuzz_check.h"
#include "vigil/engine/event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr double kValues[] = {std::numeric_limits<double>::quiet_NaN(), 0.0, 1.5, -1e300};
  const double value = kValues[(data[0] >> 1) & 3];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  vigil::Schema schema;  // one per rule: the compiler adds what the expression names
  static vigil::TagInterner tags;  // one per engine (renewed now and then: it only grows)
  if (tags.size() > 100000) tags.Clear();
  std::vector<vigil::rules::AggregateRef> aggregates;
  std::vector<uint32_t> fields_named;
  vigil::rules::CompileEnv env;
  env.mode = (data[0] & 1) ? vigil::rules::ExprMode::kWindow : vigil::rules::ExprMode::kEvent;
  env.schema = &schema;
  env.tags = &tags;
  env.aggregates = &aggregates;
  env.fields_named = &fields_named;

  auto compiled = vigil::rules::CompileCondition(text, env);
  if (const auto* error = std::get_if<vigil::rules::ExprError>(&compiled)) {
    FUZZ_CHECK(error->pos <= text.size());
    FUZZ_CHECK(!error->message.empty());
    return 0;
  }
  const auto& c = std::get<vigil::rules::CompiledExpr>(compiled);
  for (uint32_t f : fields_named) FUZZ_CHECK(f < schema.field_count());

  // Every slot the program may read; one extra so an empty schema still has storage.
  const std::vector<double> field_values(schema.field_count() + 1, value);
  std::vector<uint32_t> tag_values(schema.tag_count() + 1, vigil::kNoTag);
  for (size_t i = 0; i < tag_values.size(); ++i) tag_values[i] = static_cast<uint32_t>(i % (tags.size() + 1));
  const std::vector<double> agg_values(aggregates.size() + 1, value);
  const vigil::rules::EvalInput in{field_values.data(), tag_values.data(), agg_values.data()};

  for (const auto& ins : c.program.code()) {
    if (ins.op == vigil::rules::OpCode::kField || ins.op == vigil::rules::OpCode::kFieldCmpConst) {
      FUZZ_CHECK(ins.a < schema.field_count());
    }
    if (ins.op == vigil::rules::OpCode::kAgg) FUZZ_CHECK(ins.a < aggregates.size());
    if (ins.op == vigil::rules::OpCode::kTagEq || ins.op == vigil::rules::OpCode::kTagNe) {
      FUZZ_CHECK(ins.a < schema.tag_count());
    }
  }
  const double result = c.program.Eval(in);
  FUZZ_CHECK(std::isnan(result) || result == 0.0 || result == 1.0);
  if (!c.lhs.empty()) (void)c.lhs.Eval(in);
  return 0;
}
