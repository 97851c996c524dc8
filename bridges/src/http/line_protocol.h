// Writers for InfluxDB line protocol (1.x and 2.x):
//   measurement[,tag=value...] field=value[,field=value...] timestamp
// Escaping follows the spec: commas and spaces in measurements; commas,
// equals signs and spaces in tag keys, tag values and field keys, each
// preceded by a backslash. Line protocol has no way to carry a newline in a
// tag, so CR, LF and tab become spaces; backslashes just before a separator
// or at the end (which would escape what follows) are dropped.
//
// Thread-safety: free functions on caller-owned strings.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::bridges {

void AppendLineProtocolMeasurement(std::string* out, std::string_view name);
// Tag keys, tag values and field keys share one escaping.
void AppendLineProtocolKey(std::string* out, std::string_view key);
// A float field value in its shortest round-trip form; false (nothing
// appended) for NaN and infinities, which line protocol cannot carry.
bool AppendLineProtocolFloat(std::string* out, double v);
// An integer field value: digits and the `i` suffix.
void AppendLineProtocolInteger(std::string* out, int64_t v);

}  // namespace vigil::bridges
