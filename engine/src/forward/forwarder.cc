// Forwarder.
#include "forward/forwarder.h"

#include <algorithm>

namespace vigil {

namespace {

// The start of the tumbling window of size `d` holding `ts` (floor, also
// before the epoch).
int64_t WindowStart(int64_t ts, int64_t d) {
  int64_t r = ts % d;
  if (r < 0) r += d;
  return ts - r;
}

}  // namespace

Forwarder::Forwarder(const Schema& schema, const TagInterner& tags, MeasurementSink* sink, std::string name)
    : schema_(schema), tags_(tags), sink_(sink), name_(std::move(name)), spec_(sink->forward()) {
  for (uint32_t k = 0; k < schema_.keylist_count(); ++k) series_order_.push_back(k);
  std::stable_sort(series_order_.begin(), series_order_.end(), [this](uint32_t a, uint32_t b) {
    return schema_.keylist(a).size() > schema_.keylist(b).size();
  });
  for (uint32_t f = 0; f < schema_.field_count(); ++f) names_.push_back(schema_.field_path(f));
  for (uint32_t t = 0; t < schema_.tag_count(); ++t) tag_names_.push_back(schema_.tag_name(t));
  out_.resize(1);
}

// The finest complete key of the message, as LatestTable's series.
void Forwarder::Series(const ParsedMessage& m, SeriesId* id) const {
  id->clear();
  for (uint32_t k : series_order_) {
    const std::vector<uint32_t>& slots = schema_.keylist(k);
    const bool complete = std::all_of(slots.begin(), slots.end(), [&](uint32_t t) { return m.tags[t] != kNoTag; });
    if (!complete) continue;
    id->push_back(k);
    for (uint32_t t : slots) id->push_back(m.tags[t]);
    return;
  }
  id->push_back(kNone);
}

void Forwarder::AddTags(const SeriesId& id, MeasurementPoint* p) const {
  p->tags.clear();
  if (id.empty() || id[0] == kNone) return;
  const std::vector<uint32_t>& slots = schema_.keylist(id[0]);
  for (size_t i = 0; i < slots.size() && i + 1 < id.size(); ++i) {
    p->tags.push_back({tag_names_[slots[i]], tags_.Get(id[i + 1])});
  }
}

void Forwarder::OnMessage(const ParsedMessage& m, int64_t watermark) noexcept {
  Advance(watermark);
  Series(m, &scratch_id_);
  if (spec_.mode == ForwardMode::kRaw) {
    MeasurementPoint& p = out_[0];
    AddTags(scratch_id_, &p);
    p.fields.clear();
    for (size_t f = 0; f < m.fields.size() && f < names_.size(); ++f) {
      if (!IsNull(m.fields[f])) p.fields.push_back({names_[f], "", m.fields[f], false});
    }
    if (p.fields.empty()) return;  // a point needs a field
    p.ts = m.ts;
    out_.resize(1);
    sink_->Write(out_);
    return;
  }
  const int64_t start = WindowStart(m.ts, spec_.window_ms);
  if (watermark_ != kMinTime && start + spec_.window_ms <= watermark_) {
    ++late_;
    return;
  }
  bool any = false;
  for (size_t f = 0; f < m.fields.size(); ++f) any = any || !IsNull(m.fields[f]);
  if (!any) return;
  SeriesWindow& w = open_[start][scratch_id_];
  if (w.fields.empty()) w.fields.resize(names_.size());
  for (size_t f = 0; f < m.fields.size() && f < w.fields.size(); ++f) {
    const double v = m.fields[f];
    if (IsNull(v)) continue;
    Aggregate& a = w.fields[f];
    if (a.count == 0) {
      a.min = a.max = v;
    } else {
      a.min = std::min(a.min, v);
      a.max = std::max(a.max, v);
    }
    a.sum += v;
    ++a.count;
  }
}

void Forwarder::Advance(int64_t watermark) noexcept {
  if (spec_.mode != ForwardMode::kWindow || watermark <= watermark_) return;
  watermark_ = watermark;
  while (!open_.empty() && open_.begin()->first + spec_.window_ms <= watermark_) CloseFront();
}

size_t Forwarder::Finish(bool close_all) noexcept {
  const size_t open = open_.size();
  if (close_all) {
    while (!open_.empty()) CloseFront();
  }
  open_.clear();
  return open;
}

// Writes the oldest open window, one point per series, and forgets it.
void Forwarder::CloseFront() {
  auto it = open_.begin();
  const int64_t start = it->first;
  if (resume_after_ != kMinTime && start <= resume_after_) {
    ++skipped_;
    open_.erase(it);
    return;
  }
  out_.clear();
  for (const auto& [id, w] : it->second) {
    MeasurementPoint p;
    AddTags(id, &p);
    p.ts = start;
    for (size_t f = 0; f < w.fields.size(); ++f) {
      const Aggregate& a = w.fields[f];
      if (a.count == 0) continue;
      p.fields.push_back({names_[f], "_mean", a.sum / static_cast<double>(a.count), false});
      p.fields.push_back({names_[f], "_min", a.min, false});
      p.fields.push_back({names_[f], "_max", a.max, false});
      p.fields.push_back({names_[f], "_count", static_cast<double>(a.count), true});
    }
    out_.push_back(std::move(p));
  }
  if (!out_.empty()) sink_->Write(out_);
  open_.erase(it);
  out_.resize(1);
}

}  // namespace vigil
