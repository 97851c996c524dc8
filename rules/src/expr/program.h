// Program: a compiled expression, evaluated without allocation.
//
// A postfix instruction list over a small fixed stack of doubles. Values are
// numbers; booleans are 1/0; NaN is null (a missing field, an aggregate over
// nothing, a division by zero) and, for a boolean, "unknown". Comparisons
// with null give unknown; and/or/not follow SQL's three-valued logic.
// Thread-safety: immutable after compilation; Eval is reentrant.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace vigil::rules {

enum class OpCode : uint8_t {
  kConst, kField, kAgg, kTagEq, kTagNe,
  kNeg, kNot, kAbs, kSqrt,
  kAdd, kSub, kMul, kDiv, kMod,
  kLt, kLe, kGt, kGe, kEq, kNe,
  kAnd, kOr, kMin2, kMax2, kClamp,
  // Fused `field <cmp> constant` (a = field slot, b = the comparison's OpCode, k = constant).
  kFieldCmpConst,
};

struct Instr {
  OpCode op;
  uint32_t a = 0;   // field slot, aggregate slot, tag slot
  uint32_t b = 0;   // tag id for kTagEq/kTagNe
  double k = 0;     // constant
};

// What an expression reads: the event's fields and tags, and the values of
// the rule's aggregates computed just before evaluation.
struct EvalInput {
  const double* fields = nullptr;
  const uint32_t* tags = nullptr;
  const double* aggs = nullptr;
};

class Program {
 public:
  static constexpr int kMaxStack = 32;

  std::vector<Instr>& code() { return code_; }

  // Fuses `kField a, kConst k, <comparison>` into one kFieldCmpConst.
  void Optimize() {
    std::vector<Instr> out;
    for (size_t i = 0; i < code_.size(); ++i) {
      if (i + 2 < code_.size() && code_[i].op == OpCode::kField && code_[i + 1].op == OpCode::kConst &&
          IsComparison(code_[i + 2].op)) {
        out.push_back({OpCode::kFieldCmpConst, code_[i].a, static_cast<uint32_t>(code_[i + 2].op), code_[i + 1].k});
        i += 2;
        continue;
      }
      out.push_back(code_[i]);
    }
    code_.swap(out);
  }
  static bool IsComparison(OpCode op) {
    return op == OpCode::kLt || op == OpCode::kLe || op == OpCode::kGt || op == OpCode::kGe || op == OpCode::kEq ||
           op == OpCode::kNe;
  }
  const std::vector<Instr>& code() const { return code_; }
  bool empty() const { return code_.empty(); }

  double Eval(const EvalInput& in) const noexcept {
    double st[kMaxStack];
    int sp = 0;
    const double kNan = std::nan("");
    for (const Instr& ins : code_) {
      switch (ins.op) {
        case OpCode::kConst: st[sp++] = ins.k; break;
        case OpCode::kField: st[sp++] = in.fields[ins.a]; break;
        case OpCode::kFieldCmpConst: st[sp++] = Binary(static_cast<OpCode>(ins.b), in.fields[ins.a], ins.k); break;
        case OpCode::kAgg: st[sp++] = in.aggs[ins.a]; break;
        case OpCode::kTagEq: st[sp++] = in.tags[ins.a] == 0 ? kNan : (in.tags[ins.a] == ins.b ? 1.0 : 0.0); break;
        case OpCode::kTagNe: st[sp++] = in.tags[ins.a] == 0 ? kNan : (in.tags[ins.a] != ins.b ? 1.0 : 0.0); break;
        case OpCode::kNeg: st[sp - 1] = -st[sp - 1]; break;
        case OpCode::kNot: st[sp - 1] = std::isnan(st[sp - 1]) ? kNan : 1.0 - st[sp - 1]; break;
        case OpCode::kAbs: st[sp - 1] = std::fabs(st[sp - 1]); break;
        case OpCode::kSqrt: st[sp - 1] = st[sp - 1] < 0 ? kNan : std::sqrt(st[sp - 1]); break;
        case OpCode::kClamp: {
          const double hi = st[--sp];
          const double lo = st[--sp];
          double& v = st[sp - 1];
          v = (std::isnan(v) || std::isnan(lo) || std::isnan(hi)) ? kNan : (v < lo ? lo : (v > hi ? hi : v));
          break;
        }
        default: {
          const double y = st[--sp];
          st[sp - 1] = Binary(ins.op, st[sp - 1], y);
          break;
        }
      }
    }
    return sp > 0 ? st[sp - 1] : kNan;
  }

 private:
  static double Binary(OpCode op, double x, double y) noexcept {
    const double kNan = std::nan("");
    const bool null = std::isnan(x) || std::isnan(y);
    switch (op) {
      case OpCode::kAdd: return x + y;
      case OpCode::kSub: return x - y;
      case OpCode::kMul: return x * y;
      case OpCode::kDiv: return y == 0 ? kNan : x / y;
      case OpCode::kMod: return y == 0 ? kNan : std::fmod(x, y);
      case OpCode::kLt: return null ? kNan : (x < y ? 1.0 : 0.0);
      case OpCode::kLe: return null ? kNan : (x <= y ? 1.0 : 0.0);
      case OpCode::kGt: return null ? kNan : (x > y ? 1.0 : 0.0);
      case OpCode::kGe: return null ? kNan : (x >= y ? 1.0 : 0.0);
      case OpCode::kEq: return null ? kNan : (x == y ? 1.0 : 0.0);
      case OpCode::kNe: return null ? kNan : (x != y ? 1.0 : 0.0);
      case OpCode::kAnd:
        if (x == 0.0 || y == 0.0) return 0.0;
        return null ? kNan : 1.0;
      case OpCode::kOr:
        if (x == 1.0 || y == 1.0) return 1.0;
        return null ? kNan : 0.0;
      case OpCode::kMin2: return null ? kNan : (y < x ? y : x);
      case OpCode::kMax2: return null ? kNan : (y > x ? y : x);
      default: return kNan;
    }
  }

  std::vector<Instr> code_;
};

}  // namespace vigil::rules
