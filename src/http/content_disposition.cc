#include "http/content_disposition.h"

#include <cctype>
#include <cstdint>
#include <string>

#include "common/utf8.h"
#include "http/message.h"

namespace vidmill::http {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069: the marks that
// reorder how the text around them is shown.
bool IsBidiControl(std::string_view sequence) {
  if (sequence == "\xD8\x9C") return true;
  if (sequence.size() != 3 || sequence[0] != '\xE2') return false;
  const auto b1 = static_cast<unsigned char>(sequence[1]);
  const auto b2 = static_cast<unsigned char>(sequence[2]);
  return (b1 == 0x80 && (b2 == 0x8E || b2 == 0x8F || (b2 >= 0xAA && b2 <= 0xAE))) ||
         (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9);
}

// RFC 5987 attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~".
bool IsAttrChar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '&':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<std::string> ParameterizedValue::Get(std::string_view name) const {
  for (const auto& [key, value] : parameters) {
    if (key == name) return value;
  }
  return std::nullopt;
}

Result<ParameterizedValue> ParseParameterizedValue(std::string_view value) {
  for (char c : value) {
    if (c == '\0' || c == '\r' || c == '\n') {
      return Status::InvalidArgument("header value contains a control character");
    }
  }
  ParameterizedValue out;
  size_t semicolon = value.find(';');
  out.token = ToLower(TrimOws(value.substr(0, semicolon)));
  if (out.token.empty()) return Status::InvalidArgument("header value has no type");
  size_t pos = semicolon == std::string_view::npos ? value.size() : semicolon + 1;
  while (pos < value.size()) {
    while (pos < value.size() && (IsSpace(value[pos]) || value[pos] == ';')) ++pos;
    if (pos >= value.size()) break;
    size_t equals = value.find('=', pos);
    size_t next_semicolon = value.find(';', pos);
    if (equals == std::string_view::npos || equals > next_semicolon) {
      return Status::InvalidArgument("header parameter without a value: '" +
                                     std::string(TrimOws(value.substr(pos, next_semicolon - pos))) +
                                     "'");
    }
    std::string name = ToLower(TrimOws(value.substr(pos, equals - pos)));
    if (name.empty()) return Status::InvalidArgument("header parameter without a name");
    pos = equals + 1;
    while (pos < value.size() && IsSpace(value[pos])) ++pos;
    std::string parameter_value;
    if (pos < value.size() && value[pos] == '"') {
      ++pos;
      bool closed = false;
      while (pos < value.size()) {
        char c = value[pos];
        if (c == '\\' && pos + 1 < value.size() &&
            (value[pos + 1] == '"' || value[pos + 1] == '\\')) {
          parameter_value.push_back(value[pos + 1]);
          pos += 2;
          continue;
        }
        if (c == '"') {
          closed = true;
          ++pos;
          break;
        }
        parameter_value.push_back(c);
        ++pos;
      }
      if (!closed) return Status::InvalidArgument("unterminated quoted string in header");
      while (pos < value.size() && IsSpace(value[pos])) ++pos;
      if (pos < value.size() && value[pos] != ';') {
        return Status::InvalidArgument("unexpected text after a quoted header parameter");
      }
    } else {
      size_t end = value.find(';', pos);
      parameter_value = std::string(TrimOws(value.substr(pos, end - pos)));
      pos = end == std::string_view::npos ? value.size() : end;
    }
    out.parameters.emplace_back(std::move(name), std::move(parameter_value));
  }
  return out;
}

Result<std::string> DecodeExtValue(std::string_view ext_value) {
  size_t first = ext_value.find('\'');
  size_t second = first == std::string_view::npos ? first : ext_value.find('\'', first + 1);
  if (second == std::string_view::npos) {
    return Status::InvalidArgument("malformed extended header parameter");
  }
  std::string charset = ToLower(ext_value.substr(0, first));
  bool latin1 = charset == "iso-8859-1";
  if (charset != "utf-8" && !latin1) {
    return Status::InvalidArgument("unsupported charset in extended header parameter: " + charset);
  }
  std::string_view encoded = ext_value.substr(second + 1);
  std::string bytes;
  for (size_t i = 0; i < encoded.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(encoded[i]);
    if (c == '%') {
      if (i + 2 >= encoded.size()) {
        return Status::InvalidArgument("truncated percent escape in extended header parameter");
      }
      int high = HexValue(encoded[i + 1]);
      int low = HexValue(encoded[i + 2]);
      if (high < 0 || low < 0) {
        return Status::InvalidArgument("bad percent escape in extended header parameter");
      }
      bytes.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (IsAttrChar(c)) {
      bytes.push_back(static_cast<char>(c));
    } else {
      return Status::InvalidArgument("invalid character in extended header parameter");
    }
  }
  if (!latin1) {
    if (!IsValidUtf8(bytes)) {
      return Status::InvalidArgument("extended header parameter is not valid UTF-8");
    }
    return bytes;
  }
  std::string utf8;
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      utf8.push_back(static_cast<char>(c));
    } else {
      utf8.push_back(static_cast<char>(0xC0 | (c >> 6)));
      utf8.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return utf8;
}

std::string AttachmentDisposition(std::string_view filename, std::string_view fallback_name) {
  // Only the last path component: a client-supplied "C:\dir\x.mp4" or "a/../b".
  size_t slash = filename.find_last_of("/\\");
  if (slash != std::string_view::npos) filename.remove_prefix(slash + 1);

  // Well-formed UTF-8 with control characters and bidirectional formatting
  // marks dropped to '_' (U+202E would show "<U+202E>3pm.exe" as "exe.mp3"),
  // and invalid sequences replaced by U+FFFD.
  std::string utf8;
  for (std::string_view rest = filename; !rest.empty();) {
    size_t length = Utf8SequenceLength(rest);
    if (length == 0) {
      utf8 += kUtf8Replacement;
      rest.remove_prefix(1);
      continue;
    }
    unsigned char c = static_cast<unsigned char>(rest[0]);
    if ((length == 1 && (c < 0x20 || c == 0x7F)) || IsBidiControl(rest.substr(0, length))) {
      utf8.push_back('_');
    } else {
      utf8.append(rest.substr(0, length));
    }
    rest.remove_prefix(length);
  }
  if (utf8.empty() || utf8 == "." || utf8 == "..") utf8 = std::string(fallback_name);

  std::string ascii;
  for (std::string_view rest = utf8; !rest.empty();) {
    size_t length = Utf8SequenceLength(rest);
    unsigned char c = static_cast<unsigned char>(rest[0]);
    bool keep = length == 1 && c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '/' &&
                c != '%' && c != ';';
    ascii.push_back(keep ? static_cast<char>(c) : '_');
    rest.remove_prefix(length == 0 ? 1 : length);
  }
  if (!ascii.empty() && ascii.front() == '.') ascii.front() = '_';

  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (unsigned char c : utf8) {
    if (IsAttrChar(c)) {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded.push_back('%');
      encoded.push_back(kHex[c >> 4]);
      encoded.push_back(kHex[c & 0xF]);
    }
  }
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace vidmill::http
