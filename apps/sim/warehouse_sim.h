// Deterministic warehouse sensor data generator behind `vigil sim`.
//
// WarehouseGenerator produces NDJSON messages from simulated temperature and
// humidity sensors (one per device, devices spread round-robin over zones),
// merged in event-time order, with optional injected anomalies. Output depends
// only on SimOptions: the same options give the same bytes on every run and
// every platform (own PRNG, integer-only value model, no <random>
// distributions, no libm). Memory is O(devices), whatever the run length.
// Thread-safety: a generator is a plain object for one thread; distinct
// generators are independent. Nothing here prints or exits.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/status.h"

namespace CLI {
class App;
}  // namespace CLI

namespace vigil::sim {

// How the event time is written: `"ts":1732233600097` (kMillis),
// `"ts":1732233600.097` (kSeconds, always 3 decimals) or
// `"timestamp":"2024-11-22T00:00:00.097Z"` (kIso).
enum class TsFormat { kMillis, kSeconds, kIso };

// What to generate. Check with ValidateSimOptions before use.
struct SimOptions {
  // Number of devices, named d-0000, d-0001, ... (at least 4 digits).
  // Default: 30. Range 1..1000000.
  int devices = 30;
  // Zone names; device i belongs to zones[i % zones.size()]. Names are
  // non-empty, unique, and free of '"', '\\', '/', '+', '#' and control
  // characters (they end up in JSON strings and MQTT topic levels).
  std::vector<std::string> zones = {"nord", "sud", "est", "ouest"};
  // Length of the run in event time: messages have ts in
  // [start_ms, start_ms + duration_ms). Ignored when count > 0. Default: 1h.
  int64_t duration_ms = 3600000;
  // When > 0: exactly this many lines (malformed ones included), however
  // long that takes in event time. Default: 0 (use duration_ms).
  int64_t count = 0;
  // Each device reports once per period; reading k of a device falls in
  // [start + k*period, start + (k+1)*period) (fixed per-device phase plus
  // jitter), so consecutive gaps lie in (0.8, 1.2) periods. Default: 10s.
  int64_t period_ms = 10000;
  // Seeds everything. Default: 42.
  uint64_t seed = 42;
  // Any of "spike", "drift", "dropout", "stuck", "malformed", or "all".
  // Enabling one kind does not change the readings it does not touch.
  // Default: none.
  std::vector<std::string> anomalies = {};
  // Default: kMillis.
  TsFormat ts_format = TsFormat::kMillis;
  // First possible event time, epoch ms. Default: 2024-11-22T00:00:00Z.
  int64_t start_ms = 1732233600000;
};

// Returns OK, or InvalidArgument naming the option, what was found and what
// is accepted (an unknown anomaly lists the valid names and suggests the
// nearest one).
Status ValidateSimOptions(const SimOptions& opts);

// Streams the simulated messages one line at a time, in event-time order
// (ties broken by device index). Lifecycle: Create, then Next until it
// returns false. Holds O(devices) memory.
class WarehouseGenerator {
 public:
  // Validates `opts` (see ValidateSimOptions) and plans the anomalies.
  static Result<WarehouseGenerator> Create(const SimOptions& opts);

  WarehouseGenerator(WarehouseGenerator&&) noexcept;
  WarehouseGenerator& operator=(WarehouseGenerator&&) noexcept;
  ~WarehouseGenerator();

  // Replaces *line with the next message (no trailing newline; possibly
  // malformed when that anomaly is on) and sets *ts_ms to its event time.
  // Returns false, leaving both untouched, when the run is over.
  bool Next(std::string* line, int64_t* ts_ms);

  // Device and zone of the line last returned by Next (empty before the
  // first). Views stay valid as long as the generator lives.
  std::string_view device() const;
  std::string_view zone() const;

  // Lines returned by Next so far.
  int64_t lines_emitted() const;

 private:
  friend Result<int64_t> GenerateWarehouse(const SimOptions& opts, std::ostream& out);
  struct Impl;
  explicit WarehouseGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes the whole run to `out` as NDJSON (one message per line, '\n'
// terminated) in chunks of about 1 MiB. Returns the number of lines written,
// InvalidArgument for bad options, or IoError when `out` fails.
Result<int64_t> GenerateWarehouse(const SimOptions& opts, std::ostream& out);

// Parses a duration such as "250ms", "10s", "5m", "6h", "1d" or "1h30m"
// (units ms s m h d; a unit is required). Returns milliseconds or
// InvalidArgument.
Result<int64_t> ParseSimDuration(std::string_view text);

// Parses a start time: epoch milliseconds ("1732233600000") or ISO-8601
// ("2024-11-22", "2024-11-22T00:00:00Z", "2024-11-22T01:00:00.5+01:00";
// no offset means UTC). Returns epoch ms or InvalidArgument.
Result<int64_t> ParseSimStart(std::string_view text);

// Registers --devices --zones --duration --count --period --seed
// --anomalies --ts --start and --out on `sub`, writing into *opts and
// *out_path (default "-", meaning stdout). Durations and start times are
// checked at parse time (CLI11 reports them); the caller still runs
// ValidateSimOptions after parsing. `opts` and `out_path` must outlive `sub`.
void AddSimOptions(CLI::App* sub, SimOptions* opts, std::string* out_path);

}  // namespace vigil::sim
