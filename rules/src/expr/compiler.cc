// ExprCompiler implementation: a recursive type-checking code generator.
#include "expr/compiler.h"

#include <algorithm>
#include <optional>

#include "expr/expr_parser.h"

namespace vigil::rules {

namespace {

// A duration literal (ms, as a double) as whole milliseconds, or nullopt when
// it does not fit in int64 ("1e30d"), where the conversion would be
// undefined behaviour. Found by tests/fuzz/expr_fuzzer (UBSan).
std::optional<int64_t> DurationMs(double ms) {
  if (!(ms > -9.2e18 && ms < 9.2e18)) return std::nullopt;
  return static_cast<int64_t>(ms);
}

enum class Type { kNumber, kBool, kString, kDuration };

const char* TypeName(Type t) {
  switch (t) {
    case Type::kNumber: return "a number";
    case Type::kBool: return "a condition";
    case Type::kString: return "a string";
    case Type::kDuration: return "a duration";
  }
  return "?";
}

bool IsComparison(const std::string& op) {
  return op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=";
}

class Compiler {
 public:
  explicit Compiler(const CompileEnv& env) : env_(env) {}

  // Emits code for `n` into `out`; returns its type, or sets error_.
  Type Emit(const Node& n, Program& out) {
    if (failed()) return Type::kNumber;
    switch (n.kind) {
      case NodeKind::kNumber:
        out.code().push_back({OpCode::kConst, 0, 0, n.number});
        return Type::kNumber;
      case NodeKind::kBool:
        out.code().push_back({OpCode::kConst, 0, 0, n.number});
        return Type::kBool;
      case NodeKind::kDuration:
        Fail(n.pos, "a duration is only allowed as the window of an aggregate, e.g. avg(temp, 5m)");
        return Type::kDuration;
      case NodeKind::kString:
        Fail(n.pos, "a string can only be compared to a tag with == or !=, e.g. zone == 'nord'");
        return Type::kString;
      case NodeKind::kName:
        if (env_.mode == ExprMode::kWindow) {
          Fail(n.pos, "in a window rule a field is read through an aggregate over the window, e.g. avg(" + n.text +
                          ") or last(" + n.text + ")");
          return Type::kNumber;
        }
        out.code().push_back({OpCode::kField, Field(n.text), 0, 0});
        return Type::kNumber;
      case NodeKind::kUnary: return EmitUnary(n, out);
      case NodeKind::kBinary: return EmitBinary(n, out);
      case NodeKind::kCall: return EmitCall(n, out);
    }
    return Type::kNumber;
  }

  bool failed() const { return !error_.message.empty(); }
  const ExprError& error() const { return error_; }
  void Fail(size_t pos, std::string msg) {
    if (!failed()) error_ = ExprError{pos, std::move(msg)};
  }

 private:
  uint32_t Field(const std::string& path) {
    uint32_t slot = env_.schema->AddField(path);
    if (env_.fields_named != nullptr &&
        std::find(env_.fields_named->begin(), env_.fields_named->end(), slot) == env_.fields_named->end()) {
      env_.fields_named->push_back(slot);
    }
    return slot;
  }

  bool Expect(const Node& n, Type got, Type want) {
    if (got == want || failed()) return !failed();
    Fail(n.pos, std::string("expected ") + TypeName(want) + " but this is " + TypeName(got));
    return false;
  }

  Type EmitUnary(const Node& n, Program& out) {
    Type t = Emit(*n.args[0], out);
    if (n.text == "not") {
      Expect(*n.args[0], t, Type::kBool);
      out.code().push_back({OpCode::kNot});
      return Type::kBool;
    }
    Expect(*n.args[0], t, Type::kNumber);
    if (n.text == "-") out.code().push_back({OpCode::kNeg});
    return Type::kNumber;
  }

  Type EmitBinary(const Node& n, Program& out) {
    const Node& a = *n.args[0];
    const Node& b = *n.args[1];
    if ((n.text == "==" || n.text == "!=") && (a.kind == NodeKind::kString || b.kind == NodeKind::kString)) {
      return EmitTagCompare(n, out);
    }
    if (IsComparison(n.text) && (a.kind == NodeKind::kString || b.kind == NodeKind::kString)) {
      Fail(n.pos, "strings compare only with == and !=");
      return Type::kBool;
    }
    Type ta = Emit(a, out);
    Type tb = Emit(b, out);
    if (failed()) return Type::kBool;
    if (n.text == "and" || n.text == "or") {
      Expect(a, ta, Type::kBool);
      Expect(b, tb, Type::kBool);
      out.code().push_back({n.text == "and" ? OpCode::kAnd : OpCode::kOr});
      return Type::kBool;
    }
    Expect(a, ta, Type::kNumber);
    Expect(b, tb, Type::kNumber);
    static const std::pair<const char*, OpCode> kOps[] = {
        {"+", OpCode::kAdd}, {"-", OpCode::kSub}, {"*", OpCode::kMul}, {"/", OpCode::kDiv}, {"%", OpCode::kMod},
        {"<", OpCode::kLt},  {"<=", OpCode::kLe}, {">", OpCode::kGt},  {">=", OpCode::kGe}, {"==", OpCode::kEq},
        {"!=", OpCode::kNe}};
    for (const auto& [name, op] : kOps) {
      if (n.text == name) {
        out.code().push_back({op});
        return IsComparison(n.text) ? Type::kBool : Type::kNumber;
      }
    }
    Fail(n.pos, "unknown operator '" + n.text + "'");
    return Type::kNumber;
  }

  Type EmitTagCompare(const Node& n, Program& out) {
    if (env_.mode == ExprMode::kWindow) {
      Fail(n.pos, "tag comparisons are not available in a window rule; select messages with 'match:' instead");
      return Type::kBool;
    }
    const Node& a = *n.args[0];
    const Node& b = *n.args[1];
    const Node& name = a.kind == NodeKind::kString ? b : a;
    const Node& str = a.kind == NodeKind::kString ? a : b;
    if (name.kind != NodeKind::kName) {
      Fail(name.pos, "a string can only be compared to a tag name, e.g. zone == 'nord'");
      return Type::kBool;
    }
    uint32_t slot = env_.schema->AddTag(name.text);
    uint32_t id = env_.tags->Intern(str.text);
    out.code().push_back({n.text == "==" ? OpCode::kTagEq : OpCode::kTagNe, slot, id, 0});
    return Type::kBool;
  }

  Type EmitCall(const Node& n, Program& out) {
    const std::string& f = n.text;
    const size_t argc = n.args.size();
    auto numeric_args = [&](size_t want) {
      if (argc != want) {
        Fail(n.pos, f + "() takes " + std::to_string(want) + " argument" + (want == 1 ? "" : "s") + ", got " +
                        std::to_string(argc));
        return false;
      }
      for (const auto& arg : n.args) Expect(*arg, Emit(*arg, out), Type::kNumber);
      return !failed();
    };
    if (f == "abs" || f == "sqrt") {
      if (numeric_args(1)) out.code().push_back({f == "abs" ? OpCode::kAbs : OpCode::kSqrt});
      return Type::kNumber;
    }
    if (f == "clamp") {
      if (numeric_args(3)) out.code().push_back({OpCode::kClamp});
      return Type::kNumber;
    }
    if (f == "ewma") return EmitEwma(n, out);
    std::optional<AggKind> kind = AggKindFromName(f);
    const bool two_numbers = (f == "min" || f == "max") && argc == 2 && n.args[1]->kind != NodeKind::kDuration;
    if (two_numbers) {
      if (numeric_args(2)) out.code().push_back({f == "min" ? OpCode::kMin2 : OpCode::kMax2});
      return Type::kNumber;
    }
    if (!kind) {
      Fail(n.pos, "unknown function '" + f + "' (functions: abs sqrt clamp min max ewma avg sum count stddev first "
                  "last delta rate changes p50 p90 p95 p99)");
      return Type::kNumber;
    }
    return EmitAggregate(n, *kind, out);
  }

  Type EmitAggregate(const Node& n, AggKind kind, Program& out) {
    const std::string& f = n.text;
    AggregateRef ref;
    ref.kind = kind;
    if (env_.mode == ExprMode::kWindow) {
      if (n.args.size() != 1) {
        Fail(n.pos, "in a window rule " + f + "() takes one field and spans the window, e.g. " + f + "(temp)");
        return Type::kNumber;
      }
    } else {
      if (n.args.size() != 2 || n.args[1]->kind != NodeKind::kDuration) {
        Fail(n.pos, f + "() in an event rule needs a field and a duration, e.g. " + f + "(temp, 5m)");
        return Type::kNumber;
      }
      const std::optional<int64_t> window = DurationMs(n.args[1]->number);
      if (!window) {
        Fail(n.args[1]->pos, "the window of " + f + "() is too long");
        return Type::kNumber;
      }
      ref.window_ms = *window;
      if (ref.window_ms <= 0) {
        Fail(n.args[1]->pos, "the window of " + f + "() must be positive");
        return Type::kNumber;
      }
    }
    if (n.args[0]->kind != NodeKind::kName) {
      Fail(n.args[0]->pos, "the first argument of " + f + "() must be a field name");
      return Type::kNumber;
    }
    ref.field = Field(n.args[0]->text);
    out.code().push_back({OpCode::kAgg, Slot(ref), 0, 0});
    return Type::kNumber;
  }

  Type EmitEwma(const Node& n, Program& out) {
    if (env_.mode == ExprMode::kWindow) {
      Fail(n.pos, "ewma() is not available in a window rule; use it in an event rule");
      return Type::kNumber;
    }
    if (n.args.size() != 2 || n.args[0]->kind != NodeKind::kName || n.args[1]->kind != NodeKind::kDuration) {
      Fail(n.pos, "ewma() takes a field and a time constant, e.g. ewma(temp, 6h)");
      return Type::kNumber;
    }
    AggregateRef ref;
    ref.is_ewma = true;
    ref.field = Field(n.args[0]->text);
    const std::optional<int64_t> tau = DurationMs(n.args[1]->number);
    if (!tau) {
      Fail(n.args[1]->pos, "the time constant of ewma() is too long");
      return Type::kNumber;
    }
    ref.tau_ms = *tau;
    if (ref.tau_ms <= 0) {
      Fail(n.args[1]->pos, "the time constant of ewma() must be positive");
      return Type::kNumber;
    }
    out.code().push_back({OpCode::kAgg, Slot(ref), 0, 0});
    return Type::kNumber;
  }

  uint32_t Slot(const AggregateRef& ref) {
    auto& list = *env_.aggregates;
    for (uint32_t i = 0; i < list.size(); ++i) {
      if (list[i] == ref) return i;
    }
    list.push_back(ref);
    return static_cast<uint32_t>(list.size() - 1);
  }

  const CompileEnv& env_;
  ExprError error_;
};

int StackDepth(const Program& p) {
  int depth = 0, max_depth = 0;
  for (const Instr& ins : p.code()) {
    switch (ins.op) {
      case OpCode::kConst: case OpCode::kField: case OpCode::kAgg: case OpCode::kTagEq: case OpCode::kTagNe:
        ++depth; break;
      case OpCode::kNeg: case OpCode::kNot: case OpCode::kAbs: case OpCode::kSqrt: break;
      case OpCode::kClamp: depth -= 2; break;
      default: --depth; break;
    }
    max_depth = std::max(max_depth, depth);
  }
  return max_depth;
}

}  // namespace

std::variant<CompiledExpr, ExprError> CompileCondition(std::string_view text, const CompileEnv& env) {
  auto parsed = ParseExpression(text);
  if (auto* err = std::get_if<ExprError>(&parsed)) return *err;
  const Node& root = *std::get<NodePtr>(parsed);
  Compiler c(env);
  CompiledExpr out;
  Type t = c.Emit(root, out.program);
  if (c.failed()) return c.error();
  if (t != Type::kBool) {
    return ExprError{root.pos, std::string("a condition is needed (a comparison such as temp > 30), but this is ") +
                                   TypeName(t)};
  }
  if (StackDepth(out.program) > Program::kMaxStack) {
    return ExprError{0, "expression too deeply nested (more than 32 pending operands)"};
  }
  out.program.Optimize();
  if (root.kind == NodeKind::kBinary && IsComparison(root.text) && root.args[0]->kind != NodeKind::kString &&
      root.args[1]->kind != NodeKind::kString) {
    Compiler lhs(env);
    lhs.Emit(*root.args[0], out.lhs);
  }
  return out;
}

}  // namespace vigil::rules
