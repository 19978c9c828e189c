#pragma once
// Header values with parameters (Content-Type, Content-Disposition), and the
// Content-Disposition a download sends (RFC 6266).
//
// Filenames come from clients and are hostile: they may hold "../", NUL,
// control characters, quotes, or bytes that are not UTF-8. They are stored as
// given and never used as paths; this module only has to show them safely in a
// response header.
//
// Thread safety: pure functions.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vidmill::http {

// "form-data; name=\"file\"; filename=\"a b.mp4\"" split into its lower-cased
// leading token ("form-data") and parameters (names lower-cased, values
// unquoted; in quoted strings a backslash escapes only '"' and '\', so Windows
// paths sent unescaped by old browsers survive). An `ext-value` parameter
// (name ending in '*', RFC 8187: UTF-8''%e2%82%ac) is kept raw; decode it with
// DecodeExtValue.
struct ParameterizedValue {
  std::string token;
  std::vector<std::pair<std::string, std::string>> parameters;

  // The first parameter of that (lower-case) name.
  std::optional<std::string> Get(std::string_view name) const;
};

// InvalidArgument for an empty token, a parameter without '=', an unterminated
// quoted string or a NUL/CR/LF byte.
Result<ParameterizedValue> ParseParameterizedValue(std::string_view value);

// Decodes an RFC 8187 ext-value ("UTF-8'en'%e2%82%ac%20rates"). Only the UTF-8
// charset is accepted (ISO-8859-1 is converted to UTF-8); InvalidArgument for a
// malformed value or bad percent escapes.
Result<std::string> DecodeExtValue(std::string_view ext_value);

// The header value for downloading `filename` as an attachment:
//   attachment; filename="<ascii fallback>"; filename*=UTF-8''<percent-encoded>
// The ASCII fallback keeps printable ASCII except '"', '\\', '/', '%' and ';',
// replacing those, non-ASCII bytes and control characters by '_'; a leading
// '.' also becomes '_' so "../x" is never suggested. Invalid UTF-8 sequences
// are replaced by U+FFFD in the filename* form. Only the last path component
// (after '/' or '\') is used. An empty result becomes `fallback_name`.
std::string AttachmentDisposition(std::string_view filename,
                                  std::string_view fallback_name = "download");

}  // namespace vidmill::http
