#include "http/message.h"

#include <strings.h>

#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>
#include <unordered_set>
#include <vector>

#include "common/utf8.h"

namespace vidmill::http {
namespace {

// A SAX handler for boost::json::basic_parser that stops at the first key an
// object repeats, and remembers it. JSON leaves such a text's meaning open
// (RFC 8259 §4), and boost::json::parse keeps the last value silently.
class DuplicateKeyFinder {
 public:
  static constexpr std::size_t max_object_size = boost::json::object::max_size();
  static constexpr std::size_t max_array_size = boost::json::array::max_size();
  static constexpr std::size_t max_key_size = boost::json::string::max_size();
  static constexpr std::size_t max_string_size = boost::json::string::max_size();

  const std::string& duplicate() const { return duplicate_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    objects_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    objects_.pop_back();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::system::error_code&) { return true; }
  bool on_key_part(boost::json::string_view part, std::size_t, boost::system::error_code&) {
    key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(boost::json::string_view part, std::size_t, boost::system::error_code& ec) {
    key_.append(part.data(), part.size());
    if (!objects_.back().insert(key_).second) {
      duplicate_ = key_;
      ec = std::make_error_code(std::errc::invalid_argument);
      return false;
    }
    key_.clear();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::system::error_code&) {
    return true;
  }
  bool on_string(boost::json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(int64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(uint64_t, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::system::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> objects_;  // the keys of each open object
  std::string key_;                                       // the key being read
  std::string duplicate_;
};

// The first key that an object of the JSON text `text` repeats, or "".
std::string RepeatedKey(std::string_view text) {
  boost::json::basic_parser<DuplicateKeyFinder> parser{boost::json::parse_options{}};
  boost::system::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().duplicate();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

void AppendJson(const boost::json::value& value, std::string& out) {
  switch (value.kind()) {
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& item : value.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::string_view(item.key()));
        out += ':';
        AppendJson(item.value(), out);
      }
      out += '}';
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value.get_array()) {
        if (!first) out += ',';
        first = false;
        AppendJson(element, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::double_: {
      // Shortest round-trip decimal ("29.97", "100", "0.001") rather than
      // Boost.JSON's exponent form ("2.997E1", "1E2").
      double number = value.get_double();
      if (!std::isfinite(number)) {
        out += "null";
        return;
      }
      char buffer[64];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), number);
      out.append(buffer, ec == std::errc() ? end : buffer);
      return;
    }
    default:
      out += boost::json::serialize(value);
  }
}

}  // namespace

std::string SerializeJson(const boost::json::value& value) {
  std::string out;
  AppendJson(value, out);
  return out;
}

void Headers::Set(std::string name, std::string value) {
  std::erase_if(fields_, [&](const auto& field) { return EqualsIgnoreCase(field.first, name); });
  fields_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string> Headers::Get(std::string_view name) const {
  for (const auto& [field_name, value] : fields_) {
    if (EqualsIgnoreCase(field_name, name)) return value;
  }
  return std::nullopt;
}

std::vector<std::string> Headers::GetAll(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [field_name, value] : fields_) {
    if (EqualsIgnoreCase(field_name, name)) values.push_back(value);
  }
  return values;
}

uint64_t Response::BodyLength() const {
  if (pieces.empty()) return body.size();
  uint64_t total = 0;
  for (const BodyPiece& piece : pieces) {
    total += piece.file ? piece.length : piece.literal.size();
  }
  return total;
}

Response Response::Json(int status, const boost::json::value& value) {
  Response response;
  response.status = status;
  response.headers.Set("Content-Type", "application/json");
  response.body = SerializeJson(value);
  return response;
}

int HttpStatusFor(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kMethodNotAllowed: return 405;
    case Code::kTimeout: return 408;
    case Code::kConflict: return 409;
    case Code::kPayloadTooLarge: return 413;
    case Code::kUnsupportedMedia: return 415;
    case Code::kRangeNotSatisfiable: return 416;
    case Code::kUriTooLong:
      return 414;
    case Code::kHeaderFieldsTooLarge:
      return 431;
    case Code::kPreconditionFailed:
      return 412;
    case Code::kTooManyRequests: return 429;
    case Code::kNotImplemented: return 501;
    case Code::kUnavailable: return 503;
    case Code::kCorruptMedia: return 409;
    case Code::kCancelled: return 409;
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string DefaultExceptionFor(Code code) {
  switch (code) {
    case Code::kInvalidArgument: return "BadRequestException";
    case Code::kUnauthenticated: return "AuthException";
    case Code::kPermissionDenied: return "ForbiddenException";
    case Code::kNotFound: return "NotFoundException";
    case Code::kMethodNotAllowed: return "MethodNotAllowedException";
    case Code::kTimeout: return "RequestTimeoutException";
    case Code::kConflict: return "ConflictException";
    case Code::kPayloadTooLarge: return "PayloadTooLargeException";
    case Code::kUnsupportedMedia: return "UnsupportedMediaTypeException";
    case Code::kRangeNotSatisfiable: return "RangeNotSatisfiableException";
    case Code::kUriTooLong:
      return "URITooLongException";
    case Code::kHeaderFieldsTooLarge:
      return "RequestHeaderFieldsTooLargeException";
    case Code::kPreconditionFailed:
      return "PreconditionFailedException";
    case Code::kTooManyRequests: return "TooManyRequestsException";
    case Code::kNotImplemented: return "NotImplementedException";
    case Code::kUnavailable: return "ServiceUnavailableException";
    case Code::kCorruptMedia: return "UnprocessableMediaException";
    case Code::kCancelled: return "CancelledException";
    case Code::kOk:
    case Code::kInternal: return "InternalServerErrorException";
  }
  return "InternalServerErrorException";
}

std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Response ErrorResponse(const Status& status) {
  std::string exception =
      status.exception().empty() ? DefaultExceptionFor(status.code()) : status.exception();
  Response response = Response::Json(
      HttpStatusFor(status.code()),
      // Messages quote what clients sent (a path, a name): kept valid UTF-8,
      // so the body is JSON (RFC 8259 §8.1) whatever bytes came in.
      boost::json::object{{"exception", exception}, {"errorMessage", ValidUtf8(status.message())}});
  if (status.retry_after_seconds() > 0) {
    response.headers.Set("Retry-After", std::to_string(status.retry_after_seconds()));
  } else if (status.code() == Code::kUnavailable) {
    // Every 503 says when to try again: the database or the media store
    // away had answered without it, where the overload limits say 1 s
    // (audit 33 F6). Their faults last longer than an overload.
    response.headers.Set("Retry-After", "5");
  }
  if (status.code() == Code::kUnauthenticated) {
    // RFC 6750 §3: a token that was sent but is expired, malformed or forged
    // is named invalid_token, so a client knows to get a new one rather than
    // to send one at all.
    const bool bad_token =
        exception == "InvalidJWTTokenFoundException" || exception == "ExpiredJWTTokenException";
    response.headers.Set("WWW-Authenticate",
                         bad_token ? "Bearer realm=\"vidmill\", error=\"invalid_token\""
                                   : "Bearer realm=\"vidmill\"");
  }
  return response;
}

Result<boost::json::object> ParseJsonObject(const Request& request) {
  std::optional<std::string> type = request.headers.Get("Content-Type");
  if (!type && !request.body.empty()) {
    // A body of unknown type is not taken for JSON: a browser sends one
    // without Content-Type, and without a preflight, from any page.
    return Status::UnsupportedMedia(
        "a request body needs Content-Type: application/json; none was given");
  }
  if (type) {
    // The media type as HTTP writes it: optional white space around it, any
    // case. Its parameters are not ours to judge (JSON has no charset but
    // UTF-8), so a malformed one ("; charset") does not refuse the body.
    const std::string_view media = TrimOws(std::string_view(*type).substr(0, type->find(';')));
    if (!EqualsIgnoreCase(media, "application/json")) {
      return Status::UnsupportedMedia("Content-Type must be application/json, got '" + *type + "'");
    }
  }
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(request.body, ec);
  if (ec) {
    return Status::InvalidArgument("request body is not valid JSON: " + ec.message());
  }
  if (!value.is_object()) {
    return Status::InvalidArgument("request body must be a JSON object");
  }
  if (const std::string key = RepeatedKey(request.body); !key.empty()) {
    return Status::InvalidArgument("request body has the key '" + key +
                                   "' twice in one object; give each key once");
  }
  return std::move(value.as_object());
}

}  // namespace vidmill::http
