// MQTT topic filters.
#include "vigil/engine/topic_filter.h"

namespace vigil {

bool TopicMatches(std::string_view filter, std::string_view topic) {
  if (!topic.empty() && topic[0] == '$' && !filter.empty() && (filter[0] == '+' || filter[0] == '#')) return false;
  size_t f = 0, t = 0;
  while (true) {
    const size_t fe = filter.find('/', f);
    const std::string_view flevel = filter.substr(f, fe == std::string_view::npos ? fe : fe - f);
    if (flevel == "#") return true;  // the rest, including the parent level itself
    if (t > topic.size()) {
      return false;
    }
    const size_t te = topic.find('/', t);
    const std::string_view tlevel = topic.substr(t, te == std::string_view::npos ? te : te - t);
    if (flevel != "+" && flevel != tlevel) return false;
    const bool fend = fe == std::string_view::npos, tend = te == std::string_view::npos;
    if (fend && tend) return true;
    if (fend) return false;
    if (tend) {
      // "a/#" matches "a": only a trailing "#" may follow.
      return filter.substr(fe + 1) == "#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

std::string CheckTopicFilter(std::string_view filter) {
  if (filter.empty()) return "an MQTT topic filter must not be empty";
  size_t start = 0;
  while (true) {
    const size_t slash = filter.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level = filter.substr(start, last ? slash : slash - start);
    if (level.find('#') != std::string_view::npos && (level != "#" || !last)) {
      return "'#' must be the whole last level of a topic filter, as in 'entrepot/#'";
    }
    if (level.find('+') != std::string_view::npos && level != "+") {
      return "'+' must be a whole level of a topic filter, as in 'entrepot/+/temp'";
    }
    if (last) break;
    start = slash + 1;
  }
  return {};
}

}  // namespace vigil
