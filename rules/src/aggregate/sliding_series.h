// SlidingSeries: the buffer behind the sliding aggregates `f(x, W)` of event
// rules. One instance holds, for one (field, W) of one key of one rule, every
// sample (ts, value) the rule saw carrying that field whose ts lies in
// (now - W, now], in arrival order, and answers every aggregate kind over it.
// Aggregates of different kinds over the same field and W share one instance.
//
// Thread-safety: none. An instance is owned by the shard that owns the key and
// is only touched from that shard's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/agg_kind.h"
#include "aggregate/agg_math.h"
#include "vigil/engine/codec.h"

namespace vigil::rules {

// Lifecycle: constructed when a key first carries the field (empty, nothing
// allocated); then, per message carrying the field, Add(ts, v) followed by
// Evict(ts) and any number of Value() calls. Move-only.
//
// Only the structures the configured kinds need are maintained:
//   always         ring of samples (count, first, last, delta, rate)
//   avg, sum       compensated running sum
//   stddev         compensated shifted sums of d and d^2, d = v - shift
//   min / max      monotonic deque of arrival sequence numbers
//   changes        running count of differing consecutive pairs
//   pNN            sorted vector of the values (binary-search insert/erase)
// Every update is amortised O(1), except pNN: O(log n) search plus an
// O(n) memmove of at most n doubles (fast for the few hundred samples of
// usual windows). The ring grows by doubling and shrinks to a quarter when
// it is at most 1/8 full, so steady state does not allocate.
class SlidingSeries {
 public:
  // `window_ms` is W (> 0); `kinds` the aggregates this series must answer
  // in O(1). Value() of a kind outside `kinds` still answers, by an O(n)
  // scan of the buffer (and an allocation for percentiles): configure it.
  SlidingSeries(int64_t window_ms, AggMask kinds);

  SlidingSeries(SlidingSeries&&) noexcept = default;
  SlidingSeries& operator=(SlidingSeries&&) noexcept = default;
  SlidingSeries(const SlidingSeries&) = delete;
  SlidingSeries& operator=(const SlidingSeries&) = delete;

  // Appends a sample at the back (arrival order; a late ts is kept where it
  // arrives, never reordered). `v` must not be NaN.
  void Add(int64_t ts, double v);

  // Removes from the front every sample with ts <= now_ts - W, stopping at
  // the first one that is newer: a late sample behind a newer one stays until
  // it reaches the front. A now_ts lower than before evicts nothing more.
  void Evict(int64_t now_ts);

  // The aggregate over the current contents, or NaN (NULL): count of nothing
  // is 0, any other aggregate of nothing is NaN; rate is NaN with fewer than
  // two samples or when the first and last samples share their ts.
  double Value(AggKind kind) const;

  size_t size() const { return static_cast<size_t>(tail_ - head_); }
  bool empty() const { return head_ == tail_; }
  int64_t window_ms() const { return window_ms_; }
  AggMask kinds() const { return kinds_; }

  // Heap plus inline bytes held by this instance.
  size_t MemoryBytes() const;

  // Appends the state to `*out`. Deserialize() into a series constructed
  // with the same W and kinds restores it exactly (every later Value() is
  // bit-identical to the original's). Deserialize returns false, leaving
  // this series unchanged, when `in` is truncated, has trailing bytes, an
  // unknown version, or was written with another W or kinds.
  void Serialize(std::string* out) const;
  bool Deserialize(std::string_view in);

  // Incremental checkpoints (EventRule): samples carry sequence numbers
  // [head_seq(), tail_seq()), increasing forever. A checkpoint writes each
  // sample once (AppendSamples: 16 bytes each, ts then value) and a small
  // summary (SerializeSummary: W, kinds, head, tail, running sums).
  // Restore(summary, samples) with the samples [head, tail) packed in
  // order rebuilds the series exactly, sequence numbers included; false,
  // leaving this unchanged, on any mismatch.
  uint64_t head_seq() const { return head_; }
  uint64_t tail_seq() const { return tail_; }
  void SerializeSummary(std::string* out) const;
  void AppendSamples(uint64_t from_seq, uint64_t to_seq, std::string* out) const;
  bool Restore(std::string_view summary, std::string_view samples);
  static bool SummaryRange(std::string_view summary, uint64_t* head, uint64_t* tail);

 private:
  struct Sample {
    int64_t ts;
    double value;
  };

  // Monotonic deque of arrival sequence numbers, a ring sharing the sample
  // ring's capacity (it never holds more entries than there are samples).
  struct SeqDeque {
    std::unique_ptr<uint64_t[]> seqs;
    uint64_t head = 0;
    uint64_t tail = 0;
    bool empty() const { return head == tail; }
  };

  const Sample& At(uint64_t seq) const { return ring_[seq & mask_]; }
  size_t capacity() const { return capacity_; }

  void PopFront();
  void PushDeque(SeqDeque* deque, uint64_t seq, bool want_min);
  void InsertSorted(double v);
  void EraseSorted(double v);
  void Reallocate(size_t new_capacity);
  void ResetAccumulators();
  void Recompute();
  void MaybeRecenter();
  void MaybeShrink();
  double ScanValue(AggKind kind) const;
  void PutAccumulators(std::string* out) const;
  bool GetAccumulators(Decoder* dec);

  int64_t window_ms_;
  AggMask kinds_;
  bool track_sum_;
  bool track_moments_;
  bool track_min_;
  bool track_max_;
  bool track_changes_;
  bool track_sorted_;

  // Samples with sequence numbers [head_, tail_) live at ring_[seq & mask_].
  std::unique_ptr<Sample[]> ring_;
  size_t capacity_ = 0;  // 0 or a power of two
  uint64_t mask_ = 0;
  uint64_t head_ = 0;
  uint64_t tail_ = 0;

  CompensatedSum sum_;
  double abs_sum_ = 0.0;  // sum of |value|, only a scale for recompute_due_
  double shift_ = 0.0;
  CompensatedSum shifted_sum_;
  CompensatedSum shifted_squares_;
  uint64_t removals_since_recompute_ = 0;
  bool recompute_due_ = false;  // set by PopFront, consumed by Evict
  uint64_t changes_ = 0;
  SeqDeque min_deque_;
  SeqDeque max_deque_;
  std::vector<double> sorted_;
};

}  // namespace vigil::rules
