// Alerts: the compact record a rule emits on a shard, and the rendered form
// sinks write.
//
// A rule emits an AlertRecord (a few words, no strings) into its shard's
// AlertOutput; the sink thread renders it with the rule's metadata and the
// key's tag values into DESIGN.md's alert JSON:
//   {"id","rule","key":{tag:value},"state","severity","ts","value","count","labels","message"}
// The id is derived from rule, key and the ts of the raise, so a replay or a
// restart re-emits the same ids; a clear carries the id of its raise.
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>

#include "vigil/engine/event.h"

namespace vigil {

enum class AlertState : uint8_t { kRaised, kCleared };

struct AlertRecord {
  uint32_t rule = 0;        // index of the rule in the loaded rule set
  KeyId key = kNoKey;
  AlertState state = AlertState::kRaised;
  int64_t ts = 0;           // event time of the transition
  int64_t raise_ts = 0;     // ts of the raise of this episode (id)
  double value = 0;         // NaN = null
  uint32_t count = 1;       // repeat count of the episode
  int64_t ingest_ns = 0;    // when the triggering message entered the engine (0: timer)
};

// Where a rule shard puts the alerts it emits. Implemented by the pipeline.
class AlertOutput {
 public:
  virtual ~AlertOutput() = default;
  virtual void Emit(const AlertRecord& alert) noexcept = 0;
};

// The deterministic id of an alert episode: 16 hex digits of a 64-bit hash of
// (rule name, key tags and values in key order, raise ts).
std::string AlertId(const std::string& rule, const std::string* tag_names, const std::string* tag_values, size_t n,
                    int64_t raise_ts);

}  // namespace vigil
