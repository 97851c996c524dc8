// MQTT topic filters and templates.
#include "mqtt/topic_pattern.h"

namespace vigil::bridges {

Result<TopicTagTemplate> TopicTagTemplate::Parse(std::string_view pattern) {
  TopicTagTemplate t;
  size_t start = 0;
  while (true) {
    const size_t slash = pattern.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level = pattern.substr(start, last ? slash : slash - start);
    Level l;
    if (level.size() >= 2 && level.front() == '{' && level.back() == '}') {
      l.tag = true;
      l.text = std::string(level.substr(1, level.size() - 2));
      if (l.text.empty() || l.text.find_first_of("{}") != std::string::npos) {
        return Status::InvalidArgument("topic_tags: bad placeholder '" + std::string(level) + "'");
      }
      for (const Level& other : t.levels_) {
        if (other.tag && other.text == l.text) {
          return Status::InvalidArgument("topic_tags: tag '" + l.text + "' appears twice");
        }
      }
      l.tag_index = t.tags_++;
    } else {
      if (level.find_first_of("{}") != std::string_view::npos) {
        return Status::InvalidArgument("topic_tags: a placeholder must be a whole level, as in 'entrepot/{zone}/v1' ('" +
                               std::string(level) + "')");
      }
      if (level == "+" || level == "#") {
        return Status::InvalidArgument("topic_tags: use '{name}' for a variable level, not '" + std::string(level) + "'");
      }
      l.text = std::string(level);
    }
    t.levels_.push_back(std::move(l));
    if (last) break;
    start = slash + 1;
  }
  if (t.tags_ == 0) return Status::InvalidArgument("topic_tags: no '{tag}' level in '" + std::string(pattern) + "'");
  if (t.tags_ > 64) return Status::InvalidArgument("topic_tags: more than 64 tag levels");
  return t;
}

std::vector<std::string> TopicTagTemplate::tag_names() const {
  std::vector<std::string> names;
  for (const Level& l : levels_) {
    if (l.tag) names.push_back(l.text);
  }
  return names;
}

Result<TopicTemplate> TopicTemplate::Parse(std::string_view pattern) {
  TopicTemplate t;
  size_t i = 0;
  while (i < pattern.size()) {
    const size_t open = pattern.find('{', i);
    if (open == std::string_view::npos) {
      t.parts_.emplace_back(false, std::string(pattern.substr(i)));
      break;
    }
    const size_t close = pattern.find('}', open);
    if (close == std::string_view::npos || close == open + 1) {
      return Status::InvalidArgument("topic template '" + std::string(pattern) + "': unclosed or empty '{'");
    }
    if (open > i) t.parts_.emplace_back(false, std::string(pattern.substr(i, open - i)));
    t.parts_.emplace_back(true, std::string(pattern.substr(open + 1, close - open - 1)));
    i = close + 1;
  }
  if (pattern.find_first_of("+#") != std::string_view::npos) {
    return Status::InvalidArgument("topic template '" + std::string(pattern) + "': '+' and '#' are not allowed in a topic name");
  }
  if (t.parts_.empty()) return Status::InvalidArgument("topic template must not be empty");
  return t;
}

}  // namespace vigil::bridges
