#pragma once
// The Authenticator every route uses, backed by the accounts service:
// `Authorization: Bearer <JWT>`, or an RFC 9421 signed request.

#include "accounts/account_service.h"
#include "api/auth.h"

namespace vidmill::api {

class AccountAuthenticator final : public Authenticator {
 public:
  explicit AccountAuthenticator(accounts::AccountService* accounts) : accounts_(accounts) {}
  Result<Principal> Authenticate(const http::Request& request) override;
  // The same checks, returning the accounts view: the principal plus the
  // user (and, for a Bearer token, team) rows read while checking. Used by the
  // accounts routes so their hot path reads the store once.
  Result<accounts::Identity> Identify(const http::Request& request);
  // For http::ServerOptions::check_before_body: a request with a body must
  // carry credentials, and a Bearer token must be good, before the body is
  // read. Basic credentials and signed requests (whose signature covers the
  // body) are checked by the route as before.
  Status CheckBeforeBody(const http::Request& request);

 private:
  accounts::AccountService* accounts_;
};

// The request as the signature verifier sees it: target URI = base_url + target.
accounts::SignedRequest ToSignedRequest(const http::Request& request);

}  // namespace vidmill::api
