// DeadmanRule: raises when a key stays silent for `timeout` (DESIGN.md
// "Deadman rules").
//
// A key is known from its first message (or from the start of the source for
// the keys listed in `expect`). When the watermark reaches
// last_seen + timeout the rule raises with alert ts = last_seen + timeout;
// the key's next message clears it (alert ts = that message's ts). A late
// message keeps the latest last_seen. The rule sees every message carrying
// the key tags that passes `match`; no field is needed.
// Thread-safety: DeadmanRule is immutable and shared; a DeadmanRuleShard is
// owned by one shard thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "rule_common.h"

namespace vigil::rules {

class DeadmanRule final : public Rule {
 public:
  // `expect`: key values (one string per key tag, in key order) that raise
  // after `timeout_ms` from the start even if they never report.
  DeadmanRule(RuleCommon common, int64_t timeout_ms, std::vector<std::vector<std::string>> expect);
  const RuleInfo& info() const override { return common_.info; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext& ctx) const override;

  const RuleCommon& common() const { return common_; }
  int64_t timeout_ms() const { return timeout_ms_; }
  const std::vector<std::vector<std::string>>& expect() const { return expect_; }

 private:
  RuleCommon common_;
  int64_t timeout_ms_;
  std::vector<std::vector<std::string>> expect_;
};

}  // namespace vigil::rules
