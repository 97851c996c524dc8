// Process metrics from /proc/self.
#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace vigil {

namespace {

prometheus::MetricFamily Single(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(m);
  return f;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor of the listing itself
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics(double start_time_seconds) {
  std::vector<prometheus::MetricFamily> out;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  out.push_back(Single("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                       prometheus::MetricType::Counter, cpu));
  double rss = 0, vsz = 0;
  std::ifstream statm("/proc/self/statm");
  double pages_total = 0, pages_rss = 0;
  if (statm >> pages_total >> pages_rss) {
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    vsz = pages_total * page;
    rss = pages_rss * page;
  }
  out.push_back(Single("process_resident_memory_bytes", "Resident memory size in bytes.",
                       prometheus::MetricType::Gauge, rss));
  out.push_back(Single("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       prometheus::MetricType::Gauge, vsz));
  out.push_back(Single("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                       prometheus::MetricType::Gauge, start_time_seconds));
  out.push_back(Single("process_open_fds", "Number of open file descriptors.", prometheus::MetricType::Gauge,
                       OpenFds()));
  struct rlimit rl {};
  getrlimit(RLIMIT_NOFILE, &rl);
  out.push_back(Single("process_max_fds", "Maximum number of open file descriptors.", prometheus::MetricType::Gauge,
                       static_cast<double>(rl.rlim_cur)));
  return out;
}

}  // namespace vigil
