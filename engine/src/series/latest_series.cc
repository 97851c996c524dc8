// Engine::LatestSeriesJson (GET /api/v1/series/latest): the shards'
// latest-value tables (pipeline/latest_table.h) read through
// Pipeline::ForEachLatest, named with the key table's tag values and the
// schema's field names.
#include <algorithm>
#include <string>
#include <vector>

#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/engine.h"

namespace vigil {

namespace {

struct FoundSeries {
  std::string tags;  // the "tags" object, tags in schema order
  int64_t ts = 0;
  std::vector<double> fields;
};

// "zone, device": the tags a filter may name.
std::string TagList(const Schema& schema, const std::vector<bool>& key_tag) {
  std::string out;
  for (uint32_t t = 0; t < key_tag.size(); ++t) {
    if (key_tag[t]) out += (out.empty() ? "" : ", ") + schema.tag_name(t);
  }
  return out;
}

}  // namespace

Result<std::string> Engine::LatestSeriesJson(const SeriesQuery& query) const {
  // A series carries the tags of its keys: the tags of the rules' keys.
  std::vector<bool> key_tag(schema_.tag_count(), false);
  for (uint32_t k = 0; k < schema_.keylist_count(); ++k) {
    for (uint32_t t : schema_.keylist(k)) key_tag[t] = true;
  }
  std::vector<std::pair<uint32_t, const std::string*>> filter;
  for (const auto& [name, value] : query.tags) {
    const int t = schema_.FindTag(name);
    if (t < 0 || !key_tag[static_cast<uint32_t>(t)]) {
      const std::string known = TagList(schema_, key_tag);
      return Status::InvalidArgument("unknown tag '" + name + "': series carry the tags of the rules' keys (" +
                                     (known.empty() ? std::string("no rule has a key") : known) + ")");
    }
    filter.emplace_back(static_cast<uint32_t>(t), &value);
  }
  if (!options_.track_latest) return Status::Unsupported("latest values are not kept in this mode");

  std::vector<FoundSeries> found;
  bool truncated = false;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    if (live_pipeline_ == nullptr || live_keys_ == nullptr) {
      return Status::Unsupported("the engine is not running (starting, reloading or stopping); retry");
    }
    std::vector<const std::string*> values(schema_.tag_count());
    const KeyTable& keys = *live_keys_;
    live_pipeline_->ForEachLatest([&](const LatestValues& v) {
      std::fill(values.begin(), values.end(), nullptr);
      // The series' own key first: its values win over older keys.
      auto take = [&](uint32_t k) {
        if (v.keys[k] == kNoKey) return;
        const KeyInfo& info = keys.Get(v.keys[k]);
        const std::vector<uint32_t>& slots = schema_.keylist(k);
        for (size_t i = 0; i < slots.size() && i < info.values.size(); ++i) {
          if (values[slots[i]] == nullptr) values[slots[i]] = &info.values[i];
        }
      };
      take(v.keylist);
      for (uint32_t k = 0; k < schema_.keylist_count(); ++k) {
        if (k != v.keylist) take(k);
      }
      for (const auto& [t, want] : filter) {
        if (values[t] == nullptr || *values[t] != *want) return true;
      }
      if (found.size() >= query.limit) {
        truncated = true;
        return false;
      }
      FoundSeries s;
      s.tags = "{";
      for (uint32_t t = 0; t < values.size(); ++t) {
        if (values[t] == nullptr) continue;
        if (s.tags.size() > 1) s.tags += ',';
        AppendJsonString(&s.tags, schema_.tag_name(t));
        s.tags += ':';
        AppendJsonString(&s.tags, *values[t]);
      }
      s.tags += '}';
      s.ts = v.ts;
      s.fields.assign(v.fields, v.fields + schema_.field_count());
      found.push_back(std::move(s));
      return true;
    });
  }
  std::sort(found.begin(), found.end(), [](const FoundSeries& a, const FoundSeries& b) { return a.tags < b.tags; });

  std::string j = "{\"series\":[";
  for (size_t i = 0; i < found.size(); ++i) {
    const FoundSeries& s = found[i];
    if (i) j += ',';
    j += "{\"tags\":" + s.tags + ",\"ts\":" + std::to_string(s.ts) + ",\"fields\":{";
    bool first = true;
    for (uint32_t f = 0; f < s.fields.size(); ++f) {
      if (IsNull(s.fields[f])) continue;
      if (!first) j += ',';
      first = false;
      AppendJsonString(&j, schema_.field_path(f));
      j += ':';
      AppendJsonNumber(&j, s.fields[f]);
    }
    j += "}}";
  }
  j += "],\"truncated\":";
  j += truncated ? "true" : "false";
  j += '}';
  return j;
}

}  // namespace vigil
