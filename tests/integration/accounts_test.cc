// The Accounts service over HTTP against the real binary: every endpoint, the
// admin commands, rate limiting, bans, key rotation and signed requests.

#include <gtest/gtest.h>

#include <chrono>

#include "accounts/message_signature.h"
#include "tests/support/server_harness.h"

namespace vidmill::test {
namespace {

using boost::json::object;
using boost::json::value;

const std::string kPassword = "correct-horse-42";

std::string Bearer(const std::string& token) { return "Bearer " + token; }

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerHarness>();
    client_ = std::make_unique<HttpClient>(server_->port());
    CommandResult added = server_->RunCli(
        {"user", "add", "--email", "ann@example.com", "--password", kPassword, "--name", "Ann",
         "--team", "Archive"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
    value ids = boost::json::parse(added.out);
    user_id_ = std::string(ids.at("userId").as_string());
    team_id_ = std::string(ids.at("teamId").as_string());
  }

  HttpResponse Login(const std::string& email, const std::string& password,
                     const std::string& query = "") {
    return client_->Send("GET", "/accounts/v1/token" + query,
                         {{"Authorization", BasicAuth(email, password)}});
  }

  std::string Token() {
    HttpResponse response = Login("ann@example.com", kPassword);
    EXPECT_EQ(response.status, 200) << response.body;
    return std::string(response.Json().at("jwtToken").as_string());
  }

  static void ExpectError(const HttpResponse& response, int status, const std::string& exception) {
    EXPECT_EQ(response.status, status) << response.body;
    value doc = response.Json();
    ASSERT_TRUE(doc.is_object()) << response.body;
    EXPECT_EQ(doc.at("exception").as_string(), exception) << response.body;
    EXPECT_TRUE(doc.as_object().contains("errorMessage"));
  }

  std::unique_ptr<ServerHarness> server_;
  std::unique_ptr<HttpClient> client_;
  std::string user_id_;
  std::string team_id_;
};

TEST_F(AccountsTest, TokenAccountAndPostTokenHaveTheReferenceShapes) {
  HttpResponse login = Login("ann@example.com", kPassword);
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.Json().at("userId").as_string(), user_id_);
  EXPECT_EQ(login.Json().at("teamId").as_string(), team_id_);
  std::string token(login.Json().at("jwtToken").as_string());

  HttpResponse account = client_->Get("/accounts/v1/account", token);
  ASSERT_EQ(account.status, 200) << account.body;
  value account_doc = account.Json();
  const object& user = account_doc.at("user").as_object();
  for (const char* field : {"id", "name", "email", "emailConfirmed", "authSignatureMethod",
                            "authSignaturePublicKey", "authSignaturePublicKeyId", "banned",
                            "bannedReason", "bannedDate", "apiRequestSignatureSecret",
                            "apiRequestSignatureMethod", "dateCreated", "timeLastUpdated"}) {
    EXPECT_TRUE(user.contains(field)) << field;
  }
  EXPECT_EQ(user.at("authSignatureMethod").as_string(), "ES256");
  EXPECT_EQ(user.at("name").as_string(), "Ann");
  // No secret material beyond what the reference shows.
  EXPECT_EQ(account.body.find("PRIVATE"), std::string::npos);
  EXPECT_EQ(account.body.find("argon2"), std::string::npos);
  std::string date(user.at("dateCreated").as_string());
  EXPECT_EQ(date.size(), 19u);
  EXPECT_EQ(date[10], ' ');
  const object& team = account_doc.at("team").as_object();
  EXPECT_EQ(team.at("id").as_string(), team_id_);
  EXPECT_EQ(team.at("name").as_string(), "Archive");

  HttpResponse verified = client_->Send("POST", "/accounts/v1/token", {{"Authorization", Bearer(token)}});
  ASSERT_EQ(verified.status, 200) << verified.body;
  EXPECT_TRUE(verified.Json().at("otherTeams").as_array().empty());
  EXPECT_EQ(verified.Json().at("team").at("id").as_string(), team_id_);
}

TEST_F(AccountsTest, TeamIdSelectsATeamAndOtherTeamsListsTheRest) {
  ASSERT_EQ(server_->RunCli({"team", "add", "Broadcast"}).exit_code, 0);
  ASSERT_EQ(server_->RunCli({"team", "add-member", "--team", "Broadcast", "--email",
                             "ann@example.com"}).exit_code,
            0);
  HttpResponse first = client_->Send("POST", "/accounts/v1/token", {{"Authorization", Bearer(Token())}});
  ASSERT_EQ(first.Json().at("otherTeams").as_array().size(), 1u);
  std::string broadcast(first.Json().at("otherTeams").as_array()[0].at("id").as_string());

  HttpResponse login = Login("ann@example.com", kPassword, "?team-id=" + broadcast);
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.Json().at("teamId").as_string(), broadcast);
  std::string token(login.Json().at("jwtToken").as_string());
  HttpResponse account = client_->Get("/accounts/v1/account", token);
  EXPECT_EQ(account.Json().at("team").at("name").as_string(), "Broadcast");

  // A team the user is not in.
  CommandResult other = server_->RunCli({"team", "add", "Elsewhere"});
  ASSERT_EQ(other.exit_code, 0);
  std::string elsewhere(boost::json::parse(other.out).at("teamId").as_string());
  HttpResponse refused = Login("ann@example.com", kPassword, "?team-id=" + elsewhere);
  EXPECT_EQ(refused.status, 403) << refused.body;
}

TEST_F(AccountsTest, BadCredentialsAndMissingTokens) {
  ExpectError(Login("ann@example.com", "wrong-password"), 401, "AuthException");
  HttpResponse unknown = Login("nobody@example.com", "wrong-password");
  ExpectError(unknown, 401, "AuthException");
  EXPECT_EQ(unknown.Json().at("errorMessage"), Login("ann@example.com", "wrong-pass2").Json().at("errorMessage"));
  ExpectError(client_->Get("/accounts/v1/account"), 401, "NoJWTTokenFoundException");
  ExpectError(client_->Get("/accounts/v1/account", "not.a.token"), 401,
              "InvalidJWTTokenFoundException");
  ExpectError(client_->Send("GET", "/accounts/v1/account", {{"Authorization", "Bearer "}}), 401,
              "NoJWTTokenFoundException");
  ExpectError(client_->Get("/accounts/v1/token"), 401, "AuthException");
}

TEST_F(AccountsTest, FailedLoginsAreRateLimitedWithRetryAfter) {
  HttpResponse last;
  for (int i = 0; i < 8; ++i) last = Login("ann@example.com", "wrong-password");
  ExpectError(last, 429, "TooManyLoginAttemptsException");
  EXPECT_FALSE(last.Header("Retry-After").empty());
  // Even the right password waits until the delay has passed.
  EXPECT_EQ(Login("ann@example.com", kPassword).status, 429);
}

TEST_F(AccountsTest, BanAndUnbanFromTheCliWhileServing) {
  std::string token = Token();
  ASSERT_EQ(client_->Get("/accounts/v1/account", token).status, 200);
  CommandResult ban = server_->RunCli({"user", "ban", "--email", "ann@example.com", "--reason", "unpaid"});
  ASSERT_EQ(ban.exit_code, 0) << ban.err;
  ExpectError(client_->Get("/accounts/v1/account", token), 403, "UserBannedException");
  ExpectError(Login("ann@example.com", kPassword), 403, "UserBannedException");
  ASSERT_EQ(server_->RunCli({"user", "unban", "--email", "ann@example.com"}).exit_code, 0);
  // The token from before the ban stays dead; a new login works.
  EXPECT_EQ(client_->Get("/accounts/v1/account", token).status, 401);
  EXPECT_EQ(client_->Get("/accounts/v1/account", Token()).status, 200);
}

TEST_F(AccountsTest, GenerateAuthSecretRotatesTheKeyAndKillsOldTokens) {
  std::string token = Token();
  HttpResponse before = client_->Get("/accounts/v1/account", token);
  std::string old_kid(before.Json().at("user").at("authSignaturePublicKeyId").as_string());
  HttpResponse rotated = client_->Get("/accounts/v1/generate-auth-secret", token);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  std::string new_kid(rotated.Json().at("user").at("authSignaturePublicKeyId").as_string());
  EXPECT_NE(old_kid, new_kid);
  ExpectError(client_->Get("/accounts/v1/account", token), 401, "InvalidJWTTokenFoundException");
  // Basic auth works on this endpoint too.
  HttpResponse basic = client_->Send("GET", "/accounts/v1/generate-auth-secret",
                                     {{"Authorization", BasicAuth("ann@example.com", kPassword)}});
  EXPECT_EQ(basic.status, 200) << basic.body;
  EXPECT_EQ(client_->Get("/accounts/v1/account", Token()).status, 200);
}

TEST_F(AccountsTest, UpdatePasswordValidatesAndEndsOldTokens) {
  std::string token = Token();
  HttpResponse too_short = client_->SendJson("POST", "/accounts/v1/update-password",
                                             object{{"newPassword", "short"}}, token);
  ExpectError(too_short, 400, "BadRequestException");
  ExpectError(client_->SendJson("POST", "/accounts/v1/update-password",
                                object{{"newPasword", "long-enough-1"}}, token),
              400, "BadRequestException");
  ExpectError(client_->Send("POST", "/accounts/v1/update-password",
                            {{"Authorization", Bearer(token)}, {"Content-Type", "application/json"}},
                            "{not json"),
              400, "BadRequestException");
  HttpResponse changed = client_->SendJson("POST", "/accounts/v1/update-password",
                                           object{{"newPassword", "a-new-password-9"}}, token);
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(changed.Json().at("user").at("id").as_string(), user_id_);
  EXPECT_EQ(client_->Get("/accounts/v1/account", token).status, 401);
  EXPECT_EQ(Login("ann@example.com", kPassword).status, 401);
  EXPECT_EQ(Login("ann@example.com", "a-new-password-9").status, 200);
}

TEST_F(AccountsTest, SignedRequestsWorkOnceAndOnlyWhenIntact) {
  HttpResponse secret = client_->Get("/accounts/v1/generate-signature-secret", Token());
  ASSERT_EQ(secret.status, 200) << secret.body;
  value secret_doc = secret.Json();
  const object& user = secret_doc.at("user").as_object();
  EXPECT_EQ(user.at("apiRequestSignatureMethod").as_string(), "hmac-sha256");
  std::string shared(user.at("apiRequestSignatureSecret").as_string());

  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string body = R"({"name":"signed project"})";
  accounts::SignedRequest request;
  request.method = "PUT";
  request.target_uri = server_->base_url() + "/videos/v1/project";
  request.has_body = true;
  std::string digest = "sha-256=:" + accounts::Base64Encode(accounts::Sha256(body)) + ":";
  request.headers = {{"Content-Digest", digest}};
  auto [input, signature] = accounts::SignRequest(
      request, {"@method", "@target-uri", "content-digest"}, user_id_, shared, now);
  HeaderList headers = {{"Content-Type", "application/json"}, {"Content-Digest", digest},
                        {"Signature-Input", input}, {"Signature", signature}};
  HttpResponse made = client_->Send("PUT", "/videos/v1/project", headers, body);
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.Json().at("project").at("name").as_string(), "signed project");
  // Replayed.
  EXPECT_EQ(client_->Send("PUT", "/videos/v1/project", headers, body).status, 401);
  // Altered body (same headers, fresh signature time so it is not a replay).
  auto [input2, signature2] = accounts::SignRequest(
      request, {"@method", "@target-uri", "content-digest"}, user_id_, shared, now + 1);
  HeaderList altered = {{"Content-Type", "application/json"}, {"Content-Digest", digest},
                        {"Signature-Input", input2}, {"Signature", signature2}};
  HttpResponse tampered = client_->Send("PUT", "/videos/v1/project", altered, R"({"name":"evil"})");
  ExpectError(tampered, 401, "InvalidRequestSignatureException");
}

TEST_F(AccountsTest, SignedUploadsMustMatchTheirContentDigest) {
  std::string token = Token();
  HttpResponse secret = client_->Get("/accounts/v1/generate-signature-secret", token);
  value secret_doc = secret.Json();
  std::string shared(secret_doc.at("user").at("apiRequestSignatureSecret").as_string());
  HttpResponse video = client_->SendJson("PUT", "/videos/v1/video", object{{"name", "signed"}}, token);
  ASSERT_EQ(video.status, 200) << video.body;
  std::string id(video.Json().at("videoId").as_string());
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  auto multipart = [](const std::string& content) {
    return "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" + content + "\r\n--b0undary--\r\n";
  };
  auto signed_headers = [&](const std::string& body, int64_t created) {
    accounts::SignedRequest request;
    request.method = "POST";
    request.target_uri = server_->base_url() + "/media/v1/upload/light/" + id;
    request.has_body = true;
    std::string digest = "sha-256=:" + accounts::Base64Encode(accounts::Sha256(body)) + ":";
    request.headers = {{"Content-Digest", digest}};
    auto [input, signature] = accounts::SignRequest(
        request, {"@method", "@target-uri", "content-digest"}, user_id_, shared, created);
    return HeaderList{{"Content-Type", "multipart/form-data; boundary=b0undary"},
                      {"Content-Digest", digest}, {"Signature-Input", input}, {"Signature", signature}};
  };
  // The signature covers the digest of one body; another body is sent.
  HttpResponse altered = client_->Send("POST", "/media/v1/upload/light/" + id,
                                       signed_headers(multipart("original bytes"), now),
                                       multipart("altered  bytes"));
  ExpectError(altered, 401, "InvalidRequestSignatureException");
  HttpResponse original = client_->Get("/media/v1/download/original/" + id, token);
  EXPECT_EQ(original.status, 404) << "nothing may be published: " << original.body;
  // The intact upload goes through.
  std::string body = multipart("original bytes");
  HttpResponse intact = client_->Send("POST", "/media/v1/upload/light/" + id,
                                      signed_headers(body, now + 1), body);
  EXPECT_EQ(intact.status, 200) << intact.body;
  EXPECT_EQ(client_->Get("/media/v1/download/original/" + id, token).body, "original bytes");
}

TEST_F(AccountsTest, AdminCommandsReportErrorsOnOneLine) {
  CommandResult duplicate = server_->RunCli(
      {"user", "add", "--email", "ann@example.com", "--password", kPassword});
  EXPECT_NE(duplicate.exit_code, 0);
  EXPECT_NE(duplicate.err.find("exists"), std::string::npos) << duplicate.err;
  EXPECT_EQ(std::count(duplicate.err.begin(), duplicate.err.end(), '\n'), 1);
  CommandResult unknown_team = server_->RunCli(
      {"team", "add-member", "--team", "Nope", "--email", "ann@example.com"});
  EXPECT_NE(unknown_team.exit_code, 0);
  EXPECT_NE(unknown_team.err.find("Nope"), std::string::npos) << unknown_team.err;
  EXPECT_NE(server_->RunCli({"user", "ban", "--email", "ghost@example.com", "--reason", "x"}).exit_code, 0);
  EXPECT_NE(server_->RunCli({"team", "add", "Archive"}).exit_code, 0);
  EXPECT_NE(server_->RunCli({"user", "add", "--email", "x@example.com"}).exit_code, 0);
  EXPECT_NE(server_->RunCli({"user", "frobnicate"}).exit_code, 0);
}

TEST(DemoUserTest, AnEmptyStoreGetsADemoUserThatCanLogIn) {
  ServerHarness server;
  std::string log = server.ServerLog();
  // The demo credentials are printed on stdout, which the harness drains; the
  // CLI sees the user exists.
  CommandResult again = server.RunCli({"user", "add", "--email", "demo@vidmill.local",
                                       "--password", "whatever-123"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("exists"), std::string::npos);
}

}  // namespace
}  // namespace vidmill::test
