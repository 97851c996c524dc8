#!/usr/bin/env bash
# Installs every Debian 12 package vigil's build, tests, benchmarks and demo
# need. Idempotent: when everything is already installed it changes nothing.
# Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ ccache pkg-config git
  libsimdjson-dev libyaml-cpp-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  librocksdb-dev librdkafka-dev libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  prometheus-cpp-dev libcurl4-openssl-dev libspdlog-dev
  libcivetweb-dev civetweb  # civetweb: its CMake package checks for /usr/bin/civetweb
  # tests, benchmarks and demo
  python3 python3-yaml curl openssl mosquitto mosquitto-clients kcat time prometheus chromium
  influxdb  # influxd 1.6.7 for the influxdb sink test
  libmosquitto-dev  # bench/mqtt's latency probe tool
  # fuzzing (scripts/fuzz.sh): clang 14 and its libFuzzer/sanitizer runtime
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
