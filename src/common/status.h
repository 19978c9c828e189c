#pragma once
// Status and Result<T>: how Vidmill reports expected failures.
//
// A Status is either OK or carries a Code and an operator-facing message. The
// Code decides the HTTP status and the API's "exception" name in exactly one
// place (http::ErrorResponse, http/message.cc); the message becomes "errorMessage".
// Functions that can fail for reasons outside the program's control (input,
// I/O, the database, media) return Status or Result<T>; exceptions are kept for
// bugs and for libraries that throw.
//
// Thread safety: values; safe to copy between threads.

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vidmill {

enum class Code {
  kOk,
  kInvalidArgument,       // 400: the request is malformed or fails validation
  kUnauthenticated,       // 401: no or bad credentials
  kPermissionDenied,      // 403: credentials fine, not allowed (e.g. banned)
  kNotFound,              // 404
  kMethodNotAllowed,      // 405
  kTimeout,               // 408: the client was too slow
  kConflict,              // 409: the resource is in the wrong state for this
  kPreconditionFailed,    // 412: a conditional request's If-Match failed
  kPayloadTooLarge,       // 413
  kUriTooLong,            // 414: the request line alone is over the header limit
  kUnsupportedMedia,      // 415
  kRangeNotSatisfiable,   // 416
  kTooManyRequests,       // 429
  kHeaderFieldsTooLarge,  // 431: the request's header is over the limit
  kInternal,              // 500: a bug or an unexpected library failure
  kNotImplemented,        // 501
  kUnavailable,           // 503: a dependency (database, disk) is down; retry later
  kCancelled,             // the operation was cancelled (job deleted, shutdown)
  kCorruptMedia,          // the media cannot be decoded: retrying will not help
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message));
  }
  static Status Unauthenticated(std::string message) {
    return Status(Code::kUnauthenticated, std::move(message));
  }
  static Status PermissionDenied(std::string message) {
    return Status(Code::kPermissionDenied, std::move(message));
  }
  // "video 'abc' not found".
  static Status NotFound(std::string_view kind, std::string_view id) {
    return Status(Code::kNotFound, std::string(kind) + " '" + std::string(id) + "' not found");
  }
  static Status NotFound(std::string message) { return Status(Code::kNotFound, std::move(message)); }
  static Status Conflict(std::string message) { return Status(Code::kConflict, std::move(message)); }
  static Status PayloadTooLarge(std::string message) {
    return Status(Code::kPayloadTooLarge, std::move(message));
  }
  static Status Internal(std::string message) { return Status(Code::kInternal, std::move(message)); }
  static Status Unavailable(std::string message) {
    return Status(Code::kUnavailable, std::move(message));
  }
  static Status Cancelled(std::string message) {
    return Status(Code::kCancelled, std::move(message));
  }
  static Status CorruptMedia(std::string message) {
    return Status(Code::kCorruptMedia, std::move(message));
  }
  static Status NotImplemented(std::string message) {
    return Status(Code::kNotImplemented, std::move(message));
  }
  static Status Timeout(std::string message) { return Status(Code::kTimeout, std::move(message)); }
  static Status MethodNotAllowed(std::string message) {
    return Status(Code::kMethodNotAllowed, std::move(message));
  }
  static Status PreconditionFailed(std::string message) {
    return Status(Code::kPreconditionFailed, std::move(message));
  }
  static Status UnsupportedMedia(std::string message) {
    return Status(Code::kUnsupportedMedia, std::move(message));
  }
  static Status RangeNotSatisfiable(std::string message) {
    return Status(Code::kRangeNotSatisfiable, std::move(message));
  }
  static Status TooManyRequests(std::string message) {
    return Status(Code::kTooManyRequests, std::move(message));
  }
  static Status UriTooLong(std::string message) {
    return Status(Code::kUriTooLong, std::move(message));
  }
  static Status HeaderFieldsTooLarge(std::string message) {
    return Status(Code::kHeaderFieldsTooLarge, std::move(message));
  }

  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // The API exception name to report, when it differs from the code's default
  // (e.g. "ExpiredJWTTokenException" for an Unauthenticated status).
  const std::string& exception() const { return exception_; }
  Status&& WithException(std::string name) && {
    exception_ = std::move(name);
    return std::move(*this);
  }

  // Seconds a client should wait before retrying (429, 503); 0 when not set.
  int retry_after_seconds() const { return retry_after_seconds_; }
  Status&& WithRetryAfter(int seconds) && {
    retry_after_seconds_ = seconds;
    return std::move(*this);
  }

  // Prefixes the message with context: "reading header: " + message.
  Status Annotate(std::string_view context) const {
    Status copy = *this;
    copy.message_ = std::string(context) + ": " + message_;
    return copy;
  }

  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string exception_;
  int retry_after_seconds_ = 0;
};

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
    if (status_.ok()) {
      status_ = Status::Internal("Result constructed from an OK status");
    }
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace vidmill

#define VIDMILL_CONCAT_INNER(a, b) a##b
#define VIDMILL_CONCAT(a, b) VIDMILL_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function if `expr` is not OK.
#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    ::vidmill::Status status_macro_ = (expr); \
    if (!status_macro_.ok()) {                \
      return status_macro_;                   \
    }                                         \
  } while (false)

// `ASSIGN_OR_RETURN(auto x, Foo());` declares x from a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(VIDMILL_CONCAT(result_macro_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(result, lhs, expr) \
  auto result = (expr);                          \
  if (!result.ok()) {                            \
    return result.status();                      \
  }                                              \
  lhs = std::move(result).value()
