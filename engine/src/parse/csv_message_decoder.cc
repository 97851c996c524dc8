// CsvMessageDecoder implementation.
#include "vigil/engine/csv_decoder.h"
#include "vigil/engine/topic_filter.h"

#include <vector>

#include "parse/csv_reader.h"
#include "vigil/engine/timestamp.h"

namespace vigil {

struct CsvMessageDecoder::Impl {
  const Schema& schema;
  MessageFormat format;
  TagInterner* tags;
  bool has_header = false;
  size_t columns = 0;
  // Per column: schema slots it feeds (-1 when none) and timestamp rank.
  std::vector<int> field, tag, ts_rank;
  CsvRow row;

  Impl(const Schema& s, MessageFormat f, TagInterner* t) : schema(s), format(std::move(f)), tags(t) {}
};

CsvMessageDecoder::CsvMessageDecoder(const Schema& schema, MessageFormat format, TagInterner* tags)
    : impl_(std::make_unique<Impl>(schema, std::move(format), tags)) {}
CsvMessageDecoder::~CsvMessageDecoder() = default;

bool CsvMessageDecoder::has_header() const { return impl_->has_header; }

Status CsvMessageDecoder::SetHeader(std::string_view line) {
  Result<CsvHeader> header = CsvHeader::Parse(line);
  if (!header.ok()) return header.status();
  Impl& im = *impl_;
  im.columns = header->size();
  im.field.assign(im.columns, -1);
  im.tag.assign(im.columns, -1);
  im.ts_rank.assign(im.columns, -1);
  for (size_t c = 0; c < im.columns; ++c) {
    const std::string& name = header->name(c);
    // A repeated column name feeds nothing: the first occurrence wins, as in JSON.
    if (header->Find(name) != c) continue;
    im.field[c] = im.schema.FindField(name);
    im.tag[c] = name.rfind(kTopicFilterTagPrefix, 0) == 0 ? -1 : im.schema.FindTag(name);
    for (size_t r = 0; r < im.format.ts_fields.size(); ++r) {
      if (im.format.ts_fields[r] == name) {
        im.ts_rank[c] = static_cast<int>(r);
        break;
      }
    }
  }
  im.has_header = true;
  return Status::Ok();
}

RejectReason CsvMessageDecoder::Decode(std::string_view line, ParsedMessage* out) noexcept {
  Impl& im = *impl_;
  if (line.size() > im.format.max_message_bytes) return RejectReason::kTooLarge;
  if (!im.row.Split(line).ok() || im.row.size() != im.columns) return RejectReason::kBadCsv;
  out->has_ts = false;
  out->fields.assign(im.schema.field_count(), NullValue());
  out->tags.assign(im.schema.tag_count(), kNoTag);
  int best_rank = -1;
  std::string_view ts_cell;
  for (size_t c = 0; c < im.columns; ++c) {
    std::string_view cell = TrimCsvSpaces(im.row[c]);
    if (cell.empty()) continue;
    if (im.ts_rank[c] >= 0 && (best_rank < 0 || im.ts_rank[c] < best_rank)) {
      best_rank = im.ts_rank[c];
      ts_cell = cell;
    }
    if (im.field[c] >= 0) {
      if (std::optional<double> v = ParseCsvNumber(cell)) out->fields[im.field[c]] = *v;
    }
    if (im.tag[c] >= 0) out->tags[im.tag[c]] = im.tags->Intern(cell);
  }
  if (best_rank >= 0) {
    std::optional<int64_t> ts = TimestampFromString(ts_cell, im.format.unit, im.format.default_offset_minutes);
    if (!ts) return RejectReason::kBadTimestamp;
    out->has_ts = true;
    out->ts = *ts;
  }
  return RejectReason::kNone;
}

}  // namespace vigil
