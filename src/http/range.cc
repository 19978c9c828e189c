#include "http/range.h"

#include <strings.h>

#include <ctime>
#include <limits>
#include <optional>
#include <string>

#include "common/ids.h"

namespace vidmill::http {
namespace {

// Parses 1*DIGIT; nullopt for anything else or a value above 2^64 - 1.
std::optional<uint64_t> ParseDigits(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// One range-spec as written: first-last, first-, or -suffix.
struct RangeSpec {
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;
  uint64_t suffix = 0;  // when !first
};

std::optional<RangeSpec> ParseSpec(std::string_view text) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  RangeSpec spec;
  std::string_view first = text.substr(0, dash);
  std::string_view last = text.substr(dash + 1);
  if (first.empty()) {
    std::optional<uint64_t> suffix = ParseDigits(last);
    if (!suffix) return std::nullopt;
    spec.suffix = *suffix;
    return spec;
  }
  spec.first = ParseDigits(first);
  if (!spec.first) return std::nullopt;
  if (!last.empty()) {
    spec.last = ParseDigits(last);
    if (!spec.last || *spec.last < *spec.first) return std::nullopt;
  }
  return spec;
}

// Splits a comma list, trimming elements; keeps empty ones (callers skip them).
std::vector<std::string_view> SplitList(std::string_view list) {
  std::vector<std::string_view> out;
  while (true) {
    size_t comma = list.find(',');
    out.push_back(TrimOws(list.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

bool IsWeak(std::string_view tag) { return tag.size() >= 2 && tag.substr(0, 2) == "W/"; }
std::string_view Opaque(std::string_view tag) { return IsWeak(tag) ? tag.substr(2) : tag; }

std::string ContentRange(const ByteRange& range, uint64_t size) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
         std::to_string(size);
}

void SetValidators(Response& response, const FileRepresentation& rep) {
  if (!rep.etag.empty()) response.headers.Set("ETag", rep.etag);
  if (!rep.last_modified.empty()) response.headers.Set("Last-Modified", rep.last_modified);
}

}  // namespace

RangeDecision EvaluateRange(std::optional<std::string_view> range_header, uint64_t size,
                            const RangeLimits& limits) {
  RangeDecision full;
  if (!range_header) return full;
  std::string_view value = TrimOws(*range_header);
  size_t equals = value.find('=');
  if (equals == std::string_view::npos) return full;
  std::string_view unit = TrimOws(value.substr(0, equals));
  if (unit.size() != 5 || strncasecmp(unit.data(), "bytes", 5) != 0) return full;

  std::vector<RangeSpec> specs;
  for (std::string_view element : SplitList(value.substr(equals + 1))) {
    if (element.empty()) continue;  // RFC 9110 §5.6.1: empty list elements are allowed
    std::optional<RangeSpec> spec = ParseSpec(element);
    if (!spec) return full;
    specs.push_back(*spec);
    if (specs.size() > limits.max_ranges) return full;
  }
  if (specs.empty()) return full;

  RangeDecision decision;
  uint64_t total = 0;
  for (const RangeSpec& spec : specs) {
    ByteRange range;
    if (spec.first) {
      if (*spec.first >= size) continue;
      range.first = *spec.first;
      range.last = spec.last ? std::min(*spec.last, size - 1) : size - 1;
    } else {
      if (spec.suffix == 0 || size == 0) continue;
      range.first = size - std::min(spec.suffix, size);
      range.last = size - 1;
    }
    total += range.length();  // ≤ 16 × size: cannot overflow for any real file
    decision.ranges.push_back(range);
  }
  if (decision.ranges.empty()) {
    decision.outcome = RangeOutcome::kUnsatisfiable;
    return decision;
  }
  if (decision.ranges.size() > 1 && total > size) return full;
  decision.outcome = RangeOutcome::kPartial;
  return decision;
}

bool IfNoneMatchMatches(std::string_view if_none_match, std::string_view etag) {
  std::string_view value = TrimOws(if_none_match);
  if (value == "*") return true;
  for (std::string_view tag : SplitList(value)) {
    if (!tag.empty() && Opaque(tag) == Opaque(etag)) return true;
  }
  return false;
}

bool IfMatchMatches(std::string_view if_match, std::string_view etag) {
  std::string_view value = TrimOws(if_match);
  if (value == "*") return !etag.empty();
  // Strong comparison: a weak tag never matches.
  for (std::string_view tag : SplitList(value)) {
    if (!tag.empty() && !IsWeak(tag) && !IsWeak(etag) && tag == etag) return true;
  }
  return false;
}

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") in seconds since the
// epoch; nullopt when it is not one.
std::optional<int64_t> HttpDateSeconds(std::string_view text) {
  std::string value(TrimOws(text));
  std::tm parsed{};
  const char* end = ::strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parsed);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(::timegm(&parsed));
}

bool NotModifiedSince(std::string_view if_modified_since, std::string_view last_modified) {
  std::optional<int64_t> since = HttpDateSeconds(if_modified_since);
  std::optional<int64_t> modified = HttpDateSeconds(last_modified);
  return since && modified && *modified <= *since;
}

bool IfRangeAllows(std::string_view if_range, std::string_view etag,
                   std::string_view last_modified) {
  std::string_view value = TrimOws(if_range);
  if (value.empty()) return false;
  if (value.front() == '"' || IsWeak(value)) {
    return !IsWeak(value) && !IsWeak(etag) && value == etag;
  }
  return !last_modified.empty() && value == last_modified;
}

Response FileResponse(const Request& request, const FileRepresentation& rep,
                      const RangeLimits& limits) {
  Response response;
  const bool head = request.method == "HEAD";
  response.omit_body = head;
  const std::string content_type =
      rep.content_type.empty() ? std::string("application/octet-stream") : rep.content_type;

  // RFC 9110 §13.2.2's order: If-Match, then If-None-Match, else
  // If-Modified-Since (each one is read, not only the first two).
  if (std::optional<std::string> im = request.headers.Get("If-Match");
      im && !IfMatchMatches(*im, rep.etag)) {
    Response failed = ErrorResponse(
        Status::PreconditionFailed("If-Match names another version of this file than " +
                                   (rep.etag.empty() ? std::string("none") : rep.etag)));
    SetValidators(failed, rep);
    failed.omit_body = head;
    return failed;
  }
  std::optional<std::string> inm = request.headers.Get("If-None-Match");
  if (inm && !rep.etag.empty() && IfNoneMatchMatches(*inm, rep.etag)) {
    response.status = 304;
    SetValidators(response, rep);
    return response;
  }
  if (std::optional<std::string> ims = request.headers.Get("If-Modified-Since");
      !inm && ims && NotModifiedSince(*ims, rep.last_modified)) {
    response.status = 304;
    SetValidators(response, rep);
    return response;
  }

  // Range is defined for GET only (RFC 9110 §14.2): a HEAD ignores it and
  // gives the whole file's headers (a 206 with the range's length would be
  // read as the file's by a client probing the size).
  std::optional<std::string> range_header =
      head ? std::nullopt : request.headers.Get("Range");
  if (range_header) {
    std::optional<std::string> if_range = request.headers.Get("If-Range");
    if (if_range && !IfRangeAllows(*if_range, rep.etag, rep.last_modified)) {
      range_header.reset();
    }
  }
  RangeDecision decision = EvaluateRange(range_header, rep.size, limits);

  SetValidators(response, rep);
  response.headers.Set("Accept-Ranges", "bytes");
  if (!rep.content_disposition.empty()) {
    response.headers.Set("Content-Disposition", rep.content_disposition);
  }

  switch (decision.outcome) {
    case RangeOutcome::kUnsatisfiable: {
      Response error = ErrorResponse(Status::RangeNotSatisfiable(
          "no requested range starts within the file of " + std::to_string(rep.size) + " bytes"));
      error.headers.Set("Content-Range", "bytes */" + std::to_string(rep.size));
      SetValidators(error, rep);
      error.headers.Set("Accept-Ranges", "bytes");
      error.omit_body = head;
      return error;
    }
    case RangeOutcome::kFull: {
      response.status = 200;
      response.headers.Set("Content-Type", content_type);
      if (rep.size > 0) {
        response.pieces.push_back(BodyPiece{{}, rep.file, 0, rep.size});
      }
      return response;
    }
    case RangeOutcome::kPartial:
      break;
  }

  response.status = 206;
  if (decision.ranges.size() == 1) {
    const ByteRange& range = decision.ranges.front();
    response.headers.Set("Content-Type", content_type);
    response.headers.Set("Content-Range", ContentRange(range, rep.size));
    response.pieces.push_back(BodyPiece{{}, rep.file, range.first, range.length()});
    return response;
  }
  const std::string boundary = "vidmill-" + HexEncode(RandomBytes(12));
  response.headers.Set("Content-Type", "multipart/byteranges; boundary=" + boundary);
  for (size_t i = 0; i < decision.ranges.size(); ++i) {
    const ByteRange& range = decision.ranges[i];
    std::string head_text = (i == 0 ? "--" : "\r\n--") + boundary +
                            "\r\nContent-Type: " + content_type +
                            "\r\nContent-Range: " + ContentRange(range, rep.size) + "\r\n\r\n";
    response.pieces.push_back(BodyPiece{std::move(head_text), nullptr, 0, 0});
    response.pieces.push_back(BodyPiece{{}, rep.file, range.first, range.length()});
  }
  response.pieces.push_back(BodyPiece{"\r\n--" + boundary + "--\r\n", nullptr, 0, 0});
  return response;
}

}  // namespace vidmill::http
