// ExprCompiler: syntax tree -> type-checked Program.
//
// Resolves names (a name compared with a 'string' is a tag, any other name a
// numeric field of the schema), checks types (`when` must be a condition,
// arithmetic needs numbers, a duration is only a window argument), and turns
// every aggregate into a slot of the rule's AggregateRef list, sharing slots
// between identical aggregates. In an event rule aggregates need a window
// (`avg(temp, 5m)`); in a window rule they take one argument and span the
// window. Load-time only; single-threaded.
#pragma once

#include <cstdint>
#include <string_view>
#include <variant>
#include <vector>

#include "aggregate/agg_kind.h"
#include "expr/ast.h"
#include "expr/expr_error.h"
#include "expr/program.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil::rules {

// One aggregate an expression reads: kind over (field, window), or an ewma.
struct AggregateRef {
  bool is_ewma = false;
  AggKind kind = AggKind::kAvg;
  uint32_t field = 0;       // schema field slot
  int64_t window_ms = 0;    // event rules: W of f(x, W); window rules: 0
  int64_t tau_ms = 0;       // ewma only

  bool operator==(const AggregateRef&) const = default;
};

enum class ExprMode { kEvent, kWindow };

struct CompileEnv {
  ExprMode mode = ExprMode::kEvent;
  Schema* schema = nullptr;
  TagInterner* tags = nullptr;
  std::vector<AggregateRef>* aggregates = nullptr;  // appended to, shared between a rule's expressions
  std::vector<uint32_t>* fields_named = nullptr;    // field slots named anywhere (inside aggregates too)
};

struct CompiledExpr {
  Program program;
  // When the expression is one comparison, its left-hand side (the alert's `value`).
  Program lhs;
};

// Compiles `text` as a condition (the result must be boolean).
std::variant<CompiledExpr, ExprError> CompileCondition(std::string_view text, const CompileEnv& env);

}  // namespace vigil::rules
