// vigil_parse_file FILE: a bare simdjson on-demand pass over an NDJSON file
// (one document per line, reading ts, device, zone, temp, hum), timed, for
// comparison with `vigil replay` of the same file. Prints messages/s.
#include <simdjson.h>

#include <chrono>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: vigil_parse_file FILE.ndjson\n");
    return 2;
  }
  simdjson::padded_string data;
  if (simdjson::padded_string::load(argv[1]).get(data)) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  simdjson::ondemand::parser parser;
  const auto t0 = std::chrono::steady_clock::now();
  const char* p = data.data();
  const char* end = p + data.size();
  uint64_t messages = 0, errors = 0;
  double sum = 0;
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    const size_t len = nl ? static_cast<size_t>(nl - p) : static_cast<size_t>(end - p);
    ++messages;
    simdjson::ondemand::document doc;
    if (parser.iterate(p, len, static_cast<size_t>(end - p) + simdjson::SIMDJSON_PADDING).get(doc)) {
      ++errors;
    } else {
      simdjson::ondemand::object obj;
      if (doc.get_object().get(obj)) {
        ++errors;
      } else {
        for (auto field : obj) {
          std::string_view key;
          if (field.unescaped_key().get(key)) { ++errors; break; }
          double d;
          std::string_view s;
          if (key == "temp" || key == "hum" || key == "ts") {
            if (!field.value().get_double().get(d)) sum += d;
          } else if (key == "device" || key == "zone") {
            if (!field.value().get_string().get(s)) sum += static_cast<double>(s.size());
          }
        }
      }
    }
    p += len + 1;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"messages\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"messages_per_second\":%.0f,\"checksum\":%.1f}\n",
              static_cast<unsigned long long>(messages), static_cast<unsigned long long>(errors), secs,
              static_cast<double>(messages) / secs, sum);
  return 0;
}
