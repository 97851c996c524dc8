// WindowRule: tumbling and hopping windows aligned to the epoch, evaluated
// when the watermark reaches their end (DESIGN.md "Window rules").
//
// A window of size W with hop S starts at every multiple of S and covers
// [start, start + W). Aggregates take one field and span the window's
// messages that carry it. At close, a window holding at least one message
// evaluates `when`: true in OK raises (alert ts = window end); in FIRING the
// alert clears when `clear_when` is true (or, without it, when `when` is
// false). A message is added to each of its windows still open; if one had
// already closed, it counts as late.
// Thread-safety: WindowRule is immutable and shared; a WindowRuleShard is
// owned by one shard thread.
#pragma once

#include <memory>
#include <vector>

#include "aggregate/agg_kind.h"
#include "expr/compiler.h"
#include "rule_common.h"

namespace vigil::rules {

class WindowRule final : public Rule {
 public:
  struct FieldAcc {
    uint32_t field = 0;
    AggMask kinds = 0;
  };
  struct Slot {
    uint32_t acc = 0;
    AggKind kind = AggKind::kAvg;
  };

  WindowRule(RuleCommon common, CompiledExpr when, std::unique_ptr<CompiledExpr> clear_when, int64_t size_ms,
             int64_t every_ms, const std::vector<AggregateRef>& aggregates);
  const RuleInfo& info() const override { return common_.info; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext& ctx) const override;

  const RuleCommon& common() const { return common_; }
  const CompiledExpr& when() const { return when_; }
  const CompiledExpr* clear_when() const { return clear_.get(); }
  int64_t size_ms() const { return size_ms_; }
  int64_t every_ms() const { return every_ms_; }
  const std::vector<FieldAcc>& accumulators() const { return accs_; }
  const std::vector<Slot>& slots() const { return slots_; }

 private:
  RuleCommon common_;
  CompiledExpr when_;
  std::unique_ptr<CompiledExpr> clear_;
  int64_t size_ms_;
  int64_t every_ms_;
  std::vector<FieldAcc> accs_;
  std::vector<Slot> slots_;
};

}  // namespace vigil::rules
