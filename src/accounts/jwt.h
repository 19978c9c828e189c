#pragma once
// JSON Web Tokens as Vidmill issues and accepts them: compact JWS signed with
// ES256 (ECDSA P-256 + SHA-256), one key pair per user, the key's id in the
// `kid` header.
//
// Verification is strict on purpose — every rule below refuses a token class
// that has been used to forge tokens elsewhere:
//  * at most 8 KiB, exactly three segments of unpadded base64url;
//  * header and payload are JSON objects; `alg` must be the key's method
//    (ES256): `none`, HS256 with the public key as secret, RS256 … are
//    refused; `jku`, `x5u`, `x5c`, `jwk` and any `crit` header are refused
//    (we never fetch or trust keys named by the token);
//  * the key is looked up by `kid` only, and must belong to `sub`;
//  * `exp` is required (EternalJWTTokenException), `exp - iat` may not exceed
//    the configured TTL, `nbf`/`exp` are checked with a leeway.
// Errors carry the API's exception names (see the reference): Invalid…,
// Expired…, Premature…, Eternal…, InconsistentJWTClaims….
//
// Thread safety: free functions, no shared state.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vidmill::accounts {

inline constexpr std::string_view kJwtMethod = "ES256";
inline constexpr size_t kMaxTokenBytes = 8 * 1024;

struct KeyPair {
  std::string key_id;       // random, 32 hex characters
  std::string private_pem;  // PKCS#8 PEM; never leaves the store
  std::string public_pem;   // SubjectPublicKeyInfo PEM
};

Result<KeyPair> GenerateKeyPair();

struct TokenClaims {
  std::string subject;     // user id (`sub`)
  std::string team_id;     // `team`
  int64_t issued_at = 0;   // `iat`, seconds
  int64_t not_before = 0;  // `nbf`
  int64_t expires_at = 0;  // `exp`
  std::string token_id;    // `jti`
  int64_t generation = 0;  // `gen`: the user's token generation when issued
  std::string key_id;      // the `kid` it was signed with (set by VerifyToken)
};

Result<std::string> SignToken(const TokenClaims& claims, const std::string& key_id,
                              const std::string& private_pem);

// Low level: the compact ES256 JWS of exactly these header and payload texts
// (SignToken builds them; tests use it to craft unusual tokens).
Result<std::string> SignJws(const std::string& header_json, const std::string& payload_json,
                            const std::string& private_pem);

struct PublicKeyRecord {
  std::string user_id;
  std::string method;  // "ES256"
  std::string public_pem;
};

// Finds the key with that id; nullopt when there is none.
using KeyLookup = std::function<Result<std::optional<PublicKeyRecord>>(const std::string& key_id)>;

struct VerifyOptions {
  int64_t now_seconds = 0;
  int64_t leeway_seconds = 5;
  int64_t max_ttl_seconds = 900;
};

// Verifies everything that can be verified from the token and its key. The
// caller still checks the user's current state (ban, generation, team).
Result<TokenClaims> VerifyToken(std::string_view token, const VerifyOptions& options,
                                const KeyLookup& lookup);

// Unpadded base64url, as JWS uses; Decode refuses padding and any other alphabet.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace vidmill::accounts
