// ConfigErrors and the YAML scalar readers.
#include "vigil/engine/config_errors.h"

#include <algorithm>
#include <charconv>

#include "vigil/engine/timestamp.h"

namespace vigil {

void ConfigErrors::Add(int line, int column, std::string message) {
  errors_.push_back({line, column, std::move(message)});
}

void ConfigErrors::Add(const YAML::Node& at, std::string message) {
  YAML::Mark m = at.IsDefined() ? at.Mark() : YAML::Mark::null_mark();
  if (m.is_null()) {
    Add(1, 1, std::move(message));
  } else {
    Add(m.line + 1, m.column + 1, std::move(message));
  }
}

void ConfigErrors::AddInScalar(const YAML::Node& at, size_t offset, std::string message) {
  YAML::Mark m = at.Mark();
  if (m.is_null()) {
    Add(1, 1, std::move(message));
    return;
  }
  const size_t line_no = static_cast<size_t>(m.line);
  const size_t col = static_cast<size_t>(m.column);
  if (line_no < lines_.size() && col < lines_[line_no].size() &&
      (lines_[line_no][col] == '\'' || lines_[line_no][col] == '"')) {
    // Walk the quoted source text, one decoded character at a time.
    const std::string& line = lines_[line_no];
    const char quote = line[col];
    size_t pos = col + 1;
    for (size_t decoded = 0; decoded < offset && pos < line.size(); ++decoded) {
      if (quote == '\'' && line[pos] == '\'' && pos + 1 < line.size() && line[pos + 1] == '\'') {
        pos += 2;
      } else if (quote == '"' && line[pos] == '\\' && pos + 1 < line.size()) {
        const char e = line[pos + 1];
        pos += e == 'x' ? 4 : e == 'u' ? 6 : e == 'U' ? 10 : 2;
      } else {
        ++pos;
      }
    }
    Add(m.line + 1, static_cast<int>(pos) + 1, std::move(message));
    return;
  }
  // Without the source: quoted scalars start one column before their text.
  const int quote = (at.Tag() == "!") ? 1 : 0;
  Add(m.line + 1, m.column + 1 + quote + static_cast<int>(offset), std::move(message));
}

void ConfigErrors::SetSource(const std::string& text) {
  lines_.clear();
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines_.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
}

std::vector<std::string> ConfigErrors::Formatted() const {
  std::vector<Entry> sorted = errors_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  std::vector<std::string> out;
  for (const auto& e : sorted) {
    out.push_back(file_ + ":" + std::to_string(e.line) + ":" + std::to_string(e.column) + ": " + e.message);
  }
  return out;
}

namespace {
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 3;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

void CheckKeys(const YAML::Node& node, const std::vector<std::string>& allowed, const std::string& what,
               ConfigErrors& errors) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string msg = "unknown key '" + key + "' in " + what;
    std::string hint = DidYouMean(key, allowed);
    if (!hint.empty()) {
      msg += " (did you mean '" + hint + "'?)";
    } else {
      msg += " (expected one of:";
      for (const auto& a : allowed) msg += " " + a;
      msg += ")";
    }
    errors.Add(kv.first, msg);
  }
}

void CheckKeys(const YAML::Node& node, std::initializer_list<const char*> allowed, const std::string& what,
               ConfigErrors& errors) {
  std::vector<std::string> list(allowed.begin(), allowed.end());
  CheckKeys(node, list, what, errors);
}

std::optional<std::string> ReadString(const YAML::Node& node, const std::string& what, ConfigErrors& errors) {
  if (!node.IsScalar()) {
    errors.Add(node, what + " must be a string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> ReadInt(const YAML::Node& node, const std::string& what, int64_t min, int64_t max,
                               ConfigErrors& errors) {
  if (!node.IsScalar()) {
    errors.Add(node, what + " must be an integer");
    return std::nullopt;
  }
  const std::string& s = node.Scalar();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) {
    errors.Add(node, what + " must be an integer, got '" + s + "'");
    return std::nullopt;
  }
  if (v < min || v > max) {
    errors.Add(node, what + " must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " + s);
    return std::nullopt;
  }
  return v;
}

std::optional<bool> ReadBool(const YAML::Node& node, const std::string& what, ConfigErrors& errors) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  errors.Add(node, what + " must be true or false");
  return std::nullopt;
}

std::optional<int64_t> ReadDurationMs(const YAML::Node& node, const std::string& what, ConfigErrors& errors) {
  if (!node.IsScalar()) {
    errors.Add(node, what + " must be a duration such as 30s, 5m, 1h");
    return std::nullopt;
  }
  std::optional<int64_t> ms = ParseDurationMs(node.Scalar());
  if (!ms || *ms < 0) {
    errors.Add(node, what + " must be a duration such as 250ms, 30s, 5m, 1h or 1d, got '" + node.Scalar() + "'");
    return std::nullopt;
  }
  return ms;
}

std::optional<std::vector<std::string>> ReadStringList(const YAML::Node& node, const std::string& what,
                                                       ConfigErrors& errors) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) {
    errors.Add(node, what + " must be a list of names, e.g. [zone, sensor]");
    return std::nullopt;
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      errors.Add(item, what + " must be a list of names");
      return std::nullopt;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace vigil
