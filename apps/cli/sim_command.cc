// `vigil sim`: deterministic warehouse data (NDJSON) for demos, tests, benchmarks.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "sim/kafka_sim.h"
#include "sim/warehouse_sim.h"

namespace vigil::cli {

namespace {

// `vigil sim --kafka-mock`: a mock cluster until SIGINT/SIGTERM; its
// bootstrap address is the first line on stdout.
int RunKafkaMock(const std::vector<std::string>& topics, int partitions) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before librdkafka starts its threads
  auto mock = sim::KafkaMockCluster::Start(1, topics, partitions);
  if (!mock.ok()) {
    std::fprintf(stderr, "vigil sim: %s\n", mock.status().message().c_str());
    return kExitRuntime;
  }
  std::printf("%s\n", (*mock)->bootstrap().c_str());
  std::fflush(stdout);
  std::string names;
  for (const auto& t : topics) names += (names.empty() ? "" : ", ") + t;
  std::fprintf(stderr, "vigil sim: Kafka mock cluster at %s%s; stop it with Ctrl-C\n", (*mock)->bootstrap().c_str(),
               names.empty() ? "" : (" (topics " + names + ", " + std::to_string(partitions) + " partitions each)").c_str());
  int sig = 0;
  sigwait(&signals, &sig);
  return kExitOk;
}

}  // namespace

void AddSimCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("sim", "Generate deterministic warehouse sensor data as NDJSON");
  auto opts = std::make_shared<sim::SimOptions>();
  auto out_path = std::make_shared<std::string>("-");
  sim::AddSimOptions(sub, opts.get(), out_path.get());
  auto kafka = std::make_shared<sim::KafkaProduceOptions>();
  auto topics = std::make_shared<std::vector<std::string>>();
  auto mock = std::make_shared<bool>(false);
  auto partitions = std::make_shared<int>(4);
  sub->add_option("--kafka", kafka->brokers, "Produce the messages to Kafka at BROKERS (host:port,...) instead of "
                                             "writing them, keyed by device, Kafka timestamp = event time")
      ->type_name("BROKERS");
  sub->add_option("--topic", *topics, "With --kafka: the topic to produce to. With --kafka-mock: topics to create "
                                      "(repeat or comma-separate)")
      ->delimiter(',')
      ->type_name("TOPIC");
  sub->add_option("--rate", kafka->rate, "With --kafka: messages per second (default 0: as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--kafka-mock", *mock, "Start a librdkafka mock Kafka cluster on 127.0.0.1, print its bootstrap "
                                       "address as the first line on stdout, run until SIGINT/SIGTERM");
  sub->add_option("--partitions", *partitions, "With --kafka-mock: partitions of each --topic (default 4; the mock "
                                               "keeps only a few MiB per partition)")
      ->check(CLI::Range(1, 1024));
  sub->callback([opts, out_path, exit_code, kafka, topics, mock, partitions] {
    if (*mock) {
      *exit_code = RunKafkaMock(*topics, *partitions);
      return;
    }
    Status valid = sim::ValidateSimOptions(*opts);
    if (!valid.ok()) {
      std::fprintf(stderr, "vigil sim: %s\n", valid.message().c_str());
      *exit_code = kExitUsage;
      return;
    }
    if (!kafka->brokers.empty()) {
      if (topics->size() != 1) {
        std::fprintf(stderr, "vigil sim: --kafka needs exactly one --topic to produce to\n");
        *exit_code = kExitUsage;
        return;
      }
      kafka->topic = topics->front();
      Result<int64_t> n = sim::ProduceWarehouseToKafka(*opts, *kafka);
      if (!n.ok()) {
        std::fprintf(stderr, "vigil sim: %s\n", n.status().message().c_str());
        *exit_code = kExitRuntime;
        return;
      }
      std::fprintf(stderr, "vigil sim: produced %lld messages to %s at %s\n", static_cast<long long>(*n),
                   kafka->topic.c_str(), kafka->brokers.c_str());
      *exit_code = kExitOk;
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
