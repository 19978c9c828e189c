#include "api/accounts_routes.h"

#include <strings.h>

#include "accounts/jwt.h"
#include "accounts/message_signature.h"

namespace vidmill::api {
namespace {

using accounts::AccountService;

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

// Bearer / signed request, or — where the reference allows it — HTTP Basic.
Result<Principal> AuthenticateAllowingBasic(ApiContext& context, AccountService& accounts,
                                            const http::Request& request) {
  ASSIGN_OR_RETURN(std::optional<BasicCredentials> basic, ParseBasic(request));
  if (basic) {
    ASSIGN_OR_RETURN(accounts::User user,
                     accounts.CheckPassword(basic->email, basic->password, request.remote_address));
    return Principal{user.id, user.default_team_id, std::nullopt};
  }
  return context.auth->Authenticate(request);
}

}  // namespace

void RegisterAccountsRoutes(http::Router& router, ApiContext& context) {
  AccountService& accounts = *context.accounts;

  router.Add(
      "GET", "/accounts/v1/token", [&accounts](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(std::optional<BasicCredentials> basic, ParseBasic(request));
        if (!basic) {
          return Status::Unauthenticated(
                     "GET /accounts/v1/token needs HTTP Basic credentials "
                     "(e-mail and password)")
              .WithException("AuthException");
        }
        ASSIGN_OR_RETURN(accounts::User user, accounts.CheckPassword(basic->email, basic->password,
                                                                     request.remote_address));
        ASSIGN_OR_RETURN(accounts::IssuedToken issued,
                         accounts.IssueToken(user, request.Query("team-id")));
        return http::Response::Json(boost::json::object{
            {"userId", issued.user.id}, {"teamId", issued.team.id}, {"jwtToken", issued.token}});
      });

  router.Add("POST", "/accounts/v1/token",
             [&context, &accounts](http::Request& request) -> Result<http::Response> {
               ASSIGN_OR_RETURN(Principal principal, context.auth->Authenticate(request));
               ASSIGN_OR_RETURN(accounts::User user, accounts.GetUser(principal.user_id));
               ASSIGN_OR_RETURN(std::vector<accounts::Team> teams, accounts.TeamsOf(user.id));
               boost::json::object team_json;
               boost::json::array others;
               for (const accounts::Team& team : teams) {
                 if (team.id == principal.team_id) {
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

  router.Add(
      "GET", "/accounts/v1/account",
      [&context, &accounts](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(Principal principal, context.auth->Authenticate(request));
        ASSIGN_OR_RETURN(accounts::User user, accounts.GetUser(principal.user_id));
        ASSIGN_OR_RETURN(accounts::Team team, accounts.GetTeam(principal.team_id));
        return http::Response::Json(boost::json::object{{"user", AccountService::UserJson(user)},
                                                        {"team", AccountService::TeamJson(team)}});
      });

  router.Add(
      "GET", "/accounts/v1/generate-auth-secret",
      [&context, &accounts](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(Principal principal,
                         AuthenticateAllowingBasic(context, accounts, request));
        ASSIGN_OR_RETURN(accounts::User user, accounts.RotateKeyPair(principal.user_id));
        return http::Response::Json(boost::json::object{{"user", AccountService::UserJson(user)}});
      });

  router.Add(
      "GET", "/accounts/v1/generate-signature-secret",
      [&context, &accounts](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(Principal principal,
                         AuthenticateAllowingBasic(context, accounts, request));
        ASSIGN_OR_RETURN(accounts::User user, accounts.NewSignatureSecret(principal.user_id));
        return http::Response::Json(boost::json::object{{"user", AccountService::UserJson(user)}});
      });

  router.Add(
      "POST", "/accounts/v1/update-password",
      [&context, &accounts](http::Request& request) -> Result<http::Response> {
        ASSIGN_OR_RETURN(Principal principal,
                         AuthenticateAllowingBasic(context, accounts, request));
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
        ASSIGN_OR_RETURN(
            accounts::User user,
            accounts.UpdatePassword(principal.user_id, std::string(it->value().as_string())));
        return http::Response::Json(boost::json::object{{"user", AccountService::UserJson(user)}});
      });
}

}  // namespace vidmill::api
