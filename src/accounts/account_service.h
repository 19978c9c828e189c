#pragma once
// Users, teams and credentials: everything the Accounts service and the admin
// commands do, over the store.
//
// Tokens: GET /accounts/v1/token issues an ES256 JWT signed with the user's
// own key. Checking a token costs one ECDSA verification the first time; the
// verified claims are then cached by the token's SHA-256 until its `exp`, so
// hot paths skip the signature. The user's current state is read from the
// store on every request (one indexed query), never from the cache, so a key
// rotation, a password change, a ban or a team removal — made by this process
// or by another (the admin CLI) — takes effect at once.
//
// Thread safety: all methods are safe to call concurrently.

#include <atomic>
#include <boost/json.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "accounts/jwt.h"
#include "accounts/message_signature.h"
#include "accounts/password.h"
#include "accounts/rate_limiter.h"
#include "common/clock.h"
#include "common/status.h"
#include "storage/database.h"

namespace vidmill::accounts {

struct User {
  std::string id;
  std::string email;
  std::string name;
  std::string password_hash;
  bool email_confirmed = false;
  bool banned = false;
  std::optional<std::string> banned_reason;
  std::optional<int64_t> banned_at;
  std::string default_team_id;
  std::string jwt_method;
  std::string jwt_key_id;
  std::string jwt_public_key;
  std::optional<std::string> signature_method;
  std::optional<std::string> signature_secret;
  int64_t token_generation = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct Team {
  std::string id;
  std::string name;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// Who a verified credential speaks for.
struct Identity {
  std::string user_id;
  std::string team_id;
  // For a signed request whose body the caller has not read yet (streamed
  // uploads): the SHA-256 its Content-Digest promises; the route must compare
  // it with the body's and refuse on mismatch.
  std::optional<std::string> pending_body_sha256;
  // The rows read while verifying, so that routes need not read them again:
  // for a Bearer token the user and the token's team (one query does both
  // the checks and the read); for a signed request the user only.
  std::optional<User> user;
  std::optional<Team> team;
};

struct IssuedToken {
  User user;
  Team team;
  std::string token;
};

struct DemoUser {
  std::string email;
  std::string password;
};

struct AccountOptions {
  int64_t token_ttl_seconds = 900;
  int64_t leeway_seconds = 5;
  // Argon2id hashes running at once, and waiting beyond those (then 503).
  int max_concurrent_hashes = 2;
  int max_waiting_hashes = 8;
  // Failed logins allowed before delays start, per account and per client
  // address (an address may try several accounts, e.g. a shared NAT).
  int account_free_failures = 5;
  int address_free_failures = 20;
};

class AccountService {
 public:
  AccountService(storage::Database* db, const Clock* clock, AccountOptions options);

  // --- administration (vidmill user / team) ---
  // Creates the user; the team is created when missing and becomes the user's
  // default. Conflict for a duplicate e-mail.
  Result<std::pair<User, Team>> AddUser(const std::string& email, const std::string& password,
                                        const std::string& name, const std::string& team_name);
  // A ban ends every token issued before it; signed requests are refused as
  // banned while it lasts, and the unban ends the signing secret (a new one
  // must be generated), as a password change does.
  Status BanUser(const std::string& email, const std::string& reason);
  Status UnbanUser(const std::string& email);
  Result<Team> AddTeam(const std::string& name);
  Status AddMember(const std::string& team_name, const std::string& email);
  // On a store without users, creates demo@vidmill.local with a random password.
  Result<std::optional<DemoUser>> CreateDemoUserIfEmpty();

  // --- credentials ---
  // HTTP Basic: rate-limited per account and per client address (429
  // TooManyLoginAttemptsException with Retry-After); an unknown e-mail
  // answers like a wrong password (401 AuthException, same message, same
  // Argon2id cost); a banned user with the right password gets 403
  // UserBannedException; 503 when too many hashes are already queued.
  Result<User> CheckPassword(const std::string& email, const std::string& password,
                             const std::string& client_address);
  // Issues a token for the user's default team, or `team_id` when given (a
  // team the user is not in is refused).
  Result<IssuedToken> IssueToken(const User& user, const std::optional<std::string>& team_id);
  Result<Identity> VerifyBearer(std::string_view token);
  // RFC 9421: `body` is the whole body when the caller has it (buffered
  // routes), nullopt for streamed ones.
  Result<Identity> VerifySignedRequest(const SignedRequest& request,
                                       const std::optional<std::string>& body);

  // --- account operations ---
  Result<User> GetUser(const std::string& user_id);
  Result<Team> GetTeam(const std::string& team_id);
  Result<std::vector<Team>> TeamsOf(const std::string& user_id);
  Result<User> RotateKeyPair(const std::string& user_id);
  Result<User> NewSignatureSecret(const std::string& user_id);
  Result<User> UpdatePassword(const std::string& user_id, const std::string& new_password);

  // The reference's user and team documents.
  static boost::json::object UserJson(const User& user, bool misspelt_method_too = false);
  static boost::json::object TeamJson(const Team& team);

 private:
  Result<Identity> CheckUserState(const TokenClaims& claims);
  // Records a verified signature as used; Unauthenticated when it already was.
  Status RecordSignatureUse(const ParsedSignature& parsed);
  static constexpr size_t kMaxCachedTokens = 100000;
  static constexpr int64_t kReplayPurgeIntervalMs = 60 * 1000;

  storage::Database* db_;
  const Clock* clock_;
  AccountOptions options_;
  PasswordHasher hasher_;
  LoginRateLimiter account_limiter_;
  LoginRateLimiter address_limiter_;
  // When this process next deletes expired signature_replays rows.
  std::atomic<int64_t> next_replay_purge_ms_{0};

  std::mutex cache_mu_;
  std::unordered_map<std::string, TokenClaims> token_cache_;  // by SHA-256 of the token
};

}  // namespace vidmill::accounts
