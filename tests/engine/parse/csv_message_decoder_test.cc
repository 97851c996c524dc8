// Tests for vigil/engine/csv_decoder.h (CsvMessageDecoder): the header maps
// columns to schema slots, empty cells are missing fields, numeric cells are
// fields and other cells tags, the timestamp column is read like a JSON
// timestamp, and malformed rows are rejected with kBadCsv.
#include "vigil/engine/csv_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {

inline void PrintTo(RejectReason r, std::ostream* os) { *os << RejectReasonName(r); }

namespace {

constexpr int64_t kNov22 = 1732233600000;  // 2024-11-22T00:00:00Z

class Harness {
 public:
  explicit Harness(std::string_view header, std::vector<std::string> fields = {"temp", "hum", "on"},
                   std::vector<std::string> tag_names = {"zone", "sensor"}, MessageFormat format = {}) {
    for (const auto& f : fields) schema_.AddField(f);
    for (const auto& t : tag_names) schema_.AddTag(t);
    decoder_ = std::make_unique<CsvMessageDecoder>(schema_, std::move(format), &tags_);
    EXPECT_FALSE(decoder_->has_header());
    Status st = decoder_->SetHeader(header);
    EXPECT_TRUE(st.ok()) << st.message();
    EXPECT_TRUE(decoder_->has_header());
  }

  RejectReason Decode(std::string_view line) { return decoder_->Decode(line, &msg_); }

  std::optional<int64_t> Ts(std::string_view line) {
    RejectReason r = Decode(line);
    EXPECT_EQ(r, RejectReason::kNone) << line;
    if (r != RejectReason::kNone || !msg_.has_ts) return std::nullopt;
    return msg_.ts;
  }
  double Field(const std::string& path) const { return msg_.fields.at(static_cast<size_t>(schema_.FindField(path))); }
  std::string Tag(const std::string& name) const {
    const uint32_t id = msg_.tags.at(static_cast<size_t>(schema_.FindTag(name)));
    return id == kNoTag ? "<absent>" : tags_.Get(id);
  }
  const ParsedMessage& msg() const { return msg_; }
  const TagInterner& tags() const { return tags_; }

 private:
  Schema schema_;
  TagInterner tags_;
  std::unique_ptr<CsvMessageDecoder> decoder_;
  ParsedMessage msg_;
};

TEST(CsvMessageDecoderTest, HeaderMapsColumnsToSlots) {
  Harness h("ts,zone,temp,hum");
  ASSERT_EQ(h.Decode("1732233600,nord,21.5,40"), RejectReason::kNone);
  EXPECT_TRUE(h.msg().has_ts);
  EXPECT_EQ(h.msg().ts, kNov22);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
  EXPECT_DOUBLE_EQ(h.Field("hum"), 40);
  EXPECT_TRUE(std::isnan(h.Field("on")));  // no such column
  EXPECT_EQ(h.Tag("sensor"), "<absent>");
}

TEST(CsvMessageDecoderTest, ColumnOrderDoesNotMatter) {
  Harness h("hum,temp,extra,zone,ts");
  ASSERT_EQ(h.Decode("40,21.5,ignored,sud,1732233600"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
  EXPECT_DOUBLE_EQ(h.Field("hum"), 40);
  EXPECT_EQ(h.Tag("zone"), "sud");
  EXPECT_EQ(h.msg().ts, kNov22);
  EXPECT_EQ(h.tags().Find("ignored"), 0u);  // a column the schema does not name is not interned
}

TEST(CsvMessageDecoderTest, HeaderNamesAreTrimmedAndBomDropped) {
  Harness h("\xEF\xBB\xBFts , zone,\ttemp\t");
  ASSERT_EQ(h.Decode("1732233600,nord,21.5"), RejectReason::kNone);
  EXPECT_EQ(h.msg().ts, kNov22);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
}

TEST(CsvMessageDecoderTest, EmptyCellsAreMissing) {
  Harness h("ts,zone,temp,hum");
  ASSERT_EQ(h.Decode("1732233600,,,40"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "<absent>");
  EXPECT_TRUE(std::isnan(h.Field("temp")));
  EXPECT_DOUBLE_EQ(h.Field("hum"), 40);
  ASSERT_EQ(h.Decode("1732233600, ,\t,\"\""), RejectReason::kNone);  // spaces only, quoted empty
  EXPECT_EQ(h.Tag("zone"), "<absent>");
  EXPECT_TRUE(std::isnan(h.Field("temp")));
  EXPECT_TRUE(std::isnan(h.Field("hum")));
  ASSERT_EQ(h.Decode(",nord,1,2"), RejectReason::kNone);  // an empty timestamp: no timestamp
  EXPECT_FALSE(h.msg().has_ts);
}

TEST(CsvMessageDecoderTest, NumericCellsAreFieldsOtherCellsTags) {
  Harness h("zone,sensor,temp,hum,on");
  ASSERT_EQ(h.Decode("nord,42,-1.5e1,hot,TRUE"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_EQ(h.Tag("sensor"), "42");  // a numeric cell named as a tag is a tag (its text)
  EXPECT_DOUBLE_EQ(h.Field("temp"), -15);
  EXPECT_TRUE(std::isnan(h.Field("hum")));  // not a number: null, not 0
  EXPECT_EQ(h.Field("on"), 1.0);
  ASSERT_EQ(h.Decode(" nord , \"7\" , 21.5 ,\"3\",false"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_EQ(h.Tag("sensor"), "7");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
  EXPECT_DOUBLE_EQ(h.Field("hum"), 3);
  EXPECT_EQ(h.Field("on"), 0.0);
}

TEST(CsvMessageDecoderTest, QuotedCellsWithCommasAndQuotes) {
  Harness h("zone,sensor,temp");
  ASSERT_EQ(h.Decode("\"nord, bay 2\",\"say \"\"hi\"\"\",1"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord, bay 2");
  EXPECT_EQ(h.Tag("sensor"), "say \"hi\"");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 1);
}

TEST(CsvMessageDecoderTest, LineEndingsAreNotPartOfTheLastCell) {
  Harness h("zone,temp");
  ASSERT_EQ(h.Decode("nord,21.5\r\n"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
  ASSERT_EQ(h.Decode("sud,3\n"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 3);
}

TEST(CsvMessageDecoderTest, TimestampColumnForms) {
  Harness h("ts,temp");
  EXPECT_EQ(h.Ts("1732233600,1"), kNov22);
  EXPECT_EQ(h.Ts("1732233600.358,1"), kNov22 + 358);
  EXPECT_EQ(h.Ts("1732233600358,1"), kNov22 + 358);
  EXPECT_EQ(h.Ts("1732233600358123,1"), kNov22 + 358);
  EXPECT_EQ(h.Ts("1732233600358123456,1"), kNov22 + 358);
  EXPECT_EQ(h.Ts("2024-11-22T00:00:00.358Z,1"), kNov22 + 358);
  EXPECT_EQ(h.Ts("2024-11-22T02:00:00+02:00,1"), kNov22);
  EXPECT_EQ(h.Ts("2024-11-22 00:00:00,1"), kNov22);
  EXPECT_EQ(h.Ts("\"2024-11-22 00:00:00\",1"), kNov22);
  EXPECT_EQ(h.Ts(" 1732233600 ,1"), kNov22);
}

TEST(CsvMessageDecoderTest, TimestampUnitAndZoneFromFormat) {
  MessageFormat f;
  f.unit = TimeUnit::kMillis;
  f.default_offset_minutes = -60;  // UTC-01:00
  Harness h("ts,temp", {"temp"}, {"zone"}, f);
  EXPECT_EQ(h.Ts("1000,1"), 1000);
  EXPECT_EQ(h.Ts("2024-11-21 23:00:00,1"), kNov22);
}

TEST(CsvMessageDecoderTest, TimestampColumnPriorityAndConfiguredName) {
  Harness h("time,timestamp,ts,temp");
  EXPECT_EQ(h.Ts("1,2,3,0"), 3000);
  EXPECT_EQ(h.Ts("1,2,,0"), 2000);  // an empty cell is a missing field
  EXPECT_EQ(h.Ts("1,,,0"), 1000);
  ASSERT_EQ(h.Decode(",,,0"), RejectReason::kNone);
  EXPECT_FALSE(h.msg().has_ts);

  MessageFormat f;
  f.ts_fields = {"at"};
  Harness configured("ts,at,temp", {"temp"}, {"zone"}, f);
  EXPECT_EQ(configured.Ts("5,2024-11-22T00:00:00Z,1"), kNov22);
}

TEST(CsvMessageDecoderTest, BadTimestamp) {
  Harness h("ts,temp");
  EXPECT_EQ(h.Decode("yesterday,1"), RejectReason::kBadTimestamp);
  EXPECT_EQ(h.Decode("2024-13-01T00:00:00Z,1"), RejectReason::kBadTimestamp);
}

TEST(CsvMessageDecoderTest, WrongCellCountIsBadCsv) {
  Harness h("ts,zone,temp");
  EXPECT_EQ(h.Decode("1732233600,nord"), RejectReason::kBadCsv);
  EXPECT_EQ(h.Decode("1732233600,nord,1,2"), RejectReason::kBadCsv);
  EXPECT_EQ(h.Decode("1732233600,nord,1,"), RejectReason::kBadCsv);
  EXPECT_EQ(h.Decode(""), RejectReason::kBadCsv);
  EXPECT_EQ(h.Decode("1732233600,nord,1"), RejectReason::kNone);
}

TEST(CsvMessageDecoderTest, MalformedQuotingIsBadCsv) {
  Harness h("ts,zone,temp");
  EXPECT_EQ(h.Decode("1732233600,\"nord,1"), RejectReason::kBadCsv);
  EXPECT_EQ(h.Decode("1732233600,no\"rd,1"), RejectReason::kBadCsv);
  EXPECT_EQ(h.Decode("1732233600,\"nord\"x,1"), RejectReason::kBadCsv);
}

TEST(CsvMessageDecoderTest, TooLarge) {
  MessageFormat f;
  f.max_message_bytes = 16;
  Harness h("zone,temp", {"temp"}, {"zone"}, f);
  EXPECT_EQ(h.Decode("abcdefghijklmn,1"), RejectReason::kNone);  // 16 bytes
  EXPECT_EQ(h.Decode("abcdefghijklmno,1"), RejectReason::kTooLarge);
}

TEST(CsvMessageDecoderTest, DuplicatedColumnFirstWins) {
  // As in a JSON object with a duplicated name (DESIGN.md, "Corner cases").
  Harness h("ts,temp,zone,temp,zone,ts");
  ASSERT_EQ(h.Decode("1,20,nord,30,sud,2"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 20);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_EQ(h.msg().ts, 1000);
}

TEST(CsvMessageDecoderTest, ReusedDecoderResetsEveryRow) {
  Harness h("ts,zone,temp");
  ASSERT_EQ(h.Decode("1732233600,nord,1"), RejectReason::kNone);
  ASSERT_EQ(h.Decode(",,"), RejectReason::kNone);
  EXPECT_FALSE(h.msg().has_ts);
  EXPECT_EQ(h.Tag("zone"), "<absent>");
  EXPECT_TRUE(std::isnan(h.Field("temp")));
}

TEST(CsvMessageDecoderTest, BadHeaderIsAnError) {
  Schema schema;
  schema.AddField("temp");
  TagInterner tags;
  CsvMessageDecoder decoder(schema, MessageFormat{}, &tags);
  EXPECT_FALSE(decoder.SetHeader("ts,\"temp").ok());
  EXPECT_FALSE(decoder.SetHeader("").ok());
  EXPECT_FALSE(decoder.has_header());
}

}  // namespace
}  // namespace vigil
