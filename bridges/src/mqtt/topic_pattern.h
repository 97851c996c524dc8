// MQTT topic templates (filters: vigil/engine/topic_filter.h): tag
// templates that turn topic levels into tags ("entrepot/{zone}/{sensor}/v1"),
// and sink topic templates filled from an alert ("alerts/{rule}/{zone}").
//
// Thread-safety: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/engine/status.h"
#include "vigil/engine/topic_filter.h"

namespace vigil::bridges {

// "entrepot/{zone}/{sensor}/v1": levels in braces become tags of that name,
// the others must equal the topic's level. A topic whose levels do not fit
// yields no tags.
class TopicTagTemplate {
 public:
  static Result<TopicTagTemplate> Parse(std::string_view pattern);
  TopicTagTemplate() = default;

  bool empty() const { return levels_.empty(); }
  // Tag names, in template order.
  std::vector<std::string> tag_names() const;
  // Calls fn(tag_index, value) for every tag level when the whole topic fits
  // the template; returns false (and calls nothing) when it does not.
  template <typename Fn>
  bool Extract(std::string_view topic, Fn&& fn) const;

 private:
  struct Level {
    std::string text;   // literal, or the tag name
    bool tag = false;
    int tag_index = -1;
  };
  std::vector<Level> levels_;
  int tags_ = 0;
};

// "alerts/{rule}/{zone}": `{rule}`, `{severity}`, `{state}`, `{id}` and any
// key tag of the alert; a placeholder the alert does not have renders as `_`.
// Characters that would change the topic's shape (`/`, `+`, `#`, NUL) in a
// value are replaced by `_`.
class TopicTemplate {
 public:
  static Result<TopicTemplate> Parse(std::string_view pattern);
  TopicTemplate() = default;
  // `lookup(name)` returns the value of a placeholder, or nullptr.
  template <typename Lookup>
  std::string Render(Lookup&& lookup) const;

 private:
  std::vector<std::pair<bool, std::string>> parts_;  // (placeholder?, text)
};

template <typename Fn>
bool TopicTagTemplate::Extract(std::string_view topic, Fn&& fn) const {
  std::string_view values[64];
  size_t level = 0, start = 0;
  while (true) {
    const size_t slash = topic.find('/', start);
    const std::string_view part = topic.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (level >= levels_.size()) return false;
    const Level& l = levels_[level];
    if (l.tag) {
      if (l.tag_index < 64) values[l.tag_index] = part;
    } else if (part != l.text) {
      return false;
    }
    ++level;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (level != levels_.size()) return false;
  for (int i = 0; i < tags_ && i < 64; ++i) fn(i, values[i]);
  return true;
}

template <typename Lookup>
std::string TopicTemplate::Render(Lookup&& lookup) const {
  std::string out;
  for (const auto& [placeholder, text] : parts_) {
    if (!placeholder) {
      out += text;
      continue;
    }
    const std::string* v = lookup(text);
    if (v == nullptr || v->empty()) {
      out += '_';
      continue;
    }
    for (char c : *v) out += (c == '/' || c == '+' || c == '#' || c == '\0') ? '_' : c;
  }
  return out;
}

}  // namespace vigil::bridges
