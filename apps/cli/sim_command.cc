// `vigil sim`: deterministic warehouse data (NDJSON) for demos, tests, benchmarks.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "sim/warehouse_sim.h"

namespace vigil::cli {

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("sim", "Generate deterministic warehouse sensor data as NDJSON");
  auto opts = std::make_shared<sim::SimOptions>();
  auto out_path = std::make_shared<std::string>("-");
  sim::AddSimOptions(sub, opts.get(), out_path.get());
  sub->callback([opts, out_path, exit_code] {
    Status valid = sim::ValidateSimOptions(*opts);
    if (!valid.ok()) {
      std::fprintf(stderr, "vigil sim: %s\n", valid.message().c_str());
      *exit_code = kExitUsage;
      return;
    }
    std::ofstream file;
    std::ostream* out = &std::cout;
    if (*out_path != "-") {
      file.open(*out_path, std::ios::binary | std::ios::trunc);
      if (!file) {
        std::fprintf(stderr, "vigil sim: cannot write '%s'\n", out_path->c_str());
        *exit_code = kExitRuntime;
        return;
      }
      out = &file;
    }
    Result<int64_t> n = sim::GenerateWarehouse(*opts, *out);
    out->flush();
    if (!n.ok() || !*out) {
      std::fprintf(stderr, "vigil sim: %s\n", n.ok() ? "write failed" : n.status().message().c_str());
      *exit_code = kExitRuntime;
      return;
    }
    if (*out_path != "-") std::fprintf(stderr, "vigil sim: wrote %lld messages to %s\n", static_cast<long long>(*n),
                                       out_path->c_str());
    *exit_code = kExitOk;
  });
}

}  // namespace vigil::cli
