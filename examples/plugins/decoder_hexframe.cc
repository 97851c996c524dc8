// decoder_hexframe: decodes the hex frames of LoRa temperature/humidity
// sensors, {"deviceid": "a81758", "devicetype": "th-v1", "payload": "08FC1A2C5B0099"},
// into fields, for vigil sources that receive such messages:
//
//   decoder:
//     path: ./libdecoder_hexframe.so
//     match: {devicetype: th-v1}
//     config: {layout: th-v1}
//
// Layout th-v1 (7 bytes, 14 hex digits, big-endian):
//   bytes 0-1  temperature  int16, hundredths of a degree C  (0x08FC = 23.00)
//   bytes 2-3  humidity     uint16, hundredths of a %RH      (0x1A2C = 67.00)
//   byte  4    battery      uint8, percent                   (0x5B = 91)
//   byte  5    flags        bit 0 = tamper                   (0x00)
//   byte  6    check        XOR of bytes 0..5                (0x99)
// A frame of the wrong length, with a non-hex digit or a bad check byte is
// refused: vigil counts it as decode_error and dead-letters it.
#include <vigil/plugin.hpp>

#include <cstdint>
#include <string>

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class HexFrame final : public vigil::plugin::Decoder {
 public:
  static constexpr const char* kName = "hexframe";
  static constexpr const char* kVersion = "1.0.0";
  static constexpr const char* kDescription = "hex frames of th-v1 temperature/humidity sensors";
  static constexpr vigil_config_key kConfig[] = {
      {"layout", VIGIL_CONFIG_STRING, 0, "frame layout; th-v1 (the default) is the only one"},
  };

  explicit HexFrame(const vigil::plugin::Host& host) : Decoder(host) {
    const std::string_view layout = host.StringOr("layout", "th-v1");
    if (layout != "th-v1") throw vigil::plugin::Error("unknown layout '" + std::string(layout) + "' (known: th-v1)");
  }

  void Decode(std::string_view payload, vigil::plugin::Fields& out) override {
    constexpr size_t kBytes = 7;
    if (payload.size() != 2 * kBytes) {
      throw vigil::plugin::Error("th-v1 frame must be 14 hex digits, got " + std::to_string(payload.size()));
    }
    uint8_t b[kBytes];
    for (size_t i = 0; i < kBytes; ++i) {
      const int hi = HexDigit(payload[2 * i]), lo = HexDigit(payload[2 * i + 1]);
      if (hi < 0 || lo < 0) throw vigil::plugin::Error("non-hex digit in frame at position " + std::to_string(2 * i));
      b[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    uint8_t check = 0;
    for (size_t i = 0; i + 1 < kBytes; ++i) check ^= b[i];
    if (check != b[6]) throw vigil::plugin::Error("check byte mismatch (frame corrupted)");
    const int16_t temp = static_cast<int16_t>(b[0] << 8 | b[1]);
    const uint16_t hum = static_cast<uint16_t>(b[2] << 8 | b[3]);
    out.Set("temperature", temp / 100.0);
    out.Set("humidity", hum / 100.0);
    out.Set("battery", b[4]);
    out.Set("tamper", b[5] & 1);
  }
};

}  // namespace

VIGIL_PLUGIN(HexFrame)
