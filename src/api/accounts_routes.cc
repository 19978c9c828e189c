#include "api/accounts_routes.h"

#include <strings.h>

#include <memory>
#include <optional>

#include "accounts/jwt.h"
#include "accounts/message_signature.h"
#include "api/account_authenticator.h"
#include "common/ids.h"

namespace vidmill::api {
namespace {

using accounts::AccountService;
using accounts::Identity;

// The token's team-id parameter in canonical form, as the team's id is
// stored (RFC 9562 compares UUIDs case-insensitively); one that is not a UUID
// is a 400, as malformed ids are everywhere else (it had been a 403 "not a
// member of team …").
Result<std::optional<std::string>> TeamIdOf(const http::Request& request) {
  std::optional<std::string> raw = request.Query("team-id");
  if (!raw) return raw;
  std::optional<std::string> canonical = CanonicalId(*raw);
  if (!canonical) return Status::InvalidArgument("team-id '" + *raw + "' is not a team id (a UUID)");
  return canonical;
}

struct BasicCredentials {
  std::string email;
  std::string password;
};

// nullopt when the header is not Basic; an error when it is Basic but malformed.
Result<std::optional<BasicCredentials>> ParseBasic(const http::Request& request) {
  std::optional<std::string> header = request.headers.Get("Authorization");
  if (!header || header->size() < 6 || strncasecmp(header->c_str(), "Basic ", 6) != 0) {
    return std::optional<BasicCredentials>();
  }
  std::string encoded = header->substr(6);
  while (!encoded.empty() && encoded.front() == ' ') encoded.erase(encoded.begin());
  std::optional<std::string> decoded = accounts::Base64Decode(encoded);
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    return Status::Unauthenticated("HTTP Basic credentials are malformed")
        .WithException("AuthException");
  }
  return std::optional<BasicCredentials>(
      BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)});
}

// The route code's view of the caller, wherever the credentials came from.
class Caller {
 public:
  explicit Caller(AccountService* accounts) : accounts_(accounts), authenticator_(accounts) {}

  // Bearer token or signed request.
  Result<Identity> Identify(const http::Request& request) {
    return authenticator_.Identify(request);
  }

  // Bearer / signed request, or — where the reference allows it — HTTP Basic
  // (the principal's team is then the user's default team).
  Result<Identity> IdentifyAllowingBasic(const http::Request& request) {
    ASSIGN_OR_RETURN(std::optional<BasicCredentials> basic, ParseBasic(request));
    if (!basic) return Identify(request);
    ASSIGN_OR_RETURN(accounts::User user, accounts_->CheckPassword(basic->email, basic->password,
                                                                   request.remote_address));
    Identity identity;
    identity.user_id = user.id;
    identity.team_id = user.default_team_id;
    identity.user = std::move(user);
    return identity;
  }

  // The caller's user row as read while authenticating, or from the store.
  Result<accounts::User> User(Identity& identity) {
    if (identity.user) return std::move(*identity.user);
    return accounts_->GetUser(identity.user_id);
  }

  Result<accounts::Team> Team(Identity& identity) {
    if (identity.team) return std::move(*identity.team);
    return accounts_->GetTeam(identity.team_id);
  }

 private:
  AccountService* accounts_;
  AccountAuthenticator authenticator_;
};

// RFC 9110 §11.6.1: a 401 challenges with the schemes the endpoint takes.
// ErrorResponse offers Bearer; where HTTP Basic is taken too (or only Basic),
// offer it, so that clients which send credentials only after a challenge
// (curl --anyauth, the .NET and Java credential handlers) can log in.
enum class Schemes { kBasic, kBearerOrBasic };

http::Handler Challenging(Schemes schemes, http::Handler handler) {
  return [schemes, handler = std::move(handler)](http::Request& request) -> Result<http::Response> {
    Result<http::Response> result = handler(request);
    if (result.ok() || result.status().code() != Code::kUnauthenticated) return result;
    http::Response response = http::ErrorResponse(result.status());
    constexpr const char* kBasic = "Basic realm=\"vidmill\", charset=\"UTF-8\"";
    if (schemes == Schemes::kBasic) {
      response.headers.Set("WWW-Authenticate", kBasic);
    } else {
      response.headers.Add("WWW-Authenticate", kBasic);
    }
    return response;
  };
}

// Registers routes whose successful responses no cache, shared or private,
// may keep: every Accounts response names the caller and most carry a
// credential (a JWT, a key pair, a signature secret), and RFC 6749 §5.1 asks
// the same of token responses.
class UncachedRoutes {
 public:
  explicit UncachedRoutes(http::Router& router) : router_(router) {}

  void Add(std::string method, std::string pattern, http::Handler handler) {
    router_.Add(std::move(method), std::move(pattern), Uncached(std::move(handler)));
  }
  void AddGetWithoutHead(std::string pattern, http::Handler handler) {
    router_.AddGetWithoutHead(std::move(pattern), Uncached(std::move(handler)));
  }

 private:
  static http::Handler Uncached(http::Handler handler) {
    return [handler = std::move(handler)](http::Request& request) -> Result<http::Response> {
      Result<http::Response> result = handler(request);
      if (result.ok()) result->headers.Set("Cache-Control", "no-store");
      return result;
    };
  }

  http::Router& router_;
};

http::Response UserDocument(const accounts::User& user) {
  return http::Response::Json(boost::json::object{{"user", AccountService::UserJson(user)}});
}

}  // namespace

void RegisterAccountsRoutes(http::Router& router, ApiContext& context) {
  AccountService* accounts = context.accounts;
  auto caller = std::make_shared<Caller>(accounts);
  UncachedRoutes routes(router);

  routes.Add(
      "GET", "/accounts/v1/token",
      Challenging(Schemes::kBasic, [accounts](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(std::optional<BasicCredentials> basic, ParseBasic(request));
        if (!basic) {
          return Status::Unauthenticated(
                     "GET /accounts/v1/token needs HTTP Basic credentials "
                     "(e-mail and password)")
              .WithException("AuthException");
        }
        ASSIGN_OR_RETURN(accounts::User user, accounts->CheckPassword(basic->email, basic->password,
                                                                      request.remote_address));
        ASSIGN_OR_RETURN(std::optional<std::string> team_id, TeamIdOf(request));
        ASSIGN_OR_RETURN(accounts::IssuedToken issued, accounts->IssueToken(user, team_id));
        return http::Response::Json(boost::json::object{
            {"userId", issued.user.id}, {"teamId", issued.team.id}, {"jwtToken", issued.token}});
      }));

  routes.Add("POST", "/accounts/v1/token",
             [accounts, caller](http::Request& request) -> Result<http::Response> {
               ASSIGN_OR_RETURN(Identity identity, caller->Identify(request));
               ASSIGN_OR_RETURN(accounts::User user, caller->User(identity));
               ASSIGN_OR_RETURN(std::vector<accounts::Team> teams, accounts->TeamsOf(user.id));
               boost::json::object team_json;
               boost::json::array others;
               for (const accounts::Team& team : teams) {
                 if (team.id == identity.team_id) {
                   team_json = AccountService::TeamJson(team);
                 } else {
                   others.push_back(AccountService::TeamJson(team));
                 }
               }
               return http::Response::Json(boost::json::object{
                   {"user", AccountService::UserJson(user, /*misspelt_method_too=*/true)},
                   {"team", team_json},
                   {"otherTeams", others}});
             });

  // The hot path: with a Bearer token the store is read once, by the check.
  routes.Add(
      "GET", "/accounts/v1/account", [caller](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(Identity identity, caller->Identify(request));
        ASSIGN_OR_RETURN(accounts::User user, caller->User(identity));
        ASSIGN_OR_RETURN(accounts::Team team, caller->Team(identity));
        return http::Response::Json(boost::json::object{{"user", AccountService::UserJson(user)},
                                                        {"team", AccountService::TeamJson(team)}});
      });

  // The reference makes the two secret rotations GETs. A HEAD (a link
  // checker, a cautious integrator) would replace the secret and drop the
  // response that carries the new one: these two refuse HEAD.
  auto rotation = [accounts, caller](Result<accounts::User> (AccountService::*replace)(
                      const std::string&)) -> http::Handler {
    return Challenging(
        Schemes::kBearerOrBasic,
        [accounts, caller, replace](http::Request& request) -> Result<http::Response> {
          ASSIGN_OR_RETURN(Identity identity, caller->IdentifyAllowingBasic(request));
          ASSIGN_OR_RETURN(accounts::User user, (accounts->*replace)(identity.user_id));
          return UserDocument(user);
        });
  };
  routes.AddGetWithoutHead("/accounts/v1/generate-auth-secret",
                           rotation(&AccountService::RotateKeyPair));
  routes.AddGetWithoutHead("/accounts/v1/generate-signature-secret",
                           rotation(&AccountService::NewSignatureSecret));

  routes.Add("POST", "/accounts/v1/update-password",
             Challenging(
                 Schemes::kBearerOrBasic,
                 [accounts, caller](http::Request& request) -> Result<http::Response> {
                   ASSIGN_OR_RETURN(Identity identity, caller->IdentifyAllowingBasic(request));
                   ASSIGN_OR_RETURN(boost::json::object body, http::ParseJsonObject(request));
                   for (const auto& field : body) {
                     if (field.key() != "newPassword") {
                       return Status::InvalidArgument("unknown field '" + std::string(field.key()) +
                                                      "'; the body takes only newPassword");
                     }
                   }
                   auto it = body.find("newPassword");
                   if (it == body.end() || !it->value().is_string()) {
                     return Status::InvalidArgument("newPassword (a string) is required");
                   }
                   ASSIGN_OR_RETURN(accounts::User user,
                                    accounts->UpdatePassword(identity.user_id,
                                                             std::string(it->value().as_string())));
                   return UserDocument(user);
                 }));
}

}  // namespace vidmill::api
