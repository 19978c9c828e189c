#pragma once
// Serving a stored file over HTTP: Range requests (RFC 9110 §14), the
// conditional headers a download honours (If-None-Match, If-Range), and the
// response that streams the file — whole, one range, or multipart/byteranges —
// through Response::pieces, so no file is ever held in memory.
//
// Range policy (what a client gets for which header):
//   absent, another unit, or syntactically invalid (including a number that
//   overflows 64 bits, or last < first)            → 200, the full body
//   more than RangeLimits::max_ranges ranges, or ranges whose lengths add up
//   to more than the file (overlap abuse)           → 200, the full body
//   no satisfiable range (all start at/after the end, or "-0") → 416 with
//                                                     Content-Range: bytes */size
//   one satisfiable range                           → 206 with Content-Range
//   several                                         → 206 multipart/byteranges
// Unsatisfiable ranges next to satisfiable ones are dropped; the rest keep
// the client's order and are not coalesced.
//
// Thread safety: pure functions (FileResponse draws a random boundary).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace vidmill::http {

// An inclusive byte range [first, last] of a representation.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t length() const { return last - first + 1; }
  bool operator==(const ByteRange&) const = default;
};

struct RangeLimits {
  size_t max_ranges = 16;
};

enum class RangeOutcome {
  kFull,           // ignore the header: 200 with the whole body
  kPartial,        // 206 with `ranges` (already clamped to the file)
  kUnsatisfiable,  // 416
};

struct RangeDecision {
  RangeOutcome outcome = RangeOutcome::kFull;
  std::vector<ByteRange> ranges;
};

// Evaluates the value of a Range header against a representation of `size` bytes.
RangeDecision EvaluateRange(std::optional<std::string_view> range_header, uint64_t size,
                            const RangeLimits& limits = {});

// If-None-Match: true when the header lists `etag` (weak comparison: W/
// prefixes ignored) or is "*". `etag` is the quoted form ("\"abc\"").
bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag);

// If-Match: true when the header lists `etag` by strong comparison, or is
// "*" and there is a tag. FileResponse answers 412 otherwise.
bool IfMatchMatches(std::string_view if_match, std::string_view etag);

// If-Modified-Since: true when both are IMF-fixdates and `last_modified` is
// not later (FileResponse answers 304 then, when there is no If-None-Match).
bool NotModifiedSince(std::string_view if_modified_since, std::string_view last_modified);

// If-Range: true when the Range header should be honoured — the value is the
// current strong `etag` (strong comparison: a weak tag never matches), or an
// HTTP-date equal to `last_modified` (the IMF-fixdate the response sends).
bool IfRangeAllows(std::string_view if_range, std::string_view etag,
                   std::string_view last_modified);

// What a download serves.
struct FileRepresentation {
  std::shared_ptr<OpenFile> file;
  uint64_t size = 0;
  std::string content_type;         // "video/mp4"; application/octet-stream when empty
  std::string etag;                 // quoted strong tag: "\"<sha256>\""
  std::string last_modified;        // IMF-fixdate; omitted when empty
  std::string content_disposition;  // omitted when empty
};

// The response to a GET or HEAD of `representation`, honouring the request's
// If-Match (412), If-None-Match and If-Modified-Since (304), If-Range and
// Range headers as described above. Sets
// Content-Type, ETag, Last-Modified, Accept-Ranges, Content-Disposition,
// Content-Range, and omit_body for HEAD; the body is streamed from the file.
Response FileResponse(const Request& request, const FileRepresentation& representation,
                      const RangeLimits& limits = {});

}  // namespace vidmill::http
