// EventRule: a condition evaluated on every message the rule sees, with the
// OK / PENDING / FIRING state machine of DESIGN.md ("Event rules"), `for`,
// `clear_when`, repeat counts, and sliding aggregates / ewmas per key.
//
// Thread-safety: EventRule is immutable and shared; each EventRuleShard is
// owned and called by one shard thread.
#pragma once

#include <memory>
#include <vector>

#include "aggregate/agg_kind.h"
#include "expr/compiler.h"
#include "rule_common.h"

namespace vigil::rules {

// Where the value of one aggregate slot comes from.
struct AggSource {
  bool is_ewma = false;
  uint32_t index = 0;  // series or ewma index
  AggKind kind = AggKind::kAvg;
};

struct SeriesSpec {
  uint32_t field = 0;
  int64_t window_ms = 0;
  AggMask kinds = 0;
};

struct EwmaSpec {
  uint32_t field = 0;
  int64_t tau_ms = 0;
};

class EventRule final : public Rule {
 public:
  EventRule(RuleCommon common, CompiledExpr when, std::unique_ptr<CompiledExpr> clear_when, int64_t for_ms,
            const std::vector<AggregateRef>& aggregates);
  const RuleInfo& info() const override { return common_.info; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext& ctx) const override;

  const RuleCommon& common() const { return common_; }
  const CompiledExpr& when() const { return when_; }
  const CompiledExpr* clear_when() const { return clear_.get(); }
  int64_t for_ms() const { return for_ms_; }
  const std::vector<AggSource>& agg_sources() const { return agg_sources_; }
  const std::vector<SeriesSpec>& series() const { return series_; }
  const std::vector<EwmaSpec>& ewmas() const { return ewmas_; }
  // How long an idle key's aggregates still matter: its longest sliding
  // window, and 40 ewma time constants (exp(-40) is below a double's
  // precision: the ewma is then its next value). key_ttl eviction waits
  // that much longer, so that it never changes a result (DESIGN.md's
  // aggregates and ewma have no time limit).
  int64_t idle_horizon_ms() const { return idle_horizon_ms_; }

 private:
  RuleCommon common_;
  CompiledExpr when_;
  std::unique_ptr<CompiledExpr> clear_;
  int64_t for_ms_;
  std::vector<AggSource> agg_sources_;
  std::vector<SeriesSpec> series_;
  std::vector<EwmaSpec> ewmas_;
  int64_t idle_horizon_ms_ = 0;
};

}  // namespace vigil::rules
