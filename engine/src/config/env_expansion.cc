// `${NAME}` / `${NAME:-default}` in rules files.
#include "config/env_expansion.h"

#include <cstdlib>

namespace vigil {

namespace {

bool NameChar(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

const char* GetEnv(const char* name) { return std::getenv(name); }

}  // namespace

std::string ExpandEnvReferences(const std::string& text, ConfigErrors& errors, const char* (*lookup)(const char*)) {
  if (lookup == nullptr) lookup = GetEnv;
  if (text.find("${") == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  int line = 1, column = 1;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '$' && i + 2 < text.size() && text[i + 1] == '$' && text[i + 2] == '{') {
      out += "${";
      i += 3;
      column += 3;
      continue;
    }
    if (c == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      const size_t close = text.find('}', i + 2);
      const size_t eol = text.find('\n', i);
      if (close == std::string::npos || (eol != std::string::npos && close > eol)) {
        errors.Add(line, column, "unclosed '${' (an environment reference is ${NAME} or ${NAME:-default})");
        out += c;
        ++i;
        ++column;
        continue;
      }
      const std::string inner = text.substr(i + 2, close - i - 2);
      const size_t sep = inner.find(":-");
      const std::string name = inner.substr(0, sep);
      bool valid = !name.empty();
      for (size_t k = 0; k < name.size() && valid; ++k) valid = NameChar(name[k], k == 0);
      if (!valid) {
        errors.Add(line, column, "bad environment reference '${" + inner + "}': the name must be letters, digits "
                                 "and '_' (use $${ for a literal ${)");
      } else {
        const char* v = lookup(name.c_str());
        if (v != nullptr && (*v != 0 || sep == std::string::npos)) {
          out += v;
        } else if (sep != std::string::npos) {
          out += inner.substr(sep + 2);
        } else {
          errors.Add(line, column, "environment variable " + name + " is not set (write ${" + name +
                                   ":-default} for a default)");
        }
      }
      column += static_cast<int>(close + 1 - i);
      i = close + 1;
      continue;
    }
    out += c;
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    ++i;
  }
  return out;
}

}  // namespace vigil
