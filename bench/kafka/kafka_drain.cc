// kafka_drain: the do-nothing baseline of bench/kafka/kafka_bench.sh. A
// librdkafka high-level consumer that reads COUNT messages of TOPIC and
// only adds up their sizes. Prints
//   messages=N bytes=B seconds=S rate=R
// where S runs from the first message to the COUNT-th (the group join
// before the first message is not counted, as for vigil in the script).
//   kafka_drain BROKERS TOPIC GROUP COUNT
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: kafka_drain BROKERS TOPIC GROUP COUNT\n");
    return 2;
  }
  const long long count = std::atoll(argv[4]);
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  const char* props[][2] = {{"bootstrap.servers", argv[1]},
                            {"group.id", argv[3]},
                            {"enable.auto.commit", "false"},
                            {"auto.offset.reset", "earliest"},
                            {"partition.assignment.strategy", "cooperative-sticky"}};
  for (const auto& p : props) {
    if (rd_kafka_conf_set(conf, p[0], p[1], err, sizeof err) != RD_KAFKA_CONF_OK) {
      std::fprintf(stderr, "kafka_drain: %s\n", err);
      return 1;
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    std::fprintf(stderr, "kafka_drain: %s\n", err);
    return 1;
  }
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);

  long long n = 0, bytes = 0;
  std::chrono::steady_clock::time_point first;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (n < count && std::chrono::steady_clock::now() < give_up) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (n++ == 0) first = std::chrono::steady_clock::now();
      bytes += static_cast<long long>(m->len);
    }
    rd_kafka_message_destroy(m);
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - first).count();
  std::printf("messages=%lld bytes=%lld seconds=%.3f rate=%.0f\n", n, bytes, s, n > 1 ? n / s : 0.0);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return n == count ? 0 : 1;
}
