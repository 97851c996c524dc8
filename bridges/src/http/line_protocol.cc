// Line protocol escaping and number formatting.
#include "http/line_protocol.h"

#include <charconv>
#include <cmath>

namespace vigil::bridges {

namespace {

char Plain(char c) { return c == '\n' || c == '\r' || c == '\t' ? ' ' : c; }

void AppendEscaped(std::string* out, std::string_view s, bool escape_equals) {
  auto special = [escape_equals](char c) { return c == ',' || c == ' ' || (escape_equals && c == '='); };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = Plain(s[i]);
    if (c == '\\') {
      // A run of backslashes before a separator (or at the end) would escape
      // it: dropped. Before anything else it is kept as it is.
      size_t end = i;
      while (end < s.size() && s[end] == '\\') ++end;
      if (end < s.size() && !special(Plain(s[end]))) out->append(end - i, '\\');
      i = end - 1;
      continue;
    }
    if (special(c)) out->push_back('\\');
    out->push_back(c);
  }
}

}  // namespace

void AppendLineProtocolMeasurement(std::string* out, std::string_view name) { AppendEscaped(out, name, false); }

void AppendLineProtocolKey(std::string* out, std::string_view key) { AppendEscaped(out, key, true); }

bool AppendLineProtocolFloat(std::string* out, double v) {
  if (!std::isfinite(v)) return false;
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return false;
  out->append(buf, p);
  return true;
}

void AppendLineProtocolInteger(std::string* out, int64_t v) {
  *out += std::to_string(v);
  *out += 'i';
}

}  // namespace vigil::bridges
