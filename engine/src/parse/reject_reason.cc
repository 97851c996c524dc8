// Names of rejection reasons (used as the `reason` metric label and in stats).
#include "vigil/engine/message.h"

namespace vigil {

const char* RejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::kNone: return "none";
    case RejectReason::kInvalidJson: return "invalid_json";
    case RejectReason::kNotObject: return "not_object";
    case RejectReason::kTrailingGarbage: return "trailing_garbage";
    case RejectReason::kTooLarge: return "too_large";
    case RejectReason::kTooDeep: return "too_deep";
    case RejectReason::kBadTimestamp: return "bad_timestamp";
    case RejectReason::kBadCsv: return "bad_csv";
    case RejectReason::kDecodeError: return "decode_error";
    case RejectReason::kTooManyFields: return "too_many_fields";
    case RejectReason::kCount: break;
  }
  return "unknown";
}

}  // namespace vigil
