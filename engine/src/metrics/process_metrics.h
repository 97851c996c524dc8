// Process metrics of the Prometheus conventions (process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes,
// process_start_time_seconds, process_open_fds, process_max_fds), read from
// /proc/self at scrape time. Any thread.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

namespace vigil {

std::vector<prometheus::MetricFamily> ProcessMetrics(double start_time_seconds);

}  // namespace vigil
