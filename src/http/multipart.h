#pragma once
// A streaming multipart/form-data parser (RFC 7578 over RFC 2046).
//
// It is a push parser: Feed() takes the body in chunks split anywhere (a
// boundary or a part header may straddle any number of chunks) and reports
// parts to a MultipartReceiver as they are found, forwarding part content as
// soon as it cannot be the start of a delimiter. Memory stays bounded whatever
// the body: the parser holds at most one part header (≤ max_part_header_bytes)
// or one delimiter's length of content, beside the chunk being fed. Content in
// the middle of a part is handed to the receiver straight from the fed chunk,
// without a copy.
//
// Grammar handled:
//   preamble (ignored) "--" boundary [padding] CRLF
//   { part-headers CRLF content CRLF "--" boundary [padding] CRLF }
//   ... CRLF "--" boundary "--" epilogue (ignored)
// Part headers are "Name: value" lines (obsolete line folding is joined). The
// Content-Disposition of each part gives its field name and filename
// (`filename*` preferred when present and decodable).
//
// Errors (the upload is refused; nothing reaches the receiver after one):
//   InvalidArgument   malformed delimiter line or part header, a body that ends
//                     before the closing delimiter (Finish), more than
//                     max_parts parts
//   PayloadTooLarge   a part header block longer than max_part_header_bytes
//   any Status the receiver returns is passed through unchanged
//
// Thread safety: one parser per body, used from one thread at a time.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/message.h"

namespace vidmill::http {

struct MultipartLimits {
  size_t max_part_header_bytes = 16 * 1024;
  int max_parts = 64;
};

struct MultipartPart {
  std::string name;                     // form field name; "" when absent
  std::optional<std::string> filename;  // as sent (raw bytes); nullopt when absent
  std::string content_type;             // "" when absent
  Headers headers;                      // every part header, as sent
};

// Receives the parts of one body, in order: OnPartBegin, OnPartData × n,
// OnPartEnd, for each part. An error from any callback stops the parser.
class MultipartReceiver {
 public:
  virtual ~MultipartReceiver() = default;
  virtual Status OnPartBegin(const MultipartPart& part) = 0;
  virtual Status OnPartData(std::string_view data) = 0;
  virtual Status OnPartEnd() = 0;
};

// The boundary of a "multipart/form-data; boundary=…" Content-Type.
// UnsupportedMedia (415) for a missing header or another media type;
// InvalidArgument (400) for a missing, empty, over-70-character or
// non-RFC 2046 boundary.
Result<std::string> FormDataBoundary(std::optional<std::string_view> content_type);

class MultipartParser {
 public:
  // `receiver` must outlive the parser.
  MultipartParser(std::string boundary, MultipartReceiver* receiver,
                  const MultipartLimits& limits = {});
  // Pinned: the delimiter searcher points into the parser.
  MultipartParser(const MultipartParser&) = delete;
  MultipartParser& operator=(const MultipartParser&) = delete;

  // Consumes the next chunk of the body. After an error the parser is dead and
  // keeps returning that error.
  Status Feed(std::string_view chunk);
  // The body has ended: InvalidArgument unless the closing delimiter was seen.
  Status Finish();

 private:
  enum class State { kPreamble, kDelimiterLine, kHeaders, kContent, kEpilogue, kFailed };

  Status FeedContentInPlace(std::string_view& chunk);
  Status Run();
  Status Fail(Status status);
  size_t FindDelimiter(std::string_view data) const;
  // The content (or preamble) ended at a delimiter.
  Status DelimiterFound();
  Status ParseHeaders(std::string_view block);
  // Emits content bytes (discarded in the preamble).
  Status Emit(std::string_view data);

  const std::string delimiter_;  // "\r\n--" + boundary
  // Boyer-Moore-Horspool over the content: skips up to a delimiter's length
  // per comparison, so scanning costs a fraction of a memchr for '\r'.
  const std::boyer_moore_horspool_searcher<const char*> searcher_;
  MultipartReceiver* receiver_;
  const MultipartLimits limits_;
  State state_ = State::kPreamble;
  Status error_;
  std::string buffer_;  // bytes not yet consumed
  size_t delimiter_line_bytes_ = 0;
  int parts_ = 0;
};

}  // namespace vidmill::http
