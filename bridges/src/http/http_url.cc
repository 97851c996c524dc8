// ParseHttpUrl, PercentEncode.
#include "http/http_url.h"

#include <cctype>

namespace vigil::bridges {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

}  // namespace

std::optional<HttpUrl> ParseHttpUrl(std::string_view url, std::string* error) {
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    Fail(error, "expected a URL such as http://127.0.0.1:8080/hook");
    return std::nullopt;
  }
  HttpUrl u;
  u.scheme = Lower(url.substr(0, sep));
  if (u.scheme != "http" && u.scheme != "https") {
    Fail(error, "scheme '" + u.scheme + "' is not supported (use http:// or https://)");
    return std::nullopt;
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (authority.empty()) {
    Fail(error, "the URL has no host (expected e.g. http://127.0.0.1:8080/hook)");
    return std::nullopt;
  }
  for (char c : authority) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      Fail(error, "the URL's host contains a space");
      return std::nullopt;
    }
  }
  u.host = std::string(authority);
  if (slash != std::string_view::npos) u.path = std::string(rest.substr(slash));
  return u;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace vigil::bridges
