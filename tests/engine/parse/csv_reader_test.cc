// Tests for parse/csv_reader.h: RFC 4180 splitting, malformed quoting, view
// lifetimes and scratch reuse, the header helper, and number cells.
#include "parse/csv_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace vigil {
namespace {

using Cells = std::vector<std::string>;

// Splits `line` and copies the cells out, so tests compare values.
Cells Split(std::string_view line) {
  std::vector<std::string_view> cells;
  std::string scratch;
  const CsvSplitResult result = SplitCsvLine(line, &cells, &scratch);
  EXPECT_TRUE(result.ok()) << "'" << line << "': " << CsvErrorName(result.error) << " at " << result.offset;
  return Cells(cells.begin(), cells.end());
}

CsvSplitResult SplitError(std::string_view line) {
  std::vector<std::string_view> cells;
  std::string scratch;
  return SplitCsvLine(line, &cells, &scratch);
}

// ---------------------------------------------------------------- splitting

TEST(CsvReaderTest, SplitsOnCommas) {
  EXPECT_EQ(Split("ts,zone,temp"), (Cells{"ts", "zone", "temp"}));
  EXPECT_EQ(Split("1732233600,nord,21.5"), (Cells{"1732233600", "nord", "21.5"}));
  EXPECT_EQ(Split("single"), (Cells{"single"}));
}

TEST(CsvReaderTest, EmptyCells) {
  EXPECT_EQ(Split(""), (Cells{""}));
  EXPECT_EQ(Split(","), (Cells{"", ""}));
  EXPECT_EQ(Split("a,"), (Cells{"a", ""}));
  EXPECT_EQ(Split(",a"), (Cells{"", "a"}));
  EXPECT_EQ(Split("a,,b"), (Cells{"a", "", "b"}));
  EXPECT_EQ(Split(",,,"), (Cells{"", "", "", ""}));
}

TEST(CsvReaderTest, UnquotedCellsKeepSpaces) {
  EXPECT_EQ(Split(" a , b "), (Cells{" a ", " b "}));
  EXPECT_EQ(Split("  ,\t"), (Cells{"  ", "\t"}));
}

TEST(CsvReaderTest, StripsLineEndings) {
  EXPECT_EQ(Split("a,b\r"), (Cells{"a", "b"}));
  EXPECT_EQ(Split("a,b\r\n"), (Cells{"a", "b"}));
  EXPECT_EQ(Split("a,b\n"), (Cells{"a", "b"}));
  EXPECT_EQ(Split("a,\r"), (Cells{"a", ""}));
  EXPECT_EQ(Split("\r"), (Cells{""}));
  EXPECT_EQ(Split("\"a\"\r\n"), (Cells{"a"}));
  EXPECT_EQ(Split("a,b\r\r"), (Cells{"a", "b\r"}));  // Only one '\r' is a line ending.
}

TEST(CsvReaderTest, QuotedCells) {
  EXPECT_EQ(Split("\"a\",\"b\""), (Cells{"a", "b"}));
  EXPECT_EQ(Split("\"a,b\",c"), (Cells{"a,b", "c"}));
  EXPECT_EQ(Split("\",\""), (Cells{","}));
  EXPECT_EQ(Split("\"\""), (Cells{""}));
  EXPECT_EQ(Split("\"\",\"\""), (Cells{"", ""}));
  EXPECT_EQ(Split("x,\"\""), (Cells{"x", ""}));
  EXPECT_EQ(Split("\" spaced \""), (Cells{" spaced "}));
  EXPECT_EQ(Split("\"a\","), (Cells{"a", ""}));
}

TEST(CsvReaderTest, DoubledQuotesAreOneQuote) {
  EXPECT_EQ(Split("\"say \"\"hi\"\"\""), (Cells{"say \"hi\""}));
  EXPECT_EQ(Split("\"\"\"\""), (Cells{"\""}));
  EXPECT_EQ(Split("\"\"\"\"\"\""), (Cells{"\"\""}));
  EXPECT_EQ(Split("\"a\"\"\",b"), (Cells{"a\"", "b"}));
  EXPECT_EQ(Split("\"\"\"a\""), (Cells{"\"a"}));
  EXPECT_EQ(Split("\"12\"\" pipe, steel\",3"), (Cells{"12\" pipe, steel", "3"}));
}

TEST(CsvReaderTest, SpacesAroundQuotedCellsAreIgnored) {
  EXPECT_EQ(Split("1, \"a,b\" ,2"), (Cells{"1", "a,b", "2"}));
  EXPECT_EQ(Split("\t\"a\"\t"), (Cells{"a"}));
  EXPECT_EQ(Split("\"a\"  "), (Cells{"a"}));
  EXPECT_EQ(Split("\"a\"  \r\n"), (Cells{"a"}));
}

TEST(CsvReaderTest, UnterminatedQuoteFails) {
  CsvSplitResult r = SplitError("\"abc");
  EXPECT_EQ(r.error, CsvError::kUnterminatedQuote);
  EXPECT_EQ(r.offset, 0u);
  r = SplitError("a,b,\"c,d");
  EXPECT_EQ(r.error, CsvError::kUnterminatedQuote);
  EXPECT_EQ(r.offset, 4u);
  EXPECT_EQ(SplitError("\"").error, CsvError::kUnterminatedQuote);
  EXPECT_EQ(SplitError("\"\"\"").error, CsvError::kUnterminatedQuote);  // Escaped quote, no close.
  EXPECT_EQ(SplitError("\"a\"\"").error, CsvError::kUnterminatedQuote);
  EXPECT_EQ(SplitError("\"abc\r").error, CsvError::kUnterminatedQuote);
  // The first line of a record that spans lines.
  EXPECT_EQ(SplitError("1,\"first line").error, CsvError::kUnterminatedQuote);
  EXPECT_EQ(SplitError("1,\"first line\n").error, CsvError::kUnterminatedQuote);
}

TEST(CsvReaderTest, TextAfterClosingQuoteFails) {
  CsvSplitResult r = SplitError("\"a\"b,c");
  EXPECT_EQ(r.error, CsvError::kTextAfterQuote);
  EXPECT_EQ(r.offset, 3u);
  r = SplitError("x,\"a\" b");
  EXPECT_EQ(r.error, CsvError::kTextAfterQuote);
  EXPECT_EQ(r.offset, 6u);
  EXPECT_EQ(SplitError("\"a\"\"b\"c").error, CsvError::kTextAfterQuote);
  EXPECT_EQ(SplitError("\"a\" \"b\"").error, CsvError::kTextAfterQuote);
}

TEST(CsvReaderTest, BareQuoteFails) {
  CsvSplitResult r = SplitError("ab\"c,d");
  EXPECT_EQ(r.error, CsvError::kBareQuote);
  EXPECT_EQ(r.offset, 2u);
  r = SplitError("a,12\"");
  EXPECT_EQ(r.error, CsvError::kBareQuote);
  EXPECT_EQ(r.offset, 4u);
  EXPECT_EQ(SplitError("x \"a\"").error, CsvError::kBareQuote);  // Text before the opening quote.
}

TEST(CsvReaderTest, FailureKeepsCellsBeforeTheBadOne) {
  std::vector<std::string_view> cells;
  std::string scratch;
  EXPECT_FALSE(SplitCsvLine("a,b,\"c", &cells, &scratch).ok());
  EXPECT_EQ(cells, (std::vector<std::string_view>{"a", "b"}));
}

TEST(CsvReaderTest, ErrorNames) {
  EXPECT_EQ(CsvErrorName(CsvError::kOk), "ok");
  EXPECT_EQ(CsvErrorName(CsvError::kUnterminatedQuote), "unterminated quote");
  EXPECT_EQ(CsvErrorName(CsvError::kBareQuote), "bare quote in unquoted cell");
  EXPECT_EQ(CsvErrorName(CsvError::kTextAfterQuote), "text after closing quote");
}

TEST(CsvReaderTest, ViewsPointIntoLineUnlessUnescaped) {
  const std::string line = "plain,\"quoted\",\"esc\"\"aped\"";
  std::vector<std::string_view> cells;
  std::string scratch;
  ASSERT_TRUE(SplitCsvLine(line, &cells, &scratch).ok());
  ASSERT_EQ(cells.size(), 3u);
  const auto in_line = [&](std::string_view v) {
    return v.data() >= line.data() && v.data() + v.size() <= line.data() + line.size();
  };
  EXPECT_TRUE(in_line(cells[0]));
  EXPECT_TRUE(in_line(cells[1]));
  EXPECT_FALSE(in_line(cells[2]));
  EXPECT_EQ(cells[2], "esc\"aped");
}

TEST(CsvReaderTest, ManyEscapedCellsStayValidTogether) {
  // Every cell lands in scratch; earlier views must survive later appends.
  std::string line;
  Cells expected;
  for (int i = 0; i < 200; ++i) {
    if (i > 0) line += ',';
    line += "\"v" + std::to_string(i) + "\"\"x\"\"" + std::string(static_cast<size_t>(i % 17), 'y') + "\"";
    expected.push_back("v" + std::to_string(i) + "\"x\"" + std::string(static_cast<size_t>(i % 17), 'y'));
  }
  EXPECT_EQ(Split(line), expected);
}

TEST(CsvReaderTest, CsvRowReusesBuffersAcrossLines) {
  CsvRow row;
  ASSERT_TRUE(row.Split("a,\"b\"\"\",c").ok());
  ASSERT_EQ(row.size(), 3u);
  EXPECT_EQ(row[1], "b\"");
  ASSERT_TRUE(row.Split("\"x\"\"\"").ok());  // Previous cells are replaced, not appended to.
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0], "x\"");
  ASSERT_FALSE(row.Split("\"open").ok());
  EXPECT_EQ(row.size(), 0u);
  ASSERT_TRUE(row.Split("1,2,3,4").ok());
  EXPECT_EQ(row.cells(), (std::vector<std::string_view>{"1", "2", "3", "4"}));
}

TEST(CsvReaderTest, StopsAllocatingOnceBuffersAreWarm) {
  std::vector<std::string_view> cells;
  std::string scratch;
  const std::string wide = "\"a\"\"\",b,c,d,e,f";
  ASSERT_TRUE(SplitCsvLine(wide, &cells, &scratch).ok());
  const auto* cells_data = cells.data();
  const auto* scratch_data = scratch.data();
  ASSERT_TRUE(SplitCsvLine("\"x\"\"\",y", &cells, &scratch).ok());
  ASSERT_TRUE(SplitCsvLine(wide, &cells, &scratch).ok());
  EXPECT_EQ(cells.data(), cells_data);
  EXPECT_EQ(scratch.data(), scratch_data);
}

// ---------------------------------------------------------------- header

TEST(CsvReaderTest, HeaderNamesColumns) {
  Result<CsvHeader> header = CsvHeader::Parse("ts,zone,\"sensor id\",temp\r\n");
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  ASSERT_EQ(header->size(), 4u);
  EXPECT_EQ(header->name(0), "ts");
  EXPECT_EQ(header->name(2), "sensor id");
  EXPECT_EQ(header->names(), (std::vector<std::string>{"ts", "zone", "sensor id", "temp"}));
  EXPECT_EQ(header->Find("ts"), 0u);
  EXPECT_EQ(header->Find("temp"), 3u);
  EXPECT_EQ(header->Find("sensor id"), 2u);
  EXPECT_EQ(header->Find("hum"), std::nullopt);
  EXPECT_EQ(header->Find("TS"), std::nullopt);  // Case-sensitive, as JSON names are.
}

TEST(CsvReaderTest, HeaderTrimsNamesAndDropsBom) {
  Result<CsvHeader> header = CsvHeader::Parse("\xEF\xBB\xBFts, zone ,\t\"temp\" ");
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->names(), (std::vector<std::string>{"ts", "zone", "temp"}));
  EXPECT_EQ(header->Find("ts"), 0u);
}

TEST(CsvReaderTest, HeaderOwnsItsNames) {
  std::string line = "a,\"b\"\"c\"";
  Result<CsvHeader> header = CsvHeader::Parse(line);
  line.assign(line.size(), 'z');
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->name(0), "a");
  EXPECT_EQ(header->name(1), "b\"c");
}

TEST(CsvReaderTest, HeaderDuplicatesFirstWinsAndEmptyNamesAreUnaddressable) {
  Result<CsvHeader> header = CsvHeader::Parse("temp,,temp,hum");
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->size(), 4u);
  EXPECT_EQ(header->Find("temp"), 0u);
  EXPECT_EQ(header->Find("hum"), 3u);
  EXPECT_EQ(header->name(1), "");
  EXPECT_EQ(header->Find(""), std::nullopt);
}

TEST(CsvReaderTest, HeaderRejectsEmptyLineAndBadQuoting) {
  for (std::string_view bad : {"", "\r\n", "\xEF\xBB\xBF", "\xEF\xBB\xBF\r\n"}) {
    Result<CsvHeader> header = CsvHeader::Parse(bad);
    ASSERT_FALSE(header.ok());
    EXPECT_EQ(header.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(header.status().message().find("empty"), std::string::npos) << header.status().message();
  }
  Result<CsvHeader> header = CsvHeader::Parse("ts,\"zone");
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(header.status().message().find("unterminated quote at byte 3"), std::string::npos)
      << header.status().message();
  header = CsvHeader::Parse("t\"s");
  ASSERT_FALSE(header.ok());
  EXPECT_NE(header.status().message().find("bare quote"), std::string::npos) << header.status().message();
}

// ---------------------------------------------------------------- numbers

TEST(CsvReaderTest, TrimCsvSpaces) {
  EXPECT_EQ(TrimCsvSpaces("  a b\t"), "a b");
  EXPECT_EQ(TrimCsvSpaces(" \t "), "");
  EXPECT_EQ(TrimCsvSpaces(""), "");
  EXPECT_EQ(TrimCsvSpaces("x"), "x");
}

TEST(CsvReaderTest, NumbersInJsonGrammar) {
  EXPECT_EQ(ParseCsvNumber("0"), 0.0);
  EXPECT_EQ(ParseCsvNumber("21.5"), 21.5);
  EXPECT_EQ(ParseCsvNumber("-21.5"), -21.5);
  EXPECT_EQ(ParseCsvNumber("1732233600"), 1732233600.0);
  EXPECT_EQ(ParseCsvNumber("1.5e3"), 1500.0);
  EXPECT_EQ(ParseCsvNumber("1.5E3"), 1500.0);
  EXPECT_EQ(ParseCsvNumber("15e-1"), 1.5);
  EXPECT_EQ(ParseCsvNumber("1e+2"), 100.0);
  EXPECT_EQ(ParseCsvNumber("0.25"), 0.25);
  EXPECT_EQ(ParseCsvNumber("0.1"), 0.1);  // Correctly rounded, as the JSON parser does.
  EXPECT_EQ(ParseCsvNumber("1.7976931348623157e308"), std::numeric_limits<double>::max());
  EXPECT_EQ(ParseCsvNumber("4.9e-324"), std::numeric_limits<double>::denorm_min());
}

TEST(CsvReaderTest, NumbersWithPlusAndSpaces) {
  EXPECT_EQ(ParseCsvNumber("+5"), 5.0);
  EXPECT_EQ(ParseCsvNumber("+0.5e1"), 5.0);
  EXPECT_EQ(ParseCsvNumber("  21.5 "), 21.5);
  EXPECT_EQ(ParseCsvNumber("\t-3\t"), -3.0);
  EXPECT_EQ(ParseCsvNumber(" +7 "), 7.0);
}

TEST(CsvReaderTest, NegativeZeroKeepsItsSign) {
  const std::optional<double> v = ParseCsvNumber("-0");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(*v, 0.0);
  EXPECT_TRUE(std::signbit(*v));
}

TEST(CsvReaderTest, NumbersOutOfDoubleRange) {
  EXPECT_EQ(ParseCsvNumber("1e400"), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("-1e400"), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("1.8e308"), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("1e-400"), 0.0);
  EXPECT_EQ(ParseCsvNumber("-1e-400"), 0.0);
  EXPECT_EQ(ParseCsvNumber("0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                           "0000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                           "0000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                           "0000000000000000000000000000000000000000000000000000000000000000000000000000000001"),
            0.0);
}

TEST(CsvReaderTest, BooleansAreOneAndZero) {
  EXPECT_EQ(ParseCsvNumber("true"), 1.0);
  EXPECT_EQ(ParseCsvNumber("false"), 0.0);
  EXPECT_EQ(ParseCsvNumber("TRUE"), 1.0);
  EXPECT_EQ(ParseCsvNumber("False"), 0.0);
  EXPECT_EQ(ParseCsvNumber(" true "), 1.0);
  EXPECT_EQ(ParseCsvNumber("truex"), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("tru"), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("yes"), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("t"), std::nullopt);
}

TEST(CsvReaderTest, EmptyCellIsMissing) {
  EXPECT_EQ(ParseCsvNumber(""), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("   "), std::nullopt);
  EXPECT_EQ(ParseCsvNumber("\t"), std::nullopt);
}

TEST(CsvReaderTest, RejectsWhatJsonRejects) {
  for (std::string_view bad : {"+", "-", "+-5", "-+5", "++5", "--5", "01", "-01", "00", "+01", ".5", "-.5", "5.",
                               "1.e5", "1e", "1e+", "1E-", "1..5", "1.5.5", "inf", "-inf", "Infinity", "nan",
                               "NaN", "0x10", "1,5", "1 5", "- 5", "+ 5", "5a", "a5", "1_000", "1e5.5", "nord",
                               "\"5\"", "5\r", "null"}) {
    EXPECT_EQ(ParseCsvNumber(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(CsvReaderTest, SplitThenParseRow) {
  CsvRow row;
  ASSERT_TRUE(row.Split("1732233600.358, nord ,\"21.5\",,TRUE,\"a,b\"\r\n").ok());
  ASSERT_EQ(row.size(), 6u);
  EXPECT_EQ(ParseCsvNumber(row[0]), 1732233600.358);
  EXPECT_EQ(ParseCsvNumber(row[1]), std::nullopt);
  EXPECT_EQ(TrimCsvSpaces(row[1]), "nord");
  EXPECT_EQ(ParseCsvNumber(row[2]), 21.5);  // Quoting does not make a number a string.
  EXPECT_EQ(row[3], "");
  EXPECT_EQ(ParseCsvNumber(row[3]), std::nullopt);
  EXPECT_EQ(ParseCsvNumber(row[4]), 1.0);
  EXPECT_EQ(row[5], "a,b");
}

}  // namespace
}  // namespace vigil
