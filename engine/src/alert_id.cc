// Deterministic alert ids.
#include <cstdio>

#include "vigil/engine/alert.h"

namespace vigil {

namespace {
void Mix(uint64_t& h, const void* data, size_t n) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) { h ^= p[i]; h *= 1099511628211ULL; }
}
}  // namespace

std::string AlertId(const std::string& rule, const std::string* tag_names, const std::string* tag_values, size_t n,
                    int64_t raise_ts) {
  uint64_t h = 1469598103934665603ULL;
  const char sep = '\x1f';
  Mix(h, rule.data(), rule.size());
  for (size_t i = 0; i < n; ++i) {
    Mix(h, &sep, 1);
    Mix(h, tag_names[i].data(), tag_names[i].size());
    Mix(h, "=", 1);
    Mix(h, tag_values[i].data(), tag_values[i].size());
  }
  Mix(h, &sep, 1);
  char ts[24];
  int len = std::snprintf(ts, sizeof ts, "%lld", static_cast<long long>(raise_ts));
  Mix(h, ts, static_cast<size_t>(len));
  // Final avalanche (splitmix64) so that near-identical inputs differ everywhere.
  h ^= h >> 30; h *= 0xbf58476d1ce4e5b9ULL; h ^= h >> 27; h *= 0x94d049bb133111ebULL; h ^= h >> 31;
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace vigil
