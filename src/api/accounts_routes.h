#pragma once
// The Accounts service of the reference, under /accounts/v1:
//   GET  /token                   HTTP Basic (+ optional team-id) → a JWT
//   POST /token                   Bearer → user, team, otherTeams
//   GET  /account                 Bearer → user, team
//   GET  /generate-auth-secret    Bearer or Basic → new ES256 key pair (old tokens die)
//   GET  /generate-signature-secret  Bearer or Basic → new hmac-sha256 secret
//   POST /update-password         Bearer or Basic, {"newPassword"} → user (old tokens die)

#include "accounts/account_service.h"
#include "api/api.h"

namespace vidmill::api {

void RegisterAccountsRoutes(http::Router& router, ApiContext& context);

}  // namespace vidmill::api
