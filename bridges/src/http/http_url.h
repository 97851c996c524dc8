// HttpUrl: the parts of an http:// or https:// URL the HTTP sinks need —
// to check a configured URL, to append an API path to a base URL, and to
// name a sink in logs and metrics without leaking secrets.
//
// Only the URL's origin (scheme://host[:port]) is ever shown: the path and
// query of a webhook URL are often its secret (Slack-style hook URLs), and
// user:password@ in the authority is dropped. Thread-safety: plain values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vigil::bridges {

struct HttpUrl {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // host[:port], as written, without user:password@
  std::string path;    // from the first '/' (may be empty), query included

  // scheme://host[:port] — safe to log.
  std::string Origin() const { return scheme + "://" + host; }
};

// Splits `url`; nullopt unless it is http:// or https:// (case-insensitive)
// with a non-empty host. `error`, when given, says what is wrong.
std::optional<HttpUrl> ParseHttpUrl(std::string_view url, std::string* error = nullptr);

// Percent-encodes everything but RFC 3986's unreserved characters (for
// query values such as a database or bucket name).
std::string PercentEncode(std::string_view s);

}  // namespace vigil::bridges
