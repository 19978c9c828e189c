#include "accounts/jwt.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <memory>

#include "common/ids.h"

namespace vidmill::accounts {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct SigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using SigPtr = std::unique_ptr<ECDSA_SIG, SigFree>;

Status Invalid(std::string message) {
  return Status::Unauthenticated(std::move(message)).WithException("InvalidJWTTokenFoundException");
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

Result<PkeyPtr> LoadPublicKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::Internal("stored public key cannot be read");
  return key;
}

Result<PkeyPtr> LoadPrivateKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status::Internal("stored private key cannot be read");
  return key;
}

std::optional<int64_t> IntClaim(const boost::json::object& payload, std::string_view name) {
  auto it = payload.find(name);
  if (it == payload.end()) return std::nullopt;
  if (it->value().is_int64()) return it->value().as_int64();
  if (it->value().is_uint64() && it->value().as_uint64() < (1ull << 62)) {
    return static_cast<int64_t>(it->value().as_uint64());
  }
  if (it->value().is_double()) return static_cast<int64_t>(it->value().as_double());
  return std::nullopt;
}

std::string StringClaim(const boost::json::object& object, std::string_view name) {
  auto it = object.find(name);
  if (it == object.end() || !it->value().is_string()) return "";
  return std::string(it->value().as_string());
}

Result<boost::json::object> DecodeJsonSegment(std::string_view segment, const char* what) {
  std::optional<std::string> raw = Base64UrlDecode(segment);
  if (!raw) return Invalid(std::string("token ") + what + " is not base64url");
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(*raw, ec);
  if (ec || !value.is_object())
    return Invalid(std::string("token ") + what + " is not a JSON object");
  return std::move(value.as_object());
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t n = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    uint32_t n = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  auto value_of = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t accumulator = 0;
  int bits = 0;
  for (char c : text) {
    int v = value_of(c);
    if (v < 0) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xff));
    }
  }
  // Canonical form only: the unused low bits of the last character must be zero.
  if (bits > 0 && (accumulator & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

Result<KeyPair> GenerateKeyPair() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal("cannot generate a P-256 key pair");
  BioPtr private_bio(BIO_new(BIO_s_mem()));
  BioPtr public_bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(private_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                nullptr) ||
      !PEM_write_bio_PUBKEY(public_bio.get(), key.get())) {
    return Status::Internal("cannot encode the key pair as PEM");
  }
  return KeyPair{HexEncode(RandomBytes(16)), BioToString(private_bio.get()),
                 BioToString(public_bio.get())};
}

Result<std::string> SignToken(const TokenClaims& claims, const std::string& key_id,
                              const std::string& private_pem) {
  boost::json::object header{{"alg", kJwtMethod}, {"typ", "JWT"}, {"kid", key_id}};
  boost::json::object payload{{"sub", claims.subject},    {"team", claims.team_id},
                              {"iat", claims.issued_at},  {"nbf", claims.not_before},
                              {"exp", claims.expires_at}, {"jti", claims.token_id},
                              {"gen", claims.generation}};
  return SignJws(boost::json::serialize(header), boost::json::serialize(payload), private_pem);
}

Result<std::string> SignJws(const std::string& header_json, const std::string& payload_json,
                            const std::string& private_pem) {
  std::string signing_input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(payload_json);
  ASSIGN_OR_RETURN(PkeyPtr key, LoadPrivateKey(private_pem));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t der_size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &der_size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Status::Internal("ECDSA signing failed");
  }
  std::string der(der_size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(der.data()), &der_size,
                     reinterpret_cast<const unsigned char*>(signing_input.data()),
                     signing_input.size()) != 1) {
    return Status::Internal("ECDSA signing failed");
  }
  // JWS wants the raw 64-byte r||s, not DER.
  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(der.data());
  SigPtr sig(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der_size)));
  if (!sig) return Status::Internal("ECDSA signature cannot be decoded");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  if (BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32) != 32 ||
      BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32) != 32) {
    return Status::Internal("ECDSA signature has an unexpected size");
  }
  return signing_input + "." + Base64UrlEncode(raw);
}

Result<TokenClaims> VerifyToken(std::string_view token, const VerifyOptions& options,
                                const KeyLookup& lookup) {
  if (token.size() > kMaxTokenBytes) return Invalid("token is larger than 8 KiB");
  size_t first_dot = token.find('.');
  size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return Invalid("token must have exactly three segments");
  }
  std::string_view header_segment = token.substr(0, first_dot);
  std::string_view payload_segment = token.substr(first_dot + 1, second_dot - first_dot - 1);
  std::string_view signature_segment = token.substr(second_dot + 1);
  ASSIGN_OR_RETURN(boost::json::object header, DecodeJsonSegment(header_segment, "header"));
  ASSIGN_OR_RETURN(boost::json::object payload, DecodeJsonSegment(payload_segment, "payload"));
  std::optional<std::string> signature = Base64UrlDecode(signature_segment);
  if (!signature) return Invalid("token signature is not base64url");

  for (const char* forbidden : {"jku", "x5u", "x5c", "jwk", "crit"}) {
    if (header.contains(forbidden)) {
      return Invalid(std::string("token header '") + forbidden + "' is not accepted");
    }
  }
  std::string alg = StringClaim(header, "alg");
  std::string kid = StringClaim(header, "kid");
  if (kid.empty() || kid.size() > 128) return Invalid("token has no usable 'kid'");
  ASSIGN_OR_RETURN(std::optional<PublicKeyRecord> key, lookup(kid));
  if (!key) return Invalid("token was signed with an unknown key");
  if (alg != key->method) {
    return Invalid("token algorithm '" + alg + "' is not the key's method " + key->method);
  }
  TokenClaims claims;
  claims.subject = StringClaim(payload, "sub");
  if (claims.subject != key->user_id) return Invalid("token key does not belong to its subject");

  if (signature->size() != 64) return Invalid("token signature has the wrong size");
  SigPtr sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()), 32, nullptr);
  BIGNUM* s =
      BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()) + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Status::Internal("cannot build an ECDSA signature");
  }
  unsigned char* der = nullptr;
  int der_size = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_size <= 0) return Status::Internal("cannot encode an ECDSA signature");
  std::unique_ptr<unsigned char, void (*)(unsigned char*)> der_owner(
      der, [](unsigned char* p) { OPENSSL_free(p); });
  ASSIGN_OR_RETURN(PkeyPtr public_key, LoadPublicKey(key->public_pem));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string_view signing_input = token.substr(0, second_dot);
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, public_key.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), der, static_cast<size_t>(der_size),
                       reinterpret_cast<const unsigned char*>(signing_input.data()),
                       signing_input.size()) != 1) {
    return Invalid("token signature does not verify");
  }

  auto inconsistent = [](std::string message) {
    return Status::Unauthenticated(std::move(message))
        .WithException("InconsistentJWTClaimsException");
  };
  // A time claim that is there but is not a number (RFC 7519's NumericDate)
  // is inconsistent, not missing: a string 'exp' had been answered "no
  // expiry", and a string 'nbf' ignored.
  for (const char* name : {"exp", "iat", "nbf"}) {
    if (payload.contains(name) && !IntClaim(payload, name)) {
      return inconsistent(std::string("token's '") + name + "' is not a number of seconds");
    }
  }
  std::optional<int64_t> exp = IntClaim(payload, "exp");
  std::optional<int64_t> iat = IntClaim(payload, "iat");
  std::optional<int64_t> nbf = IntClaim(payload, "nbf");
  if (!exp) {
    return Status::Unauthenticated("token has no expiry time ('exp')")
        .WithException("EternalJWTTokenException");
  }
  if (!iat) return inconsistent("token has no issue time ('iat')");
  if (*exp - *iat > options.max_ttl_seconds) {
    return inconsistent("token lifetime exceeds the server's limit of " +
                        std::to_string(options.max_ttl_seconds) + " s");
  }
  if (*iat > options.now_seconds + options.leeway_seconds) {
    return inconsistent("token was issued in the future");
  }
  if (*exp + options.leeway_seconds < options.now_seconds) {
    return Status::Unauthenticated("token expired").WithException("ExpiredJWTTokenException");
  }
  if (nbf && *nbf > options.now_seconds + options.leeway_seconds) {
    return Status::Unauthenticated("token is not valid yet ('nbf' is in the future)")
        .WithException("PrematureJWTTokenException");
  }
  claims.team_id = StringClaim(payload, "team");
  if (claims.team_id.empty()) return inconsistent("token names no team");
  claims.issued_at = *iat;
  claims.not_before = nbf.value_or(*iat);
  claims.expires_at = *exp;
  claims.token_id = StringClaim(payload, "jti");
  claims.generation = IntClaim(payload, "gen").value_or(-1);
  claims.key_id = kid;
  return claims;
}

}  // namespace vidmill::accounts
