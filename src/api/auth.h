#pragma once
// Who is calling: every route outside /healthz and the Basic-auth accounts
// endpoints starts by asking the Authenticator for the request's Principal.

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "http/message.h"

namespace vidmill::api {

// The health routes (health_routes.cc), which take no credentials.
inline constexpr std::string_view kLivenessPath = "/healthz";
inline constexpr std::string_view kReadinessPath = "/readyz";
inline bool IsHealthPath(std::string_view path) {
  return path == kLivenessPath || path == kReadinessPath;
}

// The authenticated caller: a user acting for one of its teams.
struct Principal {
  std::string user_id;
  std::string team_id;
  // Set only for a signed request (RFC 9421) to a streaming route, whose body
  // had not been read when it was authenticated: the SHA-256 (raw 32 bytes)
  // its Content-Digest promises. The route must hash the body as it arrives
  // and refuse the request (401) when the two differ.
  std::optional<std::string> pending_body_sha256;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Accepts `Authorization: Bearer <JWT>` or an RFC 9421 signed request.
  // Errors carry the reference's exception names with 401, or 403 for a
  // banned user (UserBannedException). Thread-safe.
  virtual Result<Principal> Authenticate(const http::Request& request) = 0;
};

}  // namespace vidmill::api
