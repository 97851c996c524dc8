// MeasurementSink: a sink that also takes the measurements themselves
// (`forward: raw | window:<duration>` of the influxdb sink), not only alerts.
//
// The engine forwards on the router thread, which sees every accepted
// message and the watermark (engine/src/forward/forwarder.h): `raw` hands
// over each message as one point, `window:<d>` the per-series aggregates of
// each closed tumbling window. A sink implements this interface and returns
// it from Sink::measurement_sink(); with no such sink the router does no
// forwarding work at all.
//
// What a point holds (docs/rules.md#sinks):
//   * tags: the message's series, the finest key it carries (of the rules'
//     key tag lists complete in the message, the one with the most tags, as
//     for GET /api/v1/series/latest); none when it carries no complete key;
//   * fields: raw: every numeric field of the schema (the fields the rules
//     name) the message carries; window: `<field>_mean`, `_min`, `_max`
//     (floats) and `_count` (integer) of each such field with at least one
//     value in the window;
//   * ts: raw: the event time; window: the window's start.
//
// Thread-safety: Write() and Drain() are called from the router thread only;
// Write() must not block (queue and return; drop and count when full).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

enum class ForwardMode : uint8_t { kRaw, kWindow };

// What a sink asks to be forwarded. Plain value.
struct ForwardSpec {
  ForwardMode mode = ForwardMode::kRaw;
  int64_t window_ms = 0;                        // kWindow: the window size (> 0)
  std::string measurement = "vigil_measurements";  // the points' measurement name
};

// One point. Every view is valid during the Write() call only.
struct MeasurementPoint {
  struct Tag {
    std::string_view name;
    std::string_view value;
  };
  struct Field {
    std::string_view name;  // raw: the field path; window: path + suffix (see suffix)
    std::string_view suffix;  // "", "_mean", "_min", "_max" or "_count"
    double value = 0;
    bool integer = false;   // write as an integer (counts)
  };
  int64_t ts = 0;  // ms since the epoch
  std::vector<Tag> tags;
  std::vector<Field> fields;
};

class MeasurementSink {
 public:
  virtual ~MeasurementSink() = default;
  virtual const ForwardSpec& forward() const = 0;
  // Takes the points (formats and queues them for the sink's own delivery
  // thread). Never blocks; a full queue drops its oldest points, counted.
  virtual void Write(const std::vector<MeasurementPoint>& points) noexcept = 0;
  // At the end of a run: waits at most `timeout` for the queue to be
  // delivered; what is left is dropped (logged).
  virtual void Drain(std::chrono::milliseconds timeout) = 0;
};

}  // namespace vigil
