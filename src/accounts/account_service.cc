#include "accounts/account_service.h"

#include <algorithm>
#include <cctype>

#include "common/ids.h"
#include "common/log.h"

namespace vidmill::accounts {
namespace {

using storage::Row;
using storage::Rows;
using storage::Session;
using storage::Value;

constexpr const char* kUserColumns =
    "id, email, name, password_hash, email_confirmed, banned, banned_reason, banned_at, "
    "default_team_id, jwt_method, jwt_key_id, jwt_public_key, signature_method, "
    "signature_secret, token_generation, created_at, updated_at";

// The same columns, qualified, for queries that join users with teams.
constexpr const char* kQualifiedUserColumns =
    "u.id, u.email, u.name, u.password_hash, u.email_confirmed, u.banned, u.banned_reason, "
    "u.banned_at, u.default_team_id, u.jwt_method, u.jwt_key_id, u.jwt_public_key, "
    "u.signature_method, u.signature_secret, u.token_generation, u.created_at, u.updated_at";
constexpr size_t kUserColumnCount = 17;

User UserFromRow(const Row& row) {
  User user;
  user.id = row.Text(0);
  user.email = row.Text(1);
  user.name = row.Text(2);
  user.password_hash = row.Text(3);
  user.email_confirmed = row.Bool(4);
  user.banned = row.Bool(5);
  user.banned_reason = row.OptText(6);
  if (!row.IsNull(7)) user.banned_at = row.Int(7);
  user.default_team_id = row.Text(8);
  user.jwt_method = row.Text(9);
  user.jwt_key_id = row.Text(10);
  user.jwt_public_key = row.Text(11);
  user.signature_method = row.OptText(12);
  user.signature_secret = row.OptText(13);
  user.token_generation = row.Int(14);
  user.created_at = row.Int(15);
  user.updated_at = row.Int(16);
  return user;
}

Team TeamFromRow(const Row& row) { return Team{row.Text(0), row.Text(1), row.Int(2), row.Int(3)}; }

std::string NormalizeEmail(std::string email) {
  std::transform(email.begin(), email.end(), email.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return email;
}

Status ValidateEmail(const std::string& email) {
  size_t at = email.find('@');
  if (email.size() > 254 || at == std::string::npos || at == 0 || at == email.size() - 1 ||
      email.find_first_of(" \t\r\n\",;<>") != std::string::npos) {
    return Status::InvalidArgument("'" + email + "' is not an e-mail address");
  }
  return Status::Ok();
}

Status ValidateName(const std::string& name, const char* what) {
  if (name.empty() || name.size() > 255) {
    return Status::InvalidArgument(std::string(what) + " must be 1 to 255 characters");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument(std::string(what) + " must not contain control characters");
    }
  }
  return Status::Ok();
}

Result<User> LoadUser(Session& session, const char* where, const std::string& key) {
  ASSIGN_OR_RETURN(Rows rows, session.Query(std::string("SELECT ") + kUserColumns +
                                                " FROM users WHERE " + where + " = ?",
                                            {key}));
  if (rows.empty()) return Status::NotFound("user not found");
  return UserFromRow(rows[0]);
}

Result<Team> LoadTeamByName(Session& session, const std::string& name) {
  ASSIGN_OR_RETURN(Rows rows, session.Query("SELECT id, name, created_at, updated_at FROM teams "
                                            "WHERE name = ?",
                                            {name}));
  if (rows.empty()) return Status::NotFound("team '" + name + "' not found");
  return TeamFromRow(rows[0]);
}

Status BannedStatus(const std::string& reason) {
  return Status::PermissionDenied("this account has been suspended" +
                                  (reason.empty() ? std::string() : ": " + reason))
      .WithException("UserBannedException");
}

}  // namespace

AccountService::AccountService(storage::Database* db, const Clock* clock, AccountOptions options)
    : db_(db),
      clock_(clock),
      options_(options),
      hasher_(options.max_concurrent_hashes, options.max_waiting_hashes),
      account_limiter_(options.account_free_failures),
      address_limiter_(options.address_free_failures) {}

Result<std::pair<User, Team>> AccountService::AddUser(const std::string& raw_email,
                                                      const std::string& password,
                                                      const std::string& name,
                                                      const std::string& team_name) {
  std::string email = NormalizeEmail(raw_email);
  RETURN_IF_ERROR(ValidateEmail(email));
  RETURN_IF_ERROR(PasswordHasher::ValidateNew(password));
  std::string display_name = name.empty() ? email.substr(0, email.find('@')) : name;
  RETURN_IF_ERROR(ValidateName(display_name, "name"));
  std::string team = team_name.empty() ? display_name + "'s team" : team_name;
  RETURN_IF_ERROR(ValidateName(team, "team name"));
  ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(password));
  ASSIGN_OR_RETURN(KeyPair keys, GenerateKeyPair());
  int64_t now = clock_->NowMillis();
  User user;
  Team chosen;
  Status status = db_->Transaction([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Rows existing, session.Query("SELECT id FROM users WHERE email = ?", {email}));
    if (!existing.empty()) return Status::Conflict("a user with e-mail " + email + " exists");
    Result<Team> found = LoadTeamByName(session, team);
    if (found.ok()) {
      chosen = *found;
    } else if (found.status().code() == Code::kNotFound) {
      chosen = Team{NewId(), team, now, now};
      RETURN_IF_ERROR(session
                          .Execute("INSERT INTO teams(id, name, created_at, updated_at) "
                                   "VALUES (?, ?, ?, ?)",
                                   {chosen.id, chosen.name, now, now})
                          .status());
    } else {
      return found.status();
    }
    user.id = NewId();
    RETURN_IF_ERROR(
        session
            .Execute("INSERT INTO users(id, email, name, password_hash, default_team_id, "
                     "jwt_method, jwt_key_id, jwt_private_key, jwt_public_key, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     {user.id, email, display_name, hash, chosen.id, std::string(kJwtMethod),
                      keys.key_id, keys.private_pem, keys.public_pem, now, now})
            .status());
    RETURN_IF_ERROR(session
                        .Execute("INSERT INTO team_members(team_id, user_id, joined_at) "
                                 "VALUES (?, ?, ?)",
                                 {chosen.id, user.id, now})
                        .status());
    ASSIGN_OR_RETURN(user, LoadUser(session, "id", user.id));
    return Status::Ok();
  });
  RETURN_IF_ERROR(status);
  return std::make_pair(user, chosen);
}

Status AccountService::BanUser(const std::string& email, const std::string& reason) {
  int64_t now = clock_->NowMillis();
  return db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(
        int64_t changed,
        session.Execute("UPDATE users SET banned = 1, banned_reason = ?, banned_at = ?, "
                        "token_generation = token_generation + 1, updated_at = ? "
                        "WHERE email = ?",
                        {reason, now, now, NormalizeEmail(email)}));
    if (changed == 0) return Status::NotFound("no user with e-mail " + email);
    return Status::Ok();
  });
}

Status AccountService::UnbanUser(const std::string& email) {
  int64_t now = clock_->NowMillis();
  return db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(
        int64_t changed,
        session.Execute("UPDATE users SET signature_method = CASE WHEN banned = 1 THEN NULL "
                        "ELSE signature_method END, signature_secret = CASE WHEN banned = 1 "
                        "THEN NULL ELSE signature_secret END, banned = 0, banned_reason = NULL, "
                        "banned_at = NULL, updated_at = ? WHERE email = ?",
                        {now, NormalizeEmail(email)}));
    if (changed == 0) return Status::NotFound("no user with e-mail " + email);
    return Status::Ok();
  });
}

Result<Team> AccountService::AddTeam(const std::string& name) {
  RETURN_IF_ERROR(ValidateName(name, "team name"));
  int64_t now = clock_->NowMillis();
  Team team{NewId(), name, now, now};
  Status status = db_->Run([&](Session& session) {
    return session
        .Execute("INSERT INTO teams(id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
                 {team.id, name, now, now})
        .status();
  });
  if (status.code() == Code::kConflict) return Status::Conflict("team '" + name + "' exists");
  RETURN_IF_ERROR(status);
  return team;
}

Status AccountService::AddMember(const std::string& team_name, const std::string& email) {
  int64_t now = clock_->NowMillis();
  return db_->Transaction([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Team team, LoadTeamByName(session, team_name));
    Result<User> user = LoadUser(session, "email", NormalizeEmail(email));
    if (!user.ok()) return Status::NotFound("no user with e-mail " + email);
    ASSIGN_OR_RETURN(Rows member, session.Query("SELECT 1 FROM team_members WHERE team_id = ? "
                                                "AND user_id = ?",
                                                {team.id, user->id}));
    if (!member.empty()) return Status::Conflict(email + " is already in team " + team_name);
    return session
        .Execute("INSERT INTO team_members(team_id, user_id, joined_at) VALUES (?, ?, ?)",
                 {team.id, user->id, now})
        .status();
  });
}

Result<std::optional<DemoUser>> AccountService::CreateDemoUserIfEmpty() {
  int64_t users = 0;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Rows rows, session.Query("SELECT COUNT(*) FROM users", {}));
    users = rows[0].Int(0);
    return Status::Ok();
  }));
  if (users > 0) return std::optional<DemoUser>();
  DemoUser demo{"demo@vidmill.local", Base64UrlEncode(RandomBytes(12))};
  Result<std::pair<User, Team>> made = AddUser(demo.email, demo.password, "Demo", "Demo team");
  if (!made.ok()) {
    if (made.status().code() == Code::kConflict) return std::optional<DemoUser>();  // raced
    return made.status();
  }
  return std::optional<DemoUser>(demo);
}

Result<User> AccountService::CheckPassword(const std::string& raw_email,
                                           const std::string& password,
                                           const std::string& client_address) {
  std::string email = NormalizeEmail(raw_email);
  int64_t now = clock_->NowMillis();
  // Both keys take the attempt before the hash, and learn its outcome after:
  // counted only after it, parallel guesses would all be checked.
  int64_t wait = account_limiter_.Begin(email, now);
  if (wait == 0) {
    wait = address_limiter_.Begin(client_address, now);
    if (wait != 0) account_limiter_.Finish(email, now, LoginRateLimiter::Outcome::kNotChecked);
  }
  if (wait == LoginRateLimiter::kBusy) {
    // Busy, not locked: no failed login is to blame.
    return Status::Unavailable(
               "too many logins of this account or address are being checked at once; retry "
               "in 1 s")
        .WithRetryAfter(1);
  }
  if (wait > 0) {
    return Status::TooManyRequests("too many failed logins; retry in " + std::to_string(wait) +
                                   " s")
        .WithException("TooManyLoginAttemptsException")
        .WithRetryAfter(static_cast<int>(wait));
  }
  LoginRateLimiter::Outcome outcome = LoginRateLimiter::Outcome::kNotChecked;
  struct FinishAttempt {
    AccountService& service;
    const std::string& email;
    const std::string& address;
    const LoginRateLimiter::Outcome& outcome;
    ~FinishAttempt() {
      const int64_t end = service.clock_->NowMillis();
      service.account_limiter_.Finish(email, end, outcome);
      // One valid login of the account's own must not let an address reset
      // its guessing budget against other accounts.
      service.address_limiter_.Finish(address, end,
                                      outcome == LoginRateLimiter::Outcome::kSucceeded
                                          ? LoginRateLimiter::Outcome::kNotChecked
                                          : outcome);
    }
  } finish{*this, email, client_address, outcome};
  std::optional<User> user;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    Result<User> found = LoadUser(session, "email", email);
    if (found.ok()) {
      user = std::move(found).value();
    } else if (found.status().code() != Code::kNotFound) {
      return found.status();
    }
    return Status::Ok();
  }));
  ASSIGN_OR_RETURN(bool matches,
                   hasher_.Verify(password, user ? user->password_hash : std::string()));
  if (!matches || !user) {
    outcome = LoginRateLimiter::Outcome::kFailed;
    return Status::Unauthenticated("wrong e-mail or password").WithException("AuthException");
  }
  outcome = LoginRateLimiter::Outcome::kSucceeded;
  if (user->banned) return BannedStatus(user->banned_reason.value_or(""));
  return std::move(*user);
}

Result<IssuedToken> AccountService::IssueToken(const User& user,
                                               const std::optional<std::string>& team_id) {
  std::string wanted = team_id.value_or(user.default_team_id);
  Team team;
  std::string private_pem;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Rows rows,
                     session.Query("SELECT t.id, t.name, t.created_at, t.updated_at FROM teams t "
                                   "JOIN team_members m ON m.team_id = t.id "
                                   "WHERE t.id = ? AND m.user_id = ?",
                                   {wanted, user.id}));
    if (rows.empty()) {
      return Status::PermissionDenied("user is not a member of team '" + wanted + "'")
          .WithException("TeamAccessDeniedException");
    }
    team = TeamFromRow(rows[0]);
    ASSIGN_OR_RETURN(Row key, session.QueryOne("SELECT jwt_private_key FROM users WHERE id = ?",
                                               {user.id}, "user"));
    private_pem = key.Text(0);
    return Status::Ok();
  }));
  int64_t now = clock_->NowSeconds();
  TokenClaims claims;
  claims.subject = user.id;
  claims.team_id = team.id;
  claims.issued_at = now;
  claims.not_before = now;
  claims.expires_at = now + options_.token_ttl_seconds;
  claims.token_id = NewId();
  claims.generation = user.token_generation;
  ASSIGN_OR_RETURN(std::string token, SignToken(claims, user.jwt_key_id, private_pem));
  return IssuedToken{user, team, std::move(token)};
}

Result<Identity> AccountService::VerifyBearer(std::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return Status::Unauthenticated("token is larger than 8 KiB")
        .WithException("InvalidJWTTokenFoundException");
  }
  std::string cache_key = Sha256(token);
  int64_t now = clock_->NowSeconds();
  std::optional<TokenClaims> claims;
  {
    std::lock_guard lock(cache_mu_);
    auto it = token_cache_.find(cache_key);
    if (it != token_cache_.end()) {
      if (it->second.expires_at + options_.leeway_seconds >= now) {
        claims = it->second;
      } else {
        token_cache_.erase(it);
      }
    }
  }
  if (!claims) {
    VerifyOptions verify{now, options_.leeway_seconds, options_.token_ttl_seconds};
    KeyLookup lookup = [this](const std::string& kid) -> Result<std::optional<PublicKeyRecord>> {
      std::optional<PublicKeyRecord> record;
      RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
        ASSIGN_OR_RETURN(Rows rows, session.Query("SELECT id, jwt_method, jwt_public_key FROM "
                                                  "users WHERE jwt_key_id = ? LIMIT 1",
                                                  {kid}));
        if (!rows.empty()) {
          record = PublicKeyRecord{rows[0].Text(0), rows[0].Text(1), rows[0].Text(2)};
        }
        return Status::Ok();
      }));
      return record;
    };
    ASSIGN_OR_RETURN(TokenClaims verified, VerifyToken(token, verify, lookup));
    claims = verified;
    std::lock_guard lock(cache_mu_);
    if (token_cache_.size() >= kMaxCachedTokens) {
      std::erase_if(token_cache_, [&](const auto& item) {
        return item.second.expires_at + options_.leeway_seconds < now;
      });
      if (token_cache_.size() >= kMaxCachedTokens) token_cache_.clear();  // stay bounded
    }
    token_cache_.emplace(cache_key, verified);
  }
  if (claims->not_before > now + options_.leeway_seconds) {
    return Status::Unauthenticated("token is not valid yet ('nbf' is in the future)")
        .WithException("PrematureJWTTokenException");
  }
  return CheckUserState(*claims);
}

Result<Identity> AccountService::CheckUserState(const TokenClaims& claims) {
  Identity identity;
  Status status = db_->Run([&](Session& session) -> Status {
    // One statement — one read snapshot — checks the user's current state and
    // reads the user and team rows for the route.
    ASSIGN_OR_RETURN(Rows rows,
                     session.Query(std::string("SELECT ") + kQualifiedUserColumns +
                                       ", t.id, t.name, t.created_at, t.updated_at FROM users u "
                                       "LEFT JOIN team_members m ON m.user_id = u.id AND "
                                       "m.team_id = ? LEFT JOIN teams t ON t.id = m.team_id "
                                       "WHERE u.id = ?",
                                   {claims.team_id, claims.subject}));
    if (rows.empty()) {
      return Status::Unauthenticated("token names an unknown user")
          .WithException("InconsistentJWTClaimsException");
    }
    const Row& row = rows[0];
    User user = UserFromRow(row);
    if (user.banned) return BannedStatus(user.banned_reason.value_or(""));
    if (user.jwt_key_id != claims.key_id) {
      return Status::Unauthenticated("token was signed with a key that has been replaced")
          .WithException("InvalidJWTTokenFoundException");
    }
    if (user.token_generation != claims.generation) {
      return Status::Unauthenticated("token was revoked by a password change or a ban")
          .WithException("ExpiredJWTTokenException");
    }
    constexpr size_t kTeamColumn = kUserColumnCount;
    if (row.IsNull(kTeamColumn)) {
      return Status::Unauthenticated("token names a team the user is not in")
          .WithException("InconsistentJWTClaimsException");
    }
    identity.user_id = claims.subject;
    identity.team_id = claims.team_id;
    identity.team = Team{row.Text(kTeamColumn), row.Text(kTeamColumn + 1), row.Int(kTeamColumn + 2),
                         row.Int(kTeamColumn + 3)};
    identity.user = std::move(user);
    return Status::Ok();
  });
  if (!status.ok()) {
    if (status.code() == Code::kInternal) {
      return Status::Unauthenticated("authentication failed: " + status.message())
          .WithException("AuthException");
    }
    return status;
  }
  return identity;
}

Result<Identity> AccountService::VerifySignedRequest(const SignedRequest& request,
                                                     const std::optional<std::string>& body) {
  ASSIGN_OR_RETURN(ParsedSignature parsed, ParseSignature(request));
  if (!IsValidId(parsed.key_id)) {
    return Status::Unauthenticated("signature keyid is not a user id")
        .WithException("InvalidRequestSignatureException");
  }
  std::optional<User> user;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    Result<User> found = LoadUser(session, "id", parsed.key_id);
    if (found.ok()) user = std::move(found).value();
    return found.ok() || found.status().code() == Code::kNotFound ? Status::Ok() : found.status();
  }));
  if (!user || !user->signature_secret) {
    return Status::Unauthenticated("signature keyid has no signature secret")
        .WithException("InvalidRequestSignatureException");
  }
  int64_t now = clock_->NowSeconds();
  RETURN_IF_ERROR(VerifySignature(request, parsed, *user->signature_secret, now));
  Identity identity;
  identity.user_id = user->id;
  identity.team_id = user->default_team_id;
  if (request.has_body) {
    if (body) {
      RETURN_IF_ERROR(VerifyContentDigest(request, Sha256(*body)));
    } else {
      ASSIGN_OR_RETURN(identity.pending_body_sha256, ExpectedContentSha256(request));
    }
  }
  if (user->banned) return BannedStatus(user->banned_reason.value_or(""));
  RETURN_IF_ERROR(RecordSignatureUse(parsed));
  identity.user = std::move(*user);
  return identity;
}

Status AccountService::RecordSignatureUse(const ParsedSignature& parsed) {
  int64_t now_ms = clock_->NowMillis();
  // Expired rows are deleted about once a minute per process, not on every
  // request: the DELETE scans the table.
  int64_t due = next_replay_purge_ms_.load();
  bool purge = now_ms >= due &&
               next_replay_purge_ms_.compare_exchange_strong(due, now_ms + kReplayPurgeIntervalMs);
  // A signature is accepted while its `created` is within 5 minutes of now;
  // it is remembered twice that long, a margin for clock steps.
  int64_t expires_at_ms = (parsed.created + 2 * kSignatureMaxAgeSeconds) * 1000;
  Status recorded = db_->Run([&](Session& session) -> Status {
    if (purge) {
      RETURN_IF_ERROR(
          session.Execute("DELETE FROM signature_replays WHERE expires_at < ?", {now_ms}).status());
    }
    return session
        .Execute("INSERT INTO signature_replays(digest, expires_at) VALUES (?, ?)",
                 {ReplayKey(parsed), expires_at_ms})
        .status();
  });
  if (recorded.code() == Code::kConflict) {
    return Status::Unauthenticated("this signed request was already used (replay)")
        .WithException("InvalidRequestSignatureException");
  }
  return recorded;
}

Result<User> AccountService::GetUser(const std::string& user_id) {
  std::optional<User> user;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(User found, LoadUser(session, "id", user_id));
    user = std::move(found);
    return Status::Ok();
  }));
  return std::move(*user);
}

Result<Team> AccountService::GetTeam(const std::string& team_id) {
  std::optional<Team> team;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Row row, session.QueryOne("SELECT id, name, created_at, updated_at FROM "
                                               "teams WHERE id = ?",
                                               {team_id}, "team"));
    team = TeamFromRow(row);
    return Status::Ok();
  }));
  return std::move(*team);
}

Result<std::vector<Team>> AccountService::TeamsOf(const std::string& user_id) {
  std::vector<Team> teams;
  RETURN_IF_ERROR(db_->Run([&](Session& session) -> Status {
    ASSIGN_OR_RETURN(Rows rows, session.Query("SELECT t.id, t.name, t.created_at, t.updated_at "
                                              "FROM teams t JOIN team_members m ON "
                                              "m.team_id = t.id WHERE m.user_id = ? "
                                              "ORDER BY m.joined_at, t.id",
                                              {user_id}));
    for (const Row& row : rows) teams.push_back(TeamFromRow(row));
    return Status::Ok();
  }));
  return teams;
}

Result<User> AccountService::RotateKeyPair(const std::string& user_id) {
  ASSIGN_OR_RETURN(KeyPair keys, GenerateKeyPair());
  int64_t now = clock_->NowMillis();
  RETURN_IF_ERROR(db_->Run([&](Session& session) {
    return session
        .Execute(
            "UPDATE users SET jwt_key_id = ?, jwt_private_key = ?, jwt_public_key = ?, "
            "updated_at = ? WHERE id = ?",
            {keys.key_id, keys.private_pem, keys.public_pem, now, user_id})
        .status();
  }));
  {
    // Tokens signed with the old key are rejected from now on: drop the
    // cached verifications (the next check looks the kid up again).
    std::lock_guard lock(cache_mu_);
    std::erase_if(token_cache_, [&](const auto& item) { return item.second.subject == user_id; });
  }
  return GetUser(user_id);
}

Result<User> AccountService::NewSignatureSecret(const std::string& user_id) {
  std::string secret = Base64UrlEncode(RandomBytes(32));
  int64_t now = clock_->NowMillis();
  RETURN_IF_ERROR(db_->Run([&](Session& session) {
    return session
        .Execute(
            "UPDATE users SET signature_method = ?, signature_secret = ?, updated_at = ? "
            "WHERE id = ?",
            {std::string(kSignatureMethod), secret, now, user_id})
        .status();
  }));
  return GetUser(user_id);
}

Result<User> AccountService::UpdatePassword(const std::string& user_id,
                                            const std::string& new_password) {
  RETURN_IF_ERROR(PasswordHasher::ValidateNew(new_password));
  ASSIGN_OR_RETURN(std::string hash, hasher_.Hash(new_password));
  int64_t now = clock_->NowMillis();
  RETURN_IF_ERROR(db_->Run([&](Session& session) {
    return session
        .Execute(
            "UPDATE users SET password_hash = ?, token_generation = token_generation + 1, "
            "signature_method = NULL, signature_secret = NULL, updated_at = ? WHERE id = ?",
            {hash, now, user_id})
        .status();
  }));
  return GetUser(user_id);
}

boost::json::object AccountService::UserJson(const User& user, bool misspelt_method_too) {
  auto optional_text = [](const std::optional<std::string>& text) -> boost::json::value {
    return text ? boost::json::value(*text) : boost::json::value(nullptr);
  };
  boost::json::object json{
      {"id", user.id},
      {"name", user.name},
      {"email", user.email},
      {"emailConfirmed", user.email_confirmed},
      {"authSignatureMethod", user.jwt_method},
      {"authSignaturePublicKey", user.jwt_public_key},
      {"authSignaturePublicKeyId", user.jwt_key_id},
      {"banned", user.banned},
      {"bannedReason", optional_text(user.banned_reason)},
      {"bannedDate", user.banned_at ? boost::json::value(FormatApiDate(*user.banned_at))
                                    : boost::json::value(nullptr)},
      {"apiRequestSignatureSecret", optional_text(user.signature_secret)},
      {"apiRequestSignatureMethod", optional_text(user.signature_method)},
      {"dateCreated", FormatApiDate(user.created_at)},
      {"timeLastUpdated", FormatApiDate(user.updated_at)},
  };
  if (misspelt_method_too) {
    // The reference spells it this way in POST /v1/token; integrators may read either.
    json["apiRequestSignatureSethod"] = optional_text(user.signature_method);
  }
  return json;
}

boost::json::object AccountService::TeamJson(const Team& team) {
  return {{"id", team.id},
          {"name", team.name},
          {"dateCreated", FormatApiDate(team.created_at)},
          {"timeLastUpdated", FormatApiDate(team.updated_at)}};
}

}  // namespace vidmill::accounts
