// Forwarder: turns accepted messages into points for one MeasurementSink
// (`forward: raw | window:<d>`), on the router thread.
//
// raw: each message is one point (its series' key tags, the schema fields it
// carries, its event time), handed over at once.
//
// window:<d>: per series and field, tumbling event-time windows [s, s + d)
// with s a multiple of d since the epoch. A message joins the window of its
// ts while that window is open; a window closes when the watermark reaches
// its end (the rules' window semantics, DESIGN.md), and each series with a
// message in it becomes one point at ts = s with, per field with values,
// `<field>_mean` (sum / count, summed in arrival order), `_min`, `_max` and
// `_count`. Windows close in order of start; within a window, points go in
// order of series (key list, then tag ids): deterministic for one input.
// A message whose window already closed is late: not counted in any
// window (late()). At the end of a finite input every open window closes
// (Finish(true)); at a stop or crash open windows are lost.
//
// After a restart (ResumeAfter) the windows that may hold messages
// processed before the checkpoint are incomplete in this run (their early
// messages are not re-read), so they are not written: a window is written
// only when this run saw all of it (skipped() counts the others).
//
// Memory: one aggregate per (open window, series, field): with a watermark
// that keeps up, about one or two windows of series.
//
// Thread-safety: router thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vigil/engine/event.h"
#include "vigil/engine/measurement_sink.h"
#include "vigil/engine/message.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

class Forwarder {
 public:
  // `schema` and `tags` must outlive the forwarder; `sink` too. `name`: the
  // sink's, for logs.
  Forwarder(const Schema& schema, const TagInterner& tags, MeasurementSink* sink, std::string name);

  // A message, after the watermark advanced to `watermark` (windows ending
  // at or before it close first).
  void OnMessage(const ParsedMessage& m, int64_t watermark) noexcept;
  // Closes the windows that end at or before `watermark`.
  void Advance(int64_t watermark) noexcept;
  // End of the run: with `close_all`, writes every open window (end of a
  // finite input); else drops them. Returns how many windows were open.
  size_t Finish(bool close_all) noexcept;
  // A restored run whose input before the checkpoint reached event time
  // `max_ts`: windows starting at or before it are not written.
  void ResumeAfter(int64_t max_ts) { resume_after_ = max_ts; }

  uint64_t late() const { return late_; }
  uint64_t skipped() const { return skipped_; }
  MeasurementSink* sink() const { return sink_; }
  const std::string& name() const { return name_; }

 private:
  struct Aggregate {
    double sum = 0, min = 0, max = 0;
    int64_t count = 0;
  };
  struct SeriesWindow {
    std::vector<Aggregate> fields;  // one per schema field
  };
  // The series key: the key list (or kNone) followed by its tag ids.
  using SeriesId = std::vector<uint32_t>;
  static constexpr uint32_t kNone = 0xffffffffu;

  void Series(const ParsedMessage& m, SeriesId* id) const;
  void AddTags(const SeriesId& id, MeasurementPoint* p) const;
  void CloseFront();

  const Schema& schema_;
  const TagInterner& tags_;
  MeasurementSink* sink_;
  std::string name_;
  ForwardSpec spec_;
  std::vector<uint32_t> series_order_;   // key lists, most tags first
  std::vector<std::string> names_;       // field paths (views point here)
  std::vector<std::string> tag_names_;   // tag names
  std::map<int64_t, std::map<SeriesId, SeriesWindow>> open_;  // by window start
  int64_t watermark_ = kMinTime;         // windows ending at or before it are closed
  int64_t resume_after_ = kMinTime;
  uint64_t late_ = 0;
  uint64_t skipped_ = 0;
  SeriesId scratch_id_;
  std::vector<MeasurementPoint> out_;    // reused
};

}  // namespace vigil
