// MQTT topic filters (`+` one level, `#` the rest) and how a rule's
// `match: {topic: FILTER}` reaches the rules.
//
// A source that carries topics (MQTT) fills, for every message, the tag
// `topic` (the topic name) when the schema has it, and for each schema tag
// named TopicFilterTag(filter) the value "1" when its topic matches the
// filter: a topic match is then an ordinary tag equality for the rules.
// Sources without topics never set them, so such a rule sees none of their
// messages. Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace vigil {

// The schema tag name standing for "the topic matches `filter`".
inline constexpr std::string_view kTopicFilterTagPrefix = "\x01topic-matches:";
inline std::string TopicFilterTag(std::string_view filter) {
  return std::string(kTopicFilterTagPrefix) + std::string(filter);
}
// The value of such a tag when the topic matches.
inline constexpr std::string_view kTopicFilterMatched = "1";

// True when `topic` matches the MQTT subscription filter `filter` (MQTT 3.1.1
// section 4.7: `+` one level, `#` the rest including the parent level; a topic
// starting with `$` is not matched by a leading wildcard).
bool TopicMatches(std::string_view filter, std::string_view topic);

// Checks a subscription filter: non-empty, `#` only as the whole last level,
// `+` alone in its level. Returns an error text, or empty.
std::string CheckTopicFilter(std::string_view filter);

}  // namespace vigil
