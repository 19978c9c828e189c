#include "common/status.h"

namespace vidmill {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kUnauthenticated: return "Unauthenticated";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kNotFound: return "NotFound";
    case Code::kMethodNotAllowed: return "MethodNotAllowed";
    case Code::kTimeout: return "Timeout";
    case Code::kConflict: return "Conflict";
    case Code::kPayloadTooLarge: return "PayloadTooLarge";
    case Code::kUnsupportedMedia: return "UnsupportedMediaType";
    case Code::kRangeNotSatisfiable: return "RangeNotSatisfiable";
    case Code::kUriTooLong:
      return "UriTooLong";
    case Code::kHeaderFieldsTooLarge:
      return "HeaderFieldsTooLarge";
    case Code::kPreconditionFailed:
      return "PreconditionFailed";
    case Code::kTooManyRequests: return "TooManyRequests";
    case Code::kInternal: return "Internal";
    case Code::kNotImplemented: return "NotImplemented";
    case Code::kUnavailable: return "Unavailable";
    case Code::kCancelled: return "Cancelled";
    case Code::kCorruptMedia: return "CorruptMedia";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) {
    return "OK";
  }
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace vidmill
