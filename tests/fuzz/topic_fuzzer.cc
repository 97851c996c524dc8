// Fuzz target: MQTT topic filters (vigil/engine/topic_filter.h) and topic
// templates (bridges/src/mqtt/topic_pattern.h).
//
// Input: a pattern, '\n', a topic. The pattern is read as a subscription
// filter, a `topic_tags` template and a sink topic template. Oracles,
// besides the sanitizers:
//  - TopicMatches agrees with a plain level-by-level reference matcher for
//    every filter CheckTopicFilter accepts;
//  - a topic a tag template extracts tags from is matched by the same
//    template with '+' for each tag level, and its tag values hold no '/';
//  - a rendered sink topic holds no '+' or '#', and exactly the '/' of the
//    template's literal text, whatever the placeholder values.
// Thread-safety: single-threaded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "mqtt/topic_pattern.h"

namespace {

std::vector<std::string_view> Levels(std::string_view s) {
  std::vector<std::string_view> levels;
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(s.substr(start));
      return levels;
    }
    levels.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

// MQTT 3.1.1 section 4.7, written the obvious way.
bool ReferenceMatch(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) return false;
  const std::vector<std::string_view> f = Levels(filter), t = Levels(topic);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

void CheckTagTemplate(std::string_view pattern, std::string_view topic) {
  auto t = vigil::bridges::TopicTagTemplate::Parse(pattern);
  if (!t.ok()) return;
  const std::vector<std::string> names = t->tag_names();
  size_t calls = 0;
  const bool fits = t->Extract(topic, [&](int index, std::string_view value) {
    FUZZ_CHECK(index >= 0 && static_cast<size_t>(index) < names.size());
    FUZZ_CHECK(value.find('/') == std::string_view::npos);
    ++calls;
  });
  if (!fits) {
    FUZZ_CHECK(calls == 0);
    return;
  }
  FUZZ_CHECK(calls == names.size());
  std::string filter;
  for (std::string_view level : Levels(pattern)) {
    const bool tag = level.size() >= 2 && level.front() == '{' && level.back() == '}';
    filter += tag ? std::string_view("+") : level;
    filter += '/';
  }
  filter.pop_back();
  FUZZ_CHECK(vigil::TopicMatches(filter, topic) || (!topic.empty() && topic[0] == '$'));
}

void CheckSinkTemplate(std::string_view pattern, std::string_view value) {
  auto t = vigil::bridges::TopicTemplate::Parse(pattern);
  if (!t.ok()) return;
  const std::string v(value);
  size_t literal_slashes = 0;
  const std::string rendered = t->Render([&](const std::string& name) -> const std::string* {
    return name.size() % 2 ? &v : nullptr;  // some placeholders known, others not
  });
  // The literal text is the pattern without its {placeholders}.
  bool in_placeholder = false;
  for (char c : pattern) {
    if (c == '{') in_placeholder = true;
    else if (c == '}') in_placeholder = false;
    else if (c == '/' && !in_placeholder) ++literal_slashes;
  }
  size_t slashes = 0;
  for (char c : rendered) {
    FUZZ_CHECK(c != '+' && c != '#');
    if (c == '/') ++slashes;
  }
  FUZZ_CHECK(slashes == literal_slashes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  const std::string_view pattern = input.substr(0, nl);
  const std::string_view topic = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  if (vigil::CheckTopicFilter(pattern).empty()) {
    FUZZ_CHECK(vigil::TopicMatches(pattern, topic) == ReferenceMatch(pattern, topic));
  }
  CheckTagTemplate(pattern, topic);
  CheckSinkTemplate(pattern, topic);
  return 0;
}
