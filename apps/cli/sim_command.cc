// `vigil sim`: deterministic warehouse data (NDJSON) for demos, tests, benchmarks.
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "sim/kafka_sim.h"
#include "sim/mqtt_publisher.h"
#include "sim/warehouse_sim.h"

namespace vigil::cli {

namespace {

// `--mqtt URL`: publish instead of writing NDJSON; SIGINT/SIGTERM stop it.
int RunMqtt(const sim::SimOptions& opts, const sim::MqttPublishOptions& mo) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before Paho starts its threads
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    stop.store(true);
  });
  std::fprintf(stderr, "vigil sim: publishing to %s (%s/<zone>/<device>/v1, heartbeats on %s/heartbeat/<zone>)%s\n",
               mo.url.c_str(), mo.prefix.c_str(), mo.prefix.c_str(), mo.live ? " in real time; Ctrl-C to stop" : "");
  Result<sim::MqttPublishStats> r = sim::PublishWarehouseMqtt(opts, mo, stop);
  pthread_kill(waiter.native_handle(), SIGUSR2);
  waiter.join();
  if (!r.ok()) {
    std::fprintf(stderr, "vigil sim: %s\n", r.status().message().c_str());
    return kExitRuntime;
  }
  std::fprintf(stderr, "vigil sim: published %lld messages and %lld heartbeats in %.2f s (%.0f msg/s)\n",
               static_cast<long long>(r->messages), static_cast<long long>(r->heartbeats), r->seconds,
               r->seconds > 0 ? static_cast<double>(r->messages) / r->seconds : 0.0);
  return kExitOk;
}

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
  auto mqtt = std::make_shared<sim::MqttPublishOptions>();
  auto* mqtt_url = sub->add_option("--mqtt", mqtt->url,
                                   "Publish to the MQTT broker at URL (tcp://host:port) instead of writing NDJSON: "
                                   "<prefix>/<zone>/<device>/v1 plus a retained heartbeat per zone")
                       ->type_name("URL");
  sub->add_option("--topic-prefix", mqtt->prefix, "First topic level with --mqtt (default entrepot)");
  sub->add_option("--qos", mqtt->qos, "MQTT QoS of the published messages (default 1)")->check(CLI::Range(0, 2));
  auto rate = std::make_shared<double>(0);
  sub->add_option("--rate", *rate, "With --mqtt or --kafka: at most N messages per second (default: as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--live", mqtt->live,
                "With --mqtt: event time starts now and messages are published in real time (the live demo)");
  sub->add_option("--speedup", mqtt->speedup, "With --live: event time runs N times faster than the clock (default 1)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--client-id", mqtt->client_id, "MQTT client id with --mqtt (default vigil-sim)");
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
  sub->add_flag("--kafka-mock", *mock, "Start a librdkafka mock Kafka cluster on 127.0.0.1, print its bootstrap "
                                       "address as the first line on stdout, run until SIGINT/SIGTERM");
  sub->add_option("--partitions", *partitions, "With --kafka-mock: partitions of each --topic (default 4; the mock "
                                               "keeps only a few MiB per partition)")
      ->check(CLI::Range(1, 1024));
  sub->callback([opts, out_path, exit_code, mqtt, mqtt_url, rate, kafka, topics, mock, partitions] {
    if (*mock) {
      *exit_code = RunKafkaMock(*topics, *partitions);
      return;
    }
    mqtt->rate = *rate;
    kafka->rate = *rate;
    Status valid = sim::ValidateSimOptions(*opts);
    if (!valid.ok()) {
      std::fprintf(stderr, "vigil sim: %s\n", valid.message().c_str());
      *exit_code = kExitUsage;
      return;
    }
    if (mqtt_url->count() > 0) {
      *exit_code = RunMqtt(*opts, *mqtt);
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
