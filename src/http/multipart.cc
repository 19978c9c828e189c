#include "http/multipart.h"

#include <algorithm>
#include <string>

#include "http/content_disposition.h"

namespace vidmill::http {
namespace {

constexpr size_t kMaxBoundary = 70;
// Transport padding after a delimiter (RFC 2046 allows LWSP); bounded.
constexpr size_t kMaxDelimiterLinePadding = 256;

// RFC 2046 bcharsnospace plus space.
bool IsBoundaryChar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

}  // namespace

Result<std::string> FormDataBoundary(std::optional<std::string_view> content_type) {
  if (!content_type || TrimOws(*content_type).empty()) {
    return Status::UnsupportedMedia(
        "an upload must be sent as multipart/form-data (no Content-Type given)");
  }
  Result<ParameterizedValue> parsed = ParseParameterizedValue(*content_type);
  if (!parsed.ok()) {
    return Status::InvalidArgument("malformed Content-Type: " + parsed.status().message());
  }
  if (parsed->token != "multipart/form-data") {
    return Status::UnsupportedMedia("an upload must be sent as multipart/form-data, not " +
                                    parsed->token);
  }
  std::optional<std::string> boundary = parsed->Get("boundary");
  if (!boundary || boundary->empty()) {
    return Status::InvalidArgument("multipart/form-data Content-Type has no boundary");
  }
  if (boundary->size() > kMaxBoundary) {
    return Status::InvalidArgument("multipart boundary longer than 70 characters");
  }
  if (!std::all_of(boundary->begin(), boundary->end(), IsBoundaryChar) || boundary->back() == ' ') {
    return Status::InvalidArgument("multipart boundary contains characters RFC 2046 forbids");
  }
  return *boundary;
}

MultipartParser::MultipartParser(std::string boundary, MultipartReceiver* receiver,
                                 const MultipartLimits& limits)
    : delimiter_("\r\n--" + boundary),
      searcher_(delimiter_.data(), delimiter_.data() + delimiter_.size()),
      receiver_(receiver),
      limits_(limits) {
  // The first delimiter may open the body without a preceding CRLF: pretend
  // one was there, so every delimiter looks the same.
  buffer_ = "\r\n";
}

Status MultipartParser::Fail(Status status) {
  state_ = State::kFailed;
  error_ = status;
  buffer_.clear();
  buffer_.shrink_to_fit();
  return status;
}

Status MultipartParser::Feed(std::string_view chunk) {
  if (state_ == State::kFailed) return error_;
  if (state_ == State::kEpilogue) return Status::Ok();
  Status status = FeedContentInPlace(chunk);
  if (status.ok() && !chunk.empty()) {
    buffer_.append(chunk);
    status = Run();
  }
  if (!status.ok()) return Fail(std::move(status));
  return Status::Ok();
}

size_t MultipartParser::FindDelimiter(std::string_view data) const {
  const char* end = data.data() + data.size();
  const char* match = searcher_(data.data(), end).first;
  return match == end ? std::string_view::npos : static_cast<size_t>(match - data.data());
}

Status MultipartParser::DelimiterFound() {
  if (state_ == State::kContent) RETURN_IF_ERROR(receiver_->OnPartEnd());
  state_ = State::kDelimiterLine;
  delimiter_line_bytes_ = 0;
  return Status::Ok();
}

// The common case — the middle of a large file part — without copying the
// chunk into buffer_: only the junction between the held-back tail and the
// chunk's start is assembled, the chunk itself is searched where it lies.
// Leaves `chunk` holding whatever the general state machine (Run) must see.
Status MultipartParser::FeedContentInPlace(std::string_view& chunk) {
  const size_t keep = delimiter_.size() - 1;
  if ((state_ != State::kContent && state_ != State::kPreamble) || buffer_.size() > keep ||
      chunk.size() < keep) {
    return Status::Ok();
  }
  if (!buffer_.empty()) {
    // A delimiter starting in the held-back tail ends within `keep` more bytes.
    std::string junction = buffer_;
    junction.append(chunk.substr(0, keep));
    size_t found = FindDelimiter(junction);
    if (found != std::string_view::npos) {
      RETURN_IF_ERROR(Emit(std::string_view(junction).substr(0, found)));
      chunk.remove_prefix(found + delimiter_.size() - buffer_.size());
      buffer_.clear();
      return DelimiterFound();
    }
    RETURN_IF_ERROR(Emit(buffer_));
    buffer_.clear();
  }
  size_t found = FindDelimiter(chunk);
  if (found != std::string_view::npos) {
    RETURN_IF_ERROR(Emit(chunk.substr(0, found)));
    chunk.remove_prefix(found + delimiter_.size());
    return DelimiterFound();
  }
  RETURN_IF_ERROR(Emit(chunk.substr(0, chunk.size() - keep)));
  buffer_.assign(chunk.substr(chunk.size() - keep));
  chunk = {};
  return Status::Ok();
}

Status MultipartParser::Finish() {
  if (state_ == State::kFailed) return error_;
  if (state_ != State::kEpilogue) {
    return Fail(Status::InvalidArgument(parts_ == 0
                                            ? "multipart body has no parts (boundary not found)"
                                            : "multipart body ended before its closing boundary"));
  }
  return Status::Ok();
}

Status MultipartParser::Emit(std::string_view data) {
  if (state_ == State::kContent && !data.empty()) return receiver_->OnPartData(data);
  return Status::Ok();
}

// Consumes as much of buffer_ as the current state allows. Positions index
// buffer_; the consumed prefix is erased once at the end.
Status MultipartParser::Run() {
  size_t pos = 0;
  while (true) {
    std::string_view rest = std::string_view(buffer_).substr(pos);
    switch (state_) {
      case State::kPreamble:
      case State::kContent: {
        size_t found = FindDelimiter(rest);
        if (found == std::string_view::npos) {
          // Everything except a tail that could begin a delimiter is content.
          size_t keep = std::min(rest.size(), delimiter_.size() - 1);
          RETURN_IF_ERROR(Emit(rest.substr(0, rest.size() - keep)));
          pos += rest.size() - keep;
          buffer_.erase(0, pos);
          return Status::Ok();
        }
        RETURN_IF_ERROR(Emit(rest.substr(0, found)));
        pos += found + delimiter_.size();
        RETURN_IF_ERROR(DelimiterFound());
        break;
      }
      case State::kDelimiterLine: {
        if (rest.size() < 2) {
          buffer_.erase(0, pos);
          return Status::Ok();
        }
        if (rest.substr(0, 2) == "--") {
          state_ = State::kEpilogue;
          buffer_.clear();
          return Status::Ok();
        }
        // Skip transport padding, then expect CRLF.
        size_t skipped = 0;
        while (skipped < rest.size() && (rest[skipped] == ' ' || rest[skipped] == '\t')) {
          ++skipped;
        }
        delimiter_line_bytes_ += skipped;
        if (delimiter_line_bytes_ > kMaxDelimiterLinePadding) {
          return Status::InvalidArgument("malformed multipart delimiter line");
        }
        pos += skipped;
        rest.remove_prefix(skipped);
        if (rest.size() < 2) {
          buffer_.erase(0, pos);
          return Status::Ok();
        }
        if (rest.substr(0, 2) != "\r\n") {
          return Status::InvalidArgument(
              "malformed multipart delimiter line (boundary followed by other text)");
        }
        pos += 2;
        if (parts_ >= limits_.max_parts) {
          return Status::InvalidArgument("multipart body has more than " +
                                         std::to_string(limits_.max_parts) + " parts");
        }
        ++parts_;
        state_ = State::kHeaders;
        break;
      }
      case State::kHeaders: {
        // A part without headers starts straight with the empty line.
        size_t end;
        size_t block_length;
        if (rest.substr(0, std::min<size_t>(2, rest.size())) == "\r\n") {
          end = 2;
          block_length = 0;
        } else {
          size_t found = rest.find("\r\n\r\n");
          if (found == std::string_view::npos) {
            if (rest.size() > limits_.max_part_header_bytes) {
              return Status::PayloadTooLarge("multipart part header longer than " +
                                             std::to_string(limits_.max_part_header_bytes) +
                                             " bytes");
            }
            buffer_.erase(0, pos);
            return Status::Ok();
          }
          block_length = found + 2;  // keep the last line's CRLF
          end = found + 4;
        }
        if (block_length > limits_.max_part_header_bytes) {
          return Status::PayloadTooLarge("multipart part header longer than " +
                                         std::to_string(limits_.max_part_header_bytes) + " bytes");
        }
        RETURN_IF_ERROR(ParseHeaders(rest.substr(0, block_length)));
        pos += end;
        state_ = State::kContent;
        break;
      }
      case State::kEpilogue:
        buffer_.clear();
        return Status::Ok();
      case State::kFailed:
        return error_;
    }
  }
}

Status MultipartParser::ParseHeaders(std::string_view block) {
  MultipartPart part;
  std::string name;
  std::string value;
  auto flush = [&]() -> Status {
    if (name.empty()) return Status::Ok();
    part.headers.Add(name, std::string(TrimOws(value)));
    name.clear();
    value.clear();
    return Status::Ok();
  };
  while (!block.empty()) {
    size_t eol = block.find("\r\n");
    std::string_view line = block.substr(0, eol);
    block.remove_prefix(eol == std::string_view::npos ? block.size() : eol + 2);
    if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos ||
        line.find('\n') != std::string_view::npos) {
      return Status::InvalidArgument("multipart part header contains a control character");
    }
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      if (name.empty()) return Status::InvalidArgument("malformed multipart part header");
      value.push_back(' ');
      value.append(TrimOws(line));
      continue;
    }
    RETURN_IF_ERROR(flush());
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        TrimOws(line.substr(0, colon)).size() != colon) {
      return Status::InvalidArgument("malformed multipart part header: no field name");
    }
    name = std::string(line.substr(0, colon));
    value = std::string(line.substr(colon + 1));
  }
  RETURN_IF_ERROR(flush());

  if (std::optional<std::string> disposition = part.headers.Get("Content-Disposition")) {
    Result<ParameterizedValue> parsed = ParseParameterizedValue(*disposition);
    if (!parsed.ok()) {
      return Status::InvalidArgument("malformed part Content-Disposition: " +
                                     parsed.status().message());
    }
    part.name = parsed->Get("name").value_or("");
    part.filename = parsed->Get("filename");
    if (std::optional<std::string> extended = parsed->Get("filename*")) {
      Result<std::string> decoded = DecodeExtValue(*extended);
      if (decoded.ok()) part.filename = *decoded;
    }
  }
  if (std::optional<std::string> type = part.headers.Get("Content-Type")) {
    part.content_type = *type;
  }
  return receiver_->OnPartBegin(part);
}

}  // namespace vidmill::http
