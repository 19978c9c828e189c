#include "api/account_authenticator.h"

#include <strings.h>

namespace vidmill::api {

accounts::SignedRequest ToSignedRequest(const http::Request& request) {
  accounts::SignedRequest signed_request;
  signed_request.method = request.method;
  signed_request.target_uri = request.base_url + request.target;
  signed_request.headers = request.headers.fields();
  std::optional<std::string> length = request.headers.Get("Content-Length");
  bool chunked = request.headers.Has("Transfer-Encoding");
  signed_request.has_body = chunked || (length && *length != "0" && !length->empty());
  return signed_request;
}

namespace {

bool IsBearer(const std::string& authorization) {
  return authorization.size() >= 7 && strncasecmp(authorization.c_str(), "Bearer ", 7) == 0;
}

bool IsSigned(const http::Request& request) {
  return request.headers.Has("Signature-Input") || request.headers.Has("Signature");
}

}  // namespace

Result<Principal> AccountAuthenticator::Authenticate(const http::Request& request) {
  ASSIGN_OR_RETURN(accounts::Identity identity, Identify(request));
  return Principal{std::move(identity.user_id), std::move(identity.team_id),
                   std::move(identity.pending_body_sha256)};
}

Status AccountAuthenticator::CheckBeforeBody(const http::Request& request) {
  // The health routes take no credentials, whatever a request sends them.
  if (IsHealthPath(request.path)) return Status::Ok();
  // Anything but a Bearer token (Basic, a signature) is the route's to check.
  std::optional<std::string> authorization = request.headers.Get("Authorization");
  if (authorization ? !IsBearer(*authorization) : IsSigned(request)) return Status::Ok();
  return Identify(request).status();
}

Result<accounts::Identity> AccountAuthenticator::Identify(const http::Request& request) {
  std::optional<std::string> authorization = request.headers.Get("Authorization");
  if (authorization && IsBearer(*authorization)) {
    std::string token = authorization->substr(7);
    while (!token.empty() && token.front() == ' ') token.erase(token.begin());
    while (!token.empty() && token.back() == ' ') token.pop_back();
    if (token.empty()) {
      return Status::Unauthenticated("the Authorization header has an empty Bearer token")
          .WithException("NoJWTTokenFoundException");
    }
    return accounts_->VerifyBearer(token);
  }
  if (IsSigned(request)) {
    accounts::SignedRequest signed_request = ToSignedRequest(request);
    // Buffered routes have the whole body; streaming routes have none yet.
    std::optional<std::string> body;
    if (!signed_request.has_body || !request.body.empty()) body = request.body;
    return accounts_->VerifySignedRequest(signed_request, body);
  }
  return Status::Unauthenticated(authorization
                                     ? "the Authorization header carries no Bearer token"
                                     : "no JWT token was supplied in the Authorization header")
      .WithException("NoJWTTokenFoundException");
}

}  // namespace vidmill::api
