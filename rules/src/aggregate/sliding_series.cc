// SlidingSeries implementation; see sliding_series.h. Single-threaded: owned
// by one shard.
//
// Numerical stability of sum/avg/stddev under millions of add/remove:
// every running sum is a TwoSum-compensated sum, the moments are kept on
// values shifted by `shift_` (a sample value near the mean, so the shifted
// sums do not cancel), and the sums are recomputed exactly from the buffer
//  - whenever the removals since the last recompute exceed the buffer size
//    (amortised O(1)): bounds the slow drift of the compensation term;
//  - when a removed term dwarfs what remains (> kResidualRatio times the sum
//    of magnitudes left): a compensated sum keeps a residue of ~eps^2 times
//    the largest term it ever held, which would swamp e.g. 1e-7 values left
//    after a 1e12 one; each such recompute needs a 1e12 drop in scale, so at
//    most a few dozen can chain;
//  - when the mean has moved so far from `shift_` that the variance would
//    suffer cancellation (MaybeRecenter).
#include "aggregate/sliding_series.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "vigil/engine/codec.h"

namespace vigil::rules {
namespace {

constexpr size_t kMinCapacity = 8;
constexpr uint8_t kSerialVersion = 1;
constexpr size_t kSampleBytes = 16;
// A removed term larger than this times the magnitude left triggers a
// recompute (see the file comment).
constexpr double kResidualRatio = 1e12;

// Branch-free binary searches over a sorted range: the values of a sensor are
// noisy, so the branches of std::lower_bound mispredict about half the time,
// which costs more than the search itself on windows of a few hundred.
// FirstNotLess is std::lower_bound, FirstGreater std::upper_bound.
size_t FirstNotLess(const double* data, size_t n, double v) {
  if (n == 0) return 0;
  const double* base = data;
  while (n > 1) {
    size_t half = n / 2;
    base = base[half] < v ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - data) + (*base < v);
}

size_t FirstGreater(const double* data, size_t n, double v) {
  if (n == 0) return 0;
  const double* base = data;
  while (n > 1) {
    size_t half = n / 2;
    base = base[half] <= v ? base + half : base;
    n -= half;
  }
  return static_cast<size_t>(base - data) + (*base <= v);
}

// ts <= now - W, without overflowing when now is near INT64_MIN.
int64_t EvictionCutoff(int64_t now_ts, int64_t window_ms) {
  int64_t cutoff;
  if (__builtin_sub_overflow(now_ts, window_ms, &cutoff)) return std::numeric_limits<int64_t>::min();
  return cutoff;
}

}  // namespace

SlidingSeries::SlidingSeries(int64_t window_ms, AggMask kinds)
    : window_ms_(window_ms),
      kinds_(kinds & kAllAggKinds),
      track_sum_(HasKind(kinds, AggKind::kAvg) || HasKind(kinds, AggKind::kSum)),
      track_moments_(HasKind(kinds, AggKind::kStddev)),
      track_min_(HasKind(kinds, AggKind::kMin)),
      track_max_(HasKind(kinds, AggKind::kMax)),
      track_changes_(HasKind(kinds, AggKind::kChanges)),
      track_sorted_((kinds & kPercentileKinds) != 0) {}

void SlidingSeries::Add(int64_t ts, double v) {
  if (size() == capacity_) Reallocate(capacity_ == 0 ? kMinCapacity : 2 * capacity_);
  bool was_empty = empty();
  if (was_empty) ResetAccumulators();
  uint64_t seq = tail_++;
  ring_[seq & mask_] = Sample{ts, v};

  if (track_sum_) {
    sum_.Add(v);
    abs_sum_ += std::abs(v);
  }
  if (track_moments_) {
    if (was_empty) shift_ = v;
    double d = v - shift_;
    shifted_sum_.Add(d);
    shifted_squares_.Add(d * d);
  }
  if (track_changes_ && !was_empty && v != At(seq - 1).value) ++changes_;
  if (track_min_) PushDeque(&min_deque_, seq, /*want_min=*/true);
  if (track_max_) PushDeque(&max_deque_, seq, /*want_min=*/false);
  if (track_sorted_) InsertSorted(v);
  if (track_moments_ && !was_empty) MaybeRecenter();
}

void SlidingSeries::Evict(int64_t now_ts) {
  if (empty()) return;
  int64_t cutoff = EvictionCutoff(now_ts, window_ms_);
  if (At(head_).ts > cutoff) return;
  do {
    PopFront();
  } while (!empty() && At(head_).ts <= cutoff);

  if (empty()) {
    ResetAccumulators();
  } else if (recompute_due_ || removals_since_recompute_ > size()) {
    Recompute();
  } else if (track_moments_) {
    MaybeRecenter();
  }
  MaybeShrink();
}

void SlidingSeries::PopFront() {
  uint64_t seq = head_;
  const Sample& s = At(seq);
  if (track_sum_) {
    double magnitude = std::abs(s.value);
    sum_.Add(-s.value);
    abs_sum_ -= magnitude;
    if (magnitude > kResidualRatio * abs_sum_) recompute_due_ = true;
  }
  if (track_moments_) {
    double d = s.value - shift_;
    double square = d * d;
    shifted_sum_.Add(-d);
    shifted_squares_.Add(-square);
    if (square > kResidualRatio * shifted_squares_.Value()) recompute_due_ = true;
  }
  if (track_changes_ && seq + 1 < tail_ && s.value != At(seq + 1).value) --changes_;
  if (track_min_ && min_deque_.seqs[min_deque_.head & mask_] == seq) ++min_deque_.head;
  if (track_max_ && max_deque_.seqs[max_deque_.head & mask_] == seq) ++max_deque_.head;
  if (track_sorted_) {
    EraseSorted(s.value);
  }
  ++head_;
  ++removals_since_recompute_;
}

// The ring's capacity is reserved in sorted_, so neither call allocates.
void SlidingSeries::InsertSorted(double v) {
  size_t n = sorted_.size();
  size_t pos = FirstGreater(sorted_.data(), n, v);
  sorted_.push_back(v);
  double* data = sorted_.data();
  std::memmove(data + pos + 1, data + pos, (n - pos) * sizeof(double));
  data[pos] = v;
}

void SlidingSeries::EraseSorted(double v) {
  size_t n = sorted_.size();
  size_t pos = FirstNotLess(sorted_.data(), n, v);
  if (pos >= n) return;
  double* data = sorted_.data();
  std::memmove(data + pos, data + pos + 1, (n - pos - 1) * sizeof(double));
  sorted_.pop_back();
}

// Keeps the deque's values strictly monotonic from front to back, so its
// front is the min (or max) of the samples still in the ring; a newer sample
// with an equal value replaces the older one.
void SlidingSeries::PushDeque(SeqDeque* deque, uint64_t seq, bool want_min) {
  double v = At(seq).value;
  while (!deque->empty()) {
    double back = At(deque->seqs[(deque->tail - 1) & mask_]).value;
    bool dominated = want_min ? back >= v : back <= v;
    if (!dominated) break;
    --deque->tail;
  }
  deque->seqs[deque->tail++ & mask_] = seq;
}

// Moves every structure to rings of `new_capacity` (a power of two >= size).
// Sequence numbers are absolute, so entries only change position.
void SlidingSeries::Reallocate(size_t new_capacity) {
  uint64_t new_mask = new_capacity - 1;
  auto ring = std::make_unique_for_overwrite<Sample[]>(new_capacity);
  for (uint64_t seq = head_; seq != tail_; ++seq) ring[seq & new_mask] = At(seq);

  auto move_deque = [&](SeqDeque* deque) {
    auto seqs = std::make_unique_for_overwrite<uint64_t[]>(new_capacity);
    for (uint64_t i = deque->head; i != deque->tail; ++i) seqs[i & new_mask] = deque->seqs[i & mask_];
    deque->seqs = std::move(seqs);
  };
  if (track_min_) move_deque(&min_deque_);
  if (track_max_) move_deque(&max_deque_);
  if (track_sorted_) {
    if (new_capacity > sorted_.capacity()) {
      sorted_.reserve(new_capacity);
    } else {
      std::vector<double> smaller;
      smaller.reserve(new_capacity);
      smaller.assign(sorted_.begin(), sorted_.end());
      sorted_.swap(smaller);
    }
  }
  ring_ = std::move(ring);
  capacity_ = new_capacity;
  mask_ = new_mask;
}

void SlidingSeries::ResetAccumulators() {
  sum_ = CompensatedSum{};
  abs_sum_ = 0.0;
  shift_ = 0.0;
  shifted_sum_ = CompensatedSum{};
  shifted_squares_ = CompensatedSum{};
  removals_since_recompute_ = 0;
  recompute_due_ = false;
  changes_ = 0;
}

// Exact rebuild of the running sums from the buffer. For the moments the new
// shift is the sample nearest the mean: then (mean - shift)^2 <= variance,
// so the shifted sums are well conditioned again.
void SlidingSeries::Recompute() {
  removals_since_recompute_ = 0;
  recompute_due_ = false;
  if (!track_sum_ && !track_moments_) return;
  CompensatedSum total;
  CompensatedSum magnitudes;
  for (uint64_t seq = head_; seq != tail_; ++seq) {
    total.Add(At(seq).value);
    magnitudes.Add(std::abs(At(seq).value));
  }
  if (track_sum_) {
    sum_ = total;
    abs_sum_ = magnitudes.Value();
  }
  if (!track_moments_) return;

  double mean = total.Value() / static_cast<double>(size());
  double nearest = At(head_).value;
  for (uint64_t seq = head_; seq != tail_; ++seq) {
    double v = At(seq).value;
    if (std::abs(v - mean) < std::abs(nearest - mean)) nearest = v;
  }
  shift_ = nearest;
  shifted_sum_ = CompensatedSum{};
  shifted_squares_ = CompensatedSum{};
  for (uint64_t seq = head_; seq != tail_; ++seq) {
    double d = At(seq).value - shift_;
    shifted_sum_.Add(d);
    shifted_squares_.Add(d * d);
  }
}

// Variance from shifted sums loses about log2(1 + mean_d^2 / var) bits to
// cancellation, mean_d = mean - shift. Recompute (and re-shift) once
// mean_d^2 > 64 var, i.e. 65 s1^2 > 64 n s2, keeping the loss under 7 bits.
// Right after a recompute mean_d^2 <= var, so the mean has to move by 8
// standard deviations before this fires again: amortised O(1).
void SlidingSeries::MaybeRecenter() {
  double n = static_cast<double>(size());
  double s1 = shifted_sum_.Value();
  double s2 = shifted_squares_.Value();
  if (65.0 * s1 * s1 > 64.0 * n * s2) Recompute();
}

// Halve twice when at most 1/8 full: the hysteresis keeps a steady window
// from reallocating.
void SlidingSeries::MaybeShrink() {
  if (capacity_ <= kMinCapacity) return;
  if (size() * 8 > capacity_) return;
  Reallocate(std::max(kMinCapacity, capacity_ / 4));
}

double SlidingSeries::Value(AggKind kind) const {
  size_t n = size();
  if (kind == AggKind::kCount) return static_cast<double>(n);
  if (n == 0) return kNull;
  const Sample& first = At(head_);
  const Sample& last = At(tail_ - 1);
  switch (kind) {
    case AggKind::kFirst: return first.value;
    case AggKind::kLast: return last.value;
    case AggKind::kDelta: return last.value - first.value;
    case AggKind::kRate: {
      if (n < 2 || last.ts == first.ts) return kNull;
      return (last.value - first.value) / (static_cast<double>(last.ts - first.ts) / 1000.0);
    }
    default: break;
  }
  if (!HasKind(kinds_, kind)) return ScanValue(kind);
  switch (kind) {
    case AggKind::kAvg: return sum_.Value() / static_cast<double>(n);
    case AggKind::kSum: return sum_.Value();
    case AggKind::kMin: return At(min_deque_.seqs[min_deque_.head & mask_]).value;
    case AggKind::kMax: return At(max_deque_.seqs[max_deque_.head & mask_]).value;
    case AggKind::kStddev: {
      if (n == 1) return 0.0;
      double mean_d = shifted_sum_.Value() / static_cast<double>(n);
      double var = shifted_squares_.Value() / static_cast<double>(n) - mean_d * mean_d;
      return var > 0.0 ? std::sqrt(var) : 0.0;
    }
    case AggKind::kChanges: return static_cast<double>(changes_);
    case AggKind::kP50:
    case AggKind::kP90:
    case AggKind::kP95:
    case AggKind::kP99: return LinearQuantileSorted(sorted_.data(), n, QuantileOf(kind));
    default: return ScanValue(kind);
  }
}

// O(n) answer for a kind the series was not configured to maintain.
double SlidingSeries::ScanValue(AggKind kind) const {
  size_t n = size();
  std::vector<double> values;
  values.reserve(n);
  for (uint64_t seq = head_; seq != tail_; ++seq) values.push_back(At(seq).value);
  switch (kind) {
    case AggKind::kAvg:
    case AggKind::kSum: {
      CompensatedSum total;
      for (double v : values) total.Add(v);
      return kind == AggKind::kSum ? total.Value() : total.Value() / static_cast<double>(n);
    }
    case AggKind::kMin: return *std::min_element(values.begin(), values.end());
    case AggKind::kMax: return *std::max_element(values.begin(), values.end());
    case AggKind::kStddev: {
      CompensatedSum total;
      for (double v : values) total.Add(v);
      double mean = total.Value() / static_cast<double>(n);
      CompensatedSum squares;
      for (double v : values) squares.Add((v - mean) * (v - mean));
      return std::sqrt(squares.Value() / static_cast<double>(n));
    }
    case AggKind::kChanges: {
      size_t changes = 0;
      for (size_t i = 1; i < n; ++i) changes += values[i] != values[i - 1];
      return static_cast<double>(changes);
    }
    case AggKind::kP50:
    case AggKind::kP90:
    case AggKind::kP95:
    case AggKind::kP99:
      std::sort(values.begin(), values.end());
      return LinearQuantileSorted(values.data(), n, QuantileOf(kind));
    default: return kNull;
  }
}

size_t SlidingSeries::MemoryBytes() const {
  size_t bytes = sizeof(*this) + capacity_ * sizeof(Sample);
  if (track_min_) bytes += capacity_ * sizeof(uint64_t);
  if (track_max_) bytes += capacity_ * sizeof(uint64_t);
  bytes += sorted_.capacity() * sizeof(double);
  return bytes;
}

// Layout (little-endian): u8 version, i64 W, u32 kinds, u64 n, n x (i64 ts,
// f64 value) in arrival order, then the running sums (f64 sum, sum comp,
// sum of magnitudes, shift, shifted sum, comp, shifted squares, comp) and
// u64 removals since the last recompute. Deques, sorted values and changes are rebuilt.
// The running sums, which are not a function of the samples alone (they
// carry the rounding of every add and remove since the last recompute).
void SlidingSeries::PutAccumulators(std::string* out) const {
  PutDouble(out, sum_.sum);
  PutDouble(out, sum_.comp);
  PutDouble(out, abs_sum_);
  PutDouble(out, shift_);
  PutDouble(out, shifted_sum_.sum);
  PutDouble(out, shifted_sum_.comp);
  PutDouble(out, shifted_squares_.sum);
  PutDouble(out, shifted_squares_.comp);
  PutFixed64(out, removals_since_recompute_);
}

bool SlidingSeries::GetAccumulators(Decoder* dec) {
  return dec->GetDouble(&sum_.sum) && dec->GetDouble(&sum_.comp) && dec->GetDouble(&abs_sum_) &&
         dec->GetDouble(&shift_) && dec->GetDouble(&shifted_sum_.sum) && dec->GetDouble(&shifted_sum_.comp) &&
         dec->GetDouble(&shifted_squares_.sum) && dec->GetDouble(&shifted_squares_.comp) &&
         dec->GetFixed64(&removals_since_recompute_);
}

void SlidingSeries::Serialize(std::string* out) const {
  out->reserve(out->size() + 1 + 8 + 4 + 8 + size() * kSampleBytes + 8 * 8 + 8);
  PutFixed8(out, kSerialVersion);
  PutInt64(out, window_ms_);
  PutFixed32(out, kinds_);
  PutFixed64(out, size());
  for (uint64_t seq = head_; seq != tail_; ++seq) {
    PutInt64(out, At(seq).ts);
    PutDouble(out, At(seq).value);
  }
  PutAccumulators(out);
}

bool SlidingSeries::Deserialize(std::string_view in) {
  Decoder dec(in);
  uint8_t version = 0;
  int64_t window_ms = 0;
  uint32_t kinds = 0;
  uint64_t n = 0;
  if (!dec.GetFixed8(&version) || version != kSerialVersion) return false;
  if (!dec.GetInt64(&window_ms) || window_ms != window_ms_) return false;
  if (!dec.GetFixed32(&kinds) || kinds != kinds_) return false;
  if (!dec.GetFixed64(&n) || n > dec.remaining() / kSampleBytes) return false;

  SlidingSeries restored(window_ms_, kinds_);
  for (uint64_t i = 0; i < n; ++i) {
    int64_t ts;
    double v;
    if (!dec.GetInt64(&ts) || !dec.GetDouble(&v) || std::isnan(v)) return false;
    restored.Add(ts, v);
  }
  if (!restored.GetAccumulators(&dec) || !dec.AtEnd()) return false;
  *this = std::move(restored);
  return true;
}

namespace {
constexpr uint8_t kSummaryVersion = 1;
}  // namespace

void SlidingSeries::SerializeSummary(std::string* out) const {
  PutFixed8(out, kSummaryVersion);
  PutInt64(out, window_ms_);
  PutFixed32(out, kinds_);
  PutFixed64(out, head_);
  PutFixed64(out, tail_);
  PutAccumulators(out);
}

void SlidingSeries::AppendSamples(uint64_t from_seq, uint64_t to_seq, std::string* out) const {
  if (from_seq < head_) from_seq = head_;
  if (to_seq > tail_) to_seq = tail_;
  for (uint64_t seq = from_seq; seq < to_seq; ++seq) {
    PutInt64(out, At(seq).ts);
    PutDouble(out, At(seq).value);
  }
}

bool SlidingSeries::SummaryRange(std::string_view summary, uint64_t* head, uint64_t* tail) {
  Decoder dec(summary);
  uint8_t version = 0;
  int64_t w = 0;
  uint32_t kinds = 0;
  return dec.GetFixed8(&version) && version == kSummaryVersion && dec.GetInt64(&w) && dec.GetFixed32(&kinds) &&
         dec.GetFixed64(head) && dec.GetFixed64(tail) && *head <= *tail;
}

bool SlidingSeries::Restore(std::string_view summary, std::string_view samples) {
  Decoder dec(summary);
  uint8_t version = 0;
  int64_t window_ms = 0;
  uint32_t kinds = 0;
  uint64_t head = 0, tail = 0;
  if (!dec.GetFixed8(&version) || version != kSummaryVersion) return false;
  if (!dec.GetInt64(&window_ms) || window_ms != window_ms_) return false;
  if (!dec.GetFixed32(&kinds) || kinds != kinds_) return false;
  if (!dec.GetFixed64(&head) || !dec.GetFixed64(&tail) || head > tail) return false;
  if (samples.size() != (tail - head) * kSampleBytes) return false;
  SlidingSeries restored(window_ms_, kinds_);
  restored.head_ = restored.tail_ = head;
  Decoder in(samples);
  for (uint64_t seq = head; seq < tail; ++seq) {
    int64_t ts;
    double v;
    if (!in.GetInt64(&ts) || !in.GetDouble(&v) || std::isnan(v)) return false;
    restored.Add(ts, v);
  }
  if (!restored.GetAccumulators(&dec) || !dec.AtEnd() || restored.tail_ != tail) return false;
  *this = std::move(restored);
  return true;
}

}  // namespace vigil::rules
