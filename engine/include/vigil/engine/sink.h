// Sink: where alerts go (stdout, file, MQTT, Kafka, webhook). Implemented in
// bridges/; called from the engine's alert thread only.
#pragma once

#include <string>

#include <vector>

#include "vigil/engine/alert.h"
#include "vigil/engine/bridge_metric.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/measurement_sink.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/status.h"

namespace vigil {

// One alert, with everything a sink may need to format it.
struct AlertView {
  const AlertRecord& record;
  const RuleInfo& rule;
  const KeyInfo& key;
  const std::string& id;
  const std::string& message;  // rendered message template
  const std::string& json;     // DESIGN.md's alert object, one line, no newline
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual const std::string& name() const = 0;
  virtual Status Write(const AlertView& alert) = 0;
  // Pushes buffered alerts out (called when the pipeline is idle and at exit).
  virtual Status Flush() = 0;
  // Makes every alert written so far durable (a file sink fsyncs; a sink
  // with an outbox persists it): called before each checkpoint is written,
  // which must not cover an alert a crash could still lose.
  virtual Status Sync() { return Flush(); }
  // Failed deliveries the sink retries by itself (an outbox), added to
  // vigil_sink_errors_total. Any thread.
  virtual uint64_t delivery_failures() const { return 0; }
  // Extra samples for /metrics (e.g. vigil_outbox_depth{sink}), any thread.
  virtual void ReportMetrics(std::vector<BridgeMetric>* out) const {}
  // Non-null when the sink also takes the measurements themselves
  // (`forward:`); asked once, before Engine::Run starts the pipeline. The
  // sink keeps ownership.
  virtual MeasurementSink* measurement_sink() { return nullptr; }
};

}  // namespace vigil
