# vigil in a container, on Debian 12 packages (see docs/deployment.md).
#
#   docker build -t vigil .
#   docker run --rm vigil version
#   docker run -d --name vigil -p 127.0.0.1:9464:9464 -e VIGIL_TOKEN=... \
#     -v "$PWD/rules.yaml:/etc/vigil/rules.yaml:ro" -v vigil-state:/var/lib/vigil vigil
#
# The JSON parser is compiled for x86-64-v3 (AVX2) by default; for an older
# CPU or another architecture: docker build --build-arg VIGIL_X86_64_V3=OFF .

# ---------------------------------------------------------------- build stage
FROM debian:12 AS build
# The build packages of scripts/setup.sh (the tests and benchmarks are not
# built here, so GoogleTest and Google Benchmark are not needed).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libsimdjson-dev libyaml-cpp-dev libcli11-dev \
      librocksdb-dev librdkafka-dev libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev \
      prometheus-cpp-dev libcurl4-openssl-dev \
      libcivetweb-dev civetweb \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG VIGIL_X86_64_V3=ON
# .git is not sent (.dockerignore): `vigil version` reports commit "unknown".
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DVIGIL_BUILD_TESTS=OFF -DVIGIL_BUILD_BENCH=OFF -DVIGIL_X86_64_V3=${VIGIL_X86_64_V3} \
 && cmake --build build --target vigil \
 && install -D -m 0755 build/vigil /out/usr/bin/vigil \
 && mkdir -p /out/usr/share/doc/vigil \
 && cp -r examples /out/usr/share/doc/vigil/examples

# -------------------------------------------------------------- runtime stage
FROM debian:12-slim
# Only the shared libraries (the non -dev packages of the build stage).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libsimdjson14 libyaml-cpp0.7 libprometheus-cpp-core1.0 libcivetweb1 libssl3 \
      librocksdb7.8 librdkafka++1 libpaho-mqttpp3-1 libpaho-mqtt1.3 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
# Fail the image build if a library is missing, and smoke-test the binary.
RUN if ldd /usr/bin/vigil | grep "not found"; then echo "missing runtime libraries" >&2; exit 1; fi \
 && /usr/bin/vigil version

# A non-root user; the state directory (engine.state_dir: /var/lib/vigil in
# the rules file) is a volume. The rules file is mounted at
# /etc/vigil/rules.yaml.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
 && install -d -o vigil -g vigil -m 0750 /var/lib/vigil \
 && install -d -m 0755 /etc/vigil
USER vigil
WORKDIR /var/lib/vigil
VOLUME ["/var/lib/vigil"]

# http.listen: inside a container it must be 0.0.0.0:9464 (with
# http.allow_remote: true) for a published port to reach it.
EXPOSE 9464
# SIGTERM (docker stop) stops vigil cleanly: it drains and flushes its sinks.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/vigil"]
CMD ["run", "/etc/vigil/rules.yaml"]
