#include "accounts/message_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#include <algorithm>
#include <charconv>

#include "common/ids.h"

namespace vidmill::accounts {
namespace {

Status BadSignature(std::string message) {
  return Status::Unauthenticated(std::move(message))
      .WithException("InvalidRequestSignatureException");
}

std::optional<std::string> HeaderValue(const SignedRequest& request, std::string_view name) {
  std::optional<std::string> joined;
  for (const auto& [field, value] : request.headers) {
    if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0) {
      std::string trimmed = value;
      while (!trimmed.empty() && (trimmed.back() == ' ' || trimmed.back() == '\t'))
        trimmed.pop_back();
      size_t start = trimmed.find_first_not_of(" \t");
      trimmed = start == std::string::npos ? "" : trimmed.substr(start);
      joined = joined ? *joined + ", " + trimmed : trimmed;
    }
  }
  return joined;
}

void SkipSpaces(std::string_view text, size_t& pos) {
  while (pos < text.size() && text[pos] == ' ') ++pos;
}

bool IsKeyChar(char c, bool first) {
  if ((c >= 'a' && c <= 'z') || c == '*') return true;
  if (first) return false;
  return (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

// The members of a structured-field dictionary (RFC 8941 §3.2) as raw
// "label" → "value text" pairs, split at top-level commas (outside strings
// and inner lists). nullopt when a label is not a valid key.
std::optional<std::vector<std::pair<std::string, std::string>>> SplitDictionary(
    std::string_view field) {
  std::vector<std::pair<std::string, std::string>> members;
  size_t pos = 0;
  while (pos < field.size()) {
    while (pos < field.size() && (field[pos] == ' ' || field[pos] == '\t')) ++pos;
    size_t eq = field.find('=', pos);
    if (eq == std::string_view::npos || eq == pos) return std::nullopt;
    std::string label(field.substr(pos, eq - pos));
    for (size_t i = 0; i < label.size(); ++i) {
      if (!IsKeyChar(label[i], i == 0)) return std::nullopt;
    }
    bool quoted = false;
    int depth = 0;
    size_t end = eq + 1;
    for (; end < field.size(); ++end) {
      char c = field[end];
      if (quoted) {
        if (c == '\\') {
          ++end;
        } else if (c == '"') {
          quoted = false;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == '(') {
        ++depth;
      } else if (c == ')') {
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
    }
    std::string value(field.substr(eq + 1, end - eq - 1));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
    members.emplace_back(std::move(label), std::move(value));
    pos = end + 1;
  }
  return members;
}

std::optional<std::string> ParseQuoted(std::string_view text, size_t& pos) {
  if (pos >= text.size() || text[pos] != '"') return std::nullopt;
  std::string out;
  for (++pos; pos < text.size(); ++pos) {
    char c = text[pos];
    if (c == '\\') {
      if (pos + 1 >= text.size()) return std::nullopt;
      out.push_back(text[++pos]);
    } else if (c == '"') {
      ++pos;
      return out;
    } else if (c < 0x20 || c == 0x7f) {
      return std::nullopt;
    } else {
      out.push_back(c);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string Sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), size);
}

std::string HmacSha256(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &size);
  return std::string(reinterpret_cast<char*>(out), size);
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int size = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                             reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(size));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=';
    if (!ok) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3 + 1, '\0');
  int size = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                             reinterpret_cast<const unsigned char*>(text.data()),
                             static_cast<int>(text.size()));
  if (size < 0) return std::nullopt;
  size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding++;
  if (text.size() > 1 && text[text.size() - 2] == '=') padding++;
  out.resize(static_cast<size_t>(size) - padding);
  return out;
}

Result<ParsedSignature> ParseSignature(const SignedRequest& request) {
  std::optional<std::string> input = HeaderValue(request, "Signature-Input");
  std::optional<std::string> signature = HeaderValue(request, "Signature");
  if (!input && !signature) {
    return Status::Unauthenticated("no JWT token in the Authorization header and no signature")
        .WithException("NoJWTTokenFoundException");
  }
  // One of the two: the client meant to sign, and half a signature is a bad
  // one (it had been answered as no credentials at all).
  if (!input) return BadSignature("Signature without Signature-Input");
  if (!signature) return BadSignature("Signature-Input without Signature");
  ParsedSignature parsed;
  auto input_members = SplitDictionary(*input);
  if (!input_members || input_members->empty()) {
    return BadSignature("Signature-Input is malformed");
  }
  // The first signature is the one verified; others (e.g. added by a proxy)
  // are ignored.
  parsed.label = input_members->front().first;
  std::string input_value = input_members->front().second;
  auto signature_members = SplitDictionary(*signature);
  if (!signature_members) return BadSignature("Signature is malformed");
  std::optional<std::string> sig_value;
  for (const auto& [label, value] : *signature_members) {
    if (label == parsed.label) {
      if (sig_value) return BadSignature("Signature repeats the label '" + label + "'");
      sig_value = value;
    }
  }
  if (!sig_value) return BadSignature("Signature has no member labelled '" + parsed.label + "'");
  if (sig_value->size() < 2 || sig_value->front() != ':' || sig_value->back() != ':') {
    return BadSignature("Signature value must be a byte sequence (:base64:)");
  }
  std::optional<std::string> raw = Base64Decode(sig_value->substr(1, sig_value->size() - 2));
  if (!raw) return BadSignature("Signature value is not base64");
  parsed.signature = *raw;

  std::string_view text = input_value;
  size_t pos = 0;
  if (text.empty() || text[0] != '(') return BadSignature("Signature-Input must be an inner list");
  ++pos;
  while (true) {
    SkipSpaces(text, pos);
    if (pos < text.size() && text[pos] == ')') {
      ++pos;
      break;
    }
    std::optional<std::string> component = ParseQuoted(text, pos);
    if (!component) return BadSignature("Signature-Input component list is malformed");
    if (pos < text.size() && text[pos] == ';') {
      return BadSignature("component parameters are not supported");
    }
    if (pos >= text.size() || (text[pos] != ' ' && text[pos] != ')')) {
      return BadSignature("Signature-Input component list is malformed");
    }
    if (component->empty()) return BadSignature("a covered component name is empty");
    for (const std::string& seen : parsed.components) {
      if (seen == *component) return BadSignature("component \"" + seen + "\" is covered twice");
    }
    parsed.components.push_back(*component);
    if (parsed.components.size() > 32) return BadSignature("too many covered components");
  }
  parsed.params = input_value;
  std::vector<std::string> seen_params;
  while (pos < text.size()) {
    if (text[pos] != ';') return BadSignature("Signature-Input parameters are malformed");
    ++pos;
    size_t eq = text.find('=', pos);
    if (eq == std::string_view::npos) return BadSignature("Signature-Input parameter has no value");
    std::string name(text.substr(pos, eq - pos));
    for (size_t i = 0; i < name.size(); ++i) {
      if (!IsKeyChar(name[i], i == 0)) {
        return BadSignature("Signature-Input parameter name is malformed");
      }
    }
    if (name.empty() ||
        std::find(seen_params.begin(), seen_params.end(), name) != seen_params.end()) {
      return BadSignature("Signature-Input parameter '" + name + "' is empty or repeated");
    }
    seen_params.push_back(name);
    pos = eq + 1;
    if (pos < text.size() && text[pos] == '"') {
      std::optional<std::string> value = ParseQuoted(text, pos);
      if (!value) return BadSignature("Signature-Input parameter '" + name + "' is malformed");
      if (name == "keyid") parsed.key_id = *value;
      if (name == "alg") parsed.algorithm = *value;
    } else {
      // An sf-integer: optional minus, 1 to 15 digits.
      size_t digits_start = pos < text.size() && text[pos] == '-' ? pos + 1 : pos;
      size_t end = digits_start;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
      if (end == digits_start || end - digits_start > 15 ||
          (end < text.size() && text[end] != ';')) {
        return BadSignature("Signature-Input parameter '" + name + "' is malformed");
      }
      int64_t number = 0;
      std::from_chars(text.data() + pos, text.data() + end, number);
      if (name == "created") parsed.created = number;
      if (name == "expires") parsed.expires = number;
      pos = end;
    }
  }
  if (parsed.key_id.empty()) return BadSignature("Signature-Input has no keyid");
  return parsed;
}

Result<std::string> SignatureBase(const SignedRequest& request, const ParsedSignature& parsed) {
  std::string base;
  for (const std::string& component : parsed.components) {
    std::string value;
    if (component == "@method") {
      value = request.method;
    } else if (component == "@target-uri") {
      value = request.target_uri;
    } else if (component == "@authority" || component == "@path" || component == "@query") {
      std::string_view uri = request.target_uri;
      size_t scheme = uri.find("://");
      size_t path_start = uri.find('/', scheme == std::string_view::npos ? 0 : scheme + 3);
      if (scheme == std::string_view::npos || path_start == std::string_view::npos) {
        return BadSignature("cannot derive " + component);
      }
      std::string_view authority = uri.substr(scheme + 3, path_start - scheme - 3);
      std::string_view path_and_query = uri.substr(path_start);
      size_t question = path_and_query.find('?');
      if (component == "@authority") {
        value = std::string(authority);
      } else if (component == "@path") {
        value = std::string(path_and_query.substr(0, question));
      } else {
        value =
            question == std::string_view::npos ? "?" : std::string(path_and_query.substr(question));
      }
    } else if (!component.empty() && component[0] == '@') {
      return BadSignature("derived component " + component + " is not supported");
    } else {
      std::optional<std::string> header = HeaderValue(request, component);
      if (!header) return BadSignature("covered header '" + component + "' is missing");
      value = *header;
    }
    base += "\"" + component + "\": " + value + "\n";
  }
  base += "\"@signature-params\": " + parsed.params;
  return base;
}

Status VerifySignature(const SignedRequest& request, const ParsedSignature& parsed,
                       std::string_view secret, int64_t now_seconds) {
  if (parsed.algorithm != kSignatureMethod) {
    return BadSignature("signature alg must be \"hmac-sha256\"");
  }
  auto covers = [&](std::string_view name) {
    for (const std::string& c : parsed.components) {
      if (strcasecmp(c.c_str(), std::string(name).c_str()) == 0) return true;
    }
    return false;
  };
  if (!covers("@method") || !covers("@target-uri")) {
    return BadSignature("signature must cover \"@method\" and \"@target-uri\"");
  }
  if (request.has_body && !covers("content-digest")) {
    return BadSignature("signature of a request with a body must cover \"content-digest\"");
  }
  if (parsed.created == 0) return BadSignature("signature has no created time");
  if (parsed.created > now_seconds + kSignatureMaxAgeSeconds ||
      parsed.created < now_seconds - kSignatureMaxAgeSeconds) {
    return BadSignature("signature created time is more than 5 minutes from now");
  }
  if (parsed.expires && *parsed.expires < now_seconds) {
    return BadSignature("signature has expired");
  }
  ASSIGN_OR_RETURN(std::string base, SignatureBase(request, parsed));
  std::string expected = HmacSha256(secret, base);
  if (expected.size() != parsed.signature.size() ||
      CRYPTO_memcmp(expected.data(), parsed.signature.data(), expected.size()) != 0) {
    return BadSignature("signature does not verify");
  }
  return Status::Ok();
}

Result<std::string> ExpectedContentSha256(const SignedRequest& request) {
  std::optional<std::string> digest = HeaderValue(request, "Content-Digest");
  if (!digest) return BadSignature("Content-Digest header is missing");
  // A dictionary of algorithm → digest (RFC 9530); the sha-256 member counts.
  auto members = SplitDictionary(*digest);
  if (!members) return BadSignature("Content-Digest is malformed");
  for (const auto& [algorithm, value] : *members) {
    if (algorithm != "sha-256") continue;
    if (value.size() < 2 || value.front() != ':' || value.back() != ':') {
      return BadSignature("Content-Digest sha-256 must be a byte sequence (:base64:)");
    }
    std::optional<std::string> raw =
        Base64Decode(std::string_view(value).substr(1, value.size() - 2));
    if (!raw || raw->size() != 32) return BadSignature("Content-Digest sha-256 is malformed");
    return *raw;
  }
  return BadSignature("Content-Digest has no sha-256 member");
}

Status VerifyContentDigest(const SignedRequest& request, std::string_view body_sha256) {
  ASSIGN_OR_RETURN(std::string expected, ExpectedContentSha256(request));
  if (expected.size() != body_sha256.size() ||
      CRYPTO_memcmp(expected.data(), body_sha256.data(), expected.size()) != 0) {
    return BadSignature("Content-Digest does not match the body");
  }
  return Status::Ok();
}

std::string ReplayKey(const ParsedSignature& parsed) {
  return HexEncode(Sha256(parsed.key_id + "\n" + parsed.signature));
}

std::pair<std::string, std::string> SignRequest(const SignedRequest& request,
                                                const std::vector<std::string>& components,
                                                const std::string& key_id, std::string_view secret,
                                                int64_t created) {
  ParsedSignature parsed;
  parsed.label = "sig1";
  parsed.components = components;
  std::string list = "(";
  for (size_t i = 0; i < components.size(); ++i) {
    if (i > 0) list += " ";
    list += "\"" + components[i] + "\"";
  }
  list += ")";
  parsed.params = list + ";created=" + std::to_string(created) + ";keyid=\"" + key_id +
                  "\";alg=\"hmac-sha256\"";
  Result<std::string> base = SignatureBase(request, parsed);
  std::string mac = HmacSha256(secret, base.ok() ? *base : std::string());
  return {"sig1=" + parsed.params, "sig1=:" + Base64Encode(mac) + ":"};
}

}  // namespace vidmill::accounts
