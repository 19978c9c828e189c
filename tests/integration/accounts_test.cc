// The Accounts service over HTTP against the real binary: every endpoint, the
// admin commands, rate limiting, bans, key rotation and signed requests.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "accounts/jwt.h"
#include "accounts/message_signature.h"
#include "tests/support/server_harness.h"
#include "tests/support/temp_dir.h"

namespace vidmill::test {
namespace {

using boost::json::object;
using boost::json::value;

const std::string kPassword = "correct-horse-42";

std::string Bearer(const std::string& token) { return "Bearer " + token; }

void ExpectError(const HttpResponse& response, int status, const std::string& exception) {
  EXPECT_EQ(response.status, status) << response.body;
  value doc = response.Json();
  ASSERT_TRUE(doc.is_object()) << response.body;
  EXPECT_EQ(doc.at("exception").as_string(), exception) << response.body;
  EXPECT_TRUE(doc.as_object().contains("errorMessage"));
}

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<ServerHarness>();
    client_ = std::make_unique<HttpClient>(server_->port());
    CommandResult added =
        server_->RunCli({"user", "add", "--email", "ann@example.com", "--password", kPassword,
                         "--name", "Ann", "--team", "Archive"});
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

  HttpResponse verified =
      client_->Send("POST", "/accounts/v1/token", {{"Authorization", Bearer(token)}});
  ASSERT_EQ(verified.status, 200) << verified.body;
  EXPECT_TRUE(verified.Json().at("otherTeams").as_array().empty());
  EXPECT_EQ(verified.Json().at("team").at("id").as_string(), team_id_);
  // The reference misspells the field here; both spellings are sent.
  value verified_doc = verified.Json();
  const object& verified_user = verified_doc.at("user").as_object();
  EXPECT_TRUE(verified_user.contains("apiRequestSignatureSethod"));
  EXPECT_TRUE(verified_user.contains("apiRequestSignatureMethod"));
  EXPECT_EQ(verified_user.at("id").as_string(), user_id_);
  EXPECT_EQ(verified.body.find("PRIVATE"), std::string::npos);
}

// The admin commands print their flags, as serve and worker do (`user add
// --help` had said "unknown flag --help").
TEST_F(AccountsTest, AdminCommandsPrintTheirFlags) {
  for (const std::vector<std::string>& command :
       std::vector<std::vector<std::string>>{{"user", "add"}, {"user", "ban"}, {"team", "add"}}) {
    std::vector<std::string> args = command;
    args.push_back("--help");
    CommandResult help = server_->RunCli(args);
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_NE(help.out.find("usage: vidmill " + command[0] + " " + command[1]), std::string::npos)
        << help.out;
    EXPECT_NE(help.out.find("--data-dir"), std::string::npos) << help.out;
  }
  EXPECT_NE(server_->RunCli({"team", "add", "--help"}).out.find("usage: vidmill team add NAME"),
            std::string::npos);
  // One level up, as `vidmill --help` suggests: the verbs (it had been a
  // usage error, exit 2).
  for (const char* noun : {"user", "team"}) {
    CommandResult help = RunProgram({VIDMILL_BINARY, noun, "--help"});
    EXPECT_EQ(help.exit_code, 0) << help.err;
    EXPECT_NE(help.out.find(std::string("usage: vidmill ") + noun + " add"), std::string::npos)
        << help.out;
  }
}

TEST_F(AccountsTest, ForgedAndTamperedTokensAreRefused) {
  std::string token = Token();
  size_t first_dot = token.find('.');
  size_t second_dot = token.find('.', first_dot + 1);
  std::string header = token.substr(0, first_dot);
  std::string signature = token.substr(second_dot + 1);
  // Another team in the payload, the original signature.
  std::string payload_json =
      *accounts::Base64UrlDecode(token.substr(first_dot + 1, second_dot - first_dot - 1));
  value payload = boost::json::parse(payload_json);
  payload.as_object()["team"] = "00000000-0000-4000-8000-000000000000";
  std::string tampered =
      header + "." + accounts::Base64UrlEncode(boost::json::serialize(payload)) + "." + signature;
  HttpResponse refused = client_->Get("/accounts/v1/account", tampered);
  ExpectError(refused, 401, "InvalidJWTTokenFoundException");
  // RFC 6750 §3: the challenge names the token invalid (it had no error).
  EXPECT_EQ(refused.Header("WWW-Authenticate"),
            "Bearer realm=\"vidmill\", error=\"invalid_token\"");
  EXPECT_EQ(client_->Get("/accounts/v1/account").Header("WWW-Authenticate"),
            "Bearer realm=\"vidmill\"")
      << "no token sent: no error";
  // alg "none" with the user's kid and no signature.
  std::string kid(boost::json::parse(*accounts::Base64UrlDecode(header)).at("kid").as_string());
  std::string none_header = accounts::Base64UrlEncode(
      boost::json::serialize(object{{"alg", "none"}, {"typ", "JWT"}, {"kid", kid}}));
  ExpectError(client_->Get("/accounts/v1/account",
                           none_header + "." + token.substr(first_dot + 1, second_dot - first_dot)),
              401, "InvalidJWTTokenFoundException");
  // Over 8 KiB.
  ExpectError(client_->Get("/accounts/v1/account", token + std::string(8200, 'A')), 401,
              "InvalidJWTTokenFoundException");
  // The genuine token still works.
  EXPECT_EQ(client_->Get("/accounts/v1/account", token).status, 200);
}

TEST_F(AccountsTest, TeamIdSelectsATeamAndOtherTeamsListsTheRest) {
  ASSERT_EQ(server_->RunCli({"team", "add", "Broadcast"}).exit_code, 0);
  ASSERT_EQ(
      server_->RunCli({"team", "add-member", "--team", "Broadcast", "--email", "ann@example.com"})
          .exit_code,
      0);
  HttpResponse first =
      client_->Send("POST", "/accounts/v1/token", {{"Authorization", Bearer(Token())}});
  ASSERT_EQ(first.Json().at("otherTeams").as_array().size(), 1u);
  std::string broadcast(first.Json().at("otherTeams").as_array()[0].at("id").as_string());

  HttpResponse login = Login("ann@example.com", kPassword, "?team-id=" + broadcast);
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.Json().at("teamId").as_string(), broadcast);
  std::string token(login.Json().at("jwtToken").as_string());
  HttpResponse account = client_->Get("/accounts/v1/account", token);
  EXPECT_EQ(account.Json().at("team").at("name").as_string(), "Broadcast");
  // The team's id in upper case names the same team (RFC 9562).
  std::string shouted = broadcast;
  for (char& c : shouted) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  HttpResponse upper = Login("ann@example.com", kPassword, "?team-id=" + shouted);
  ASSERT_EQ(upper.status, 200) << upper.body;
  EXPECT_EQ(upper.Json().at("teamId").as_string(), broadcast);

  // A team the user is not in.
  CommandResult other = server_->RunCli({"team", "add", "Elsewhere"});
  ASSERT_EQ(other.exit_code, 0);
  std::string elsewhere(boost::json::parse(other.out).at("teamId").as_string());
  HttpResponse refused = Login("ann@example.com", kPassword, "?team-id=" + elsewhere);
  EXPECT_EQ(refused.status, 403) << refused.body;
  // Not a team id at all: a 400, as malformed ids are elsewhere (it had been
  // a 403 "not a member of team ''"; audit 32 F5).
  for (std::string query : {"?team-id=", "?team-id=not-a-uuid"}) {
    ExpectError(Login("ann@example.com", kPassword, query), 400, "BadRequestException");
  }
}

TEST_F(AccountsTest, BadCredentialsAndMissingTokens) {
  ExpectError(Login("ann@example.com", "wrong-password"), 401, "AuthException");
  HttpResponse unknown = Login("nobody@example.com", "wrong-password");
  ExpectError(unknown, 401, "AuthException");
  EXPECT_EQ(unknown.Json().at("errorMessage"),
            Login("ann@example.com", "wrong-pass2").Json().at("errorMessage"));
  ExpectError(client_->Get("/accounts/v1/account"), 401, "NoJWTTokenFoundException");
  ExpectError(client_->Get("/accounts/v1/account", "not.a.token"), 401,
              "InvalidJWTTokenFoundException");
  ExpectError(client_->Send("GET", "/accounts/v1/account", {{"Authorization", "Bearer "}}), 401,
              "NoJWTTokenFoundException");
  ExpectError(client_->Get("/accounts/v1/token"), 401, "AuthException");
}

// RFC 9110 §11.6.1: a 401 must challenge with a scheme the resource takes.
// Clients that send credentials only after a challenge (curl --anyauth, the
// .NET and Java credential handlers) could not log in on a Bearer challenge.
TEST_F(AccountsTest, UnauthorizedAnswersChallengeWithTheSchemesTheEndpointTakes) {
  auto challenges = [](const HttpResponse& response) {
    std::vector<std::string> schemes;
    for (const auto& [name, value] : response.headers) {
      if (strcasecmp(name.c_str(), "WWW-Authenticate") == 0) {
        schemes.push_back(value.substr(0, value.find(' ')));
      }
    }
    return schemes;
  };
  using Schemes = std::vector<std::string>;
  // GET /token takes only Basic.
  HttpResponse no_credentials = client_->Get("/accounts/v1/token");
  ExpectError(no_credentials, 401, "AuthException");
  EXPECT_EQ(challenges(no_credentials), Schemes{"Basic"});
  HttpResponse wrong = Login("ann@example.com", "wrong-password");
  ExpectError(wrong, 401, "AuthException");
  EXPECT_EQ(challenges(wrong), Schemes{"Basic"});
  // These take a Bearer token or Basic.
  for (const std::string path :
       {"/accounts/v1/generate-auth-secret", "/accounts/v1/generate-signature-secret"}) {
    HttpResponse refused = client_->Get(path);
    ExpectError(refused, 401, "NoJWTTokenFoundException");
    EXPECT_EQ(challenges(refused), (Schemes{"Bearer", "Basic"})) << path;
  }
  HttpResponse update =
      client_->Send("POST", "/accounts/v1/update-password", {{"Content-Type", "application/json"}},
                    R"({"newPassword": "long-enough-1"})");
  ExpectError(update, 401, "NoJWTTokenFoundException");
  EXPECT_EQ(challenges(update), (Schemes{"Bearer", "Basic"}));
  // Bearer-only endpoints keep the Bearer challenge.
  EXPECT_EQ(challenges(client_->Get("/accounts/v1/account")), Schemes{"Bearer"});
  EXPECT_EQ(challenges(client_->Send("POST", "/accounts/v1/token")), Schemes{"Bearer"});
}

TEST_F(AccountsTest, ResponsesCarryingCredentialsAreNotCached) {
  auto cache_control = [](const HttpResponse& response) {
    for (const auto& [name, value] : response.headers) {
      if (strcasecmp(name.c_str(), "Cache-Control") == 0) return value;
    }
    return std::string("(none)");
  };
  HttpResponse login = Login("ann@example.com", kPassword);
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(cache_control(login), "no-store");
  const std::string token(login.Json().at("jwtToken").as_string());
  EXPECT_EQ(cache_control(client_->Get("/accounts/v1/account", token)), "no-store");
  EXPECT_EQ(cache_control(client_->Send("POST", "/accounts/v1/token",
                                        {{"Authorization", Bearer(token)}})),
            "no-store");
  HttpResponse secret = client_->Get("/accounts/v1/generate-signature-secret", token);
  ASSERT_EQ(secret.status, 200) << secret.body;
  EXPECT_EQ(cache_control(secret), "no-store");
}

TEST_F(AccountsTest, HeadDoesNotRotateASecretItCannotReturn) {
  HttpResponse login = Login("ann@example.com", kPassword);
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string token(login.Json().at("jwtToken").as_string());
  auto secret = [&] {
    HttpResponse account = client_->Get("/accounts/v1/account", token);
    // null until a secret has been generated
    return boost::json::serialize(account.Json().at("user").at("apiRequestSignatureSecret"));
  };
  const std::string before = secret();
  for (const char* path :
       {"/accounts/v1/generate-signature-secret", "/accounts/v1/generate-auth-secret"}) {
    HttpResponse head = client_->Send("HEAD", path, {{"Authorization", Bearer(token)}});
    EXPECT_EQ(head.status, 405) << path;
    bool allow_get = false;
    for (const auto& [name, value] : head.headers) {
      if (strcasecmp(name.c_str(), "Allow") == 0) allow_get = value == "GET";
    }
    EXPECT_TRUE(allow_get) << path;
    // The 405 for another method names the same (it had said "GET, HEAD").
    HttpResponse post = client_->Send("POST", path, {{"Authorization", Bearer(token)}});
    EXPECT_EQ(post.status, 405) << path;
    for (const auto& [name, value] : post.headers) {
      if (strcasecmp(name.c_str(), "Allow") == 0) {
        EXPECT_EQ(value, "GET") << path;
      }
    }
  }
  // Neither secret changed: the token still works and the signature secret is the same.
  EXPECT_EQ(secret(), before);
  HttpResponse rotated = client_->Get("/accounts/v1/generate-signature-secret", token);
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_NE(boost::json::serialize(rotated.Json().at("user").at("apiRequestSignatureSecret")),
            before);
}

TEST_F(AccountsTest, FailedLoginsAreRateLimitedWithRetryAfter) {
  HttpResponse last;
  for (int i = 0; i < 8; ++i) last = Login("ann@example.com", "wrong-password");
  ExpectError(last, 429, "TooManyLoginAttemptsException");
  EXPECT_FALSE(last.Header("Retry-After").empty());
  // Even the right password waits until the delay has passed.
  EXPECT_EQ(Login("ann@example.com", kPassword).status, 429);
}

// Behind a reverse proxy (--trusted-proxies): every request comes from the
// proxy's address, X-Forwarded-For (or RFC 7239 Forwarded) names the client.
class AccountsProxyTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra_flags) {
    ServerHarness::Options options;
    options.extra_flags = std::move(extra_flags);
    server_ = std::make_unique<ServerHarness>(options);
    client_ = std::make_unique<HttpClient>(server_->port());
    CommandResult added = server_->RunCli({"user", "add", "--email", "ann@example.com",
                                           "--password", kPassword, "--team", "Archive"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
  }

  HttpResponse Login(const std::string& email, const std::string& password,
                     const std::string& forwarded_for) {
    return client_->Send(
        "GET", "/accounts/v1/token",
        {{"Authorization", BasicAuth(email, password)}, {forwarded_header_, forwarded_for}});
  }

  // Fails password logins until the client address is locked out, each for
  // another unknown e-mail so that only the address's count grows (an address
  // gets 20 free failures); returns the first 429, or the last answer.
  HttpResponse FailLoginsUntilThrottled(const std::string& forwarded_for) {
    HttpResponse last;
    for (int attempt = 0; attempt < 30; ++attempt) {
      last = Login("nobody" + std::to_string(attempt) + "@example.com", "wrong-password",
                   forwarded_for);
      if (last.status == 429) break;
    }
    return last;
  }

  std::unique_ptr<ServerHarness> server_;
  std::unique_ptr<HttpClient> client_;
  std::string forwarded_header_ = "X-Forwarded-For";  // the header Login sends
};

TEST_F(AccountsProxyTest, BehindATrustedProxyEachForwardedClientIsThrottledOnItsOwn) {
  Start({"--trusted-proxies", "127.0.0.1"});
  HttpResponse throttled = FailLoginsUntilThrottled("203.0.113.5");
  ExpectError(throttled, 429, "TooManyLoginAttemptsException");
  EXPECT_FALSE(throttled.Header("Retry-After").empty());
  // Another client through the same proxy logs in.
  HttpResponse other = Login("ann@example.com", kPassword, "203.0.113.6");
  EXPECT_EQ(other.status, 200) << other.body;
  // Its access-log line names the client and the proxy (the next request's
  // line follows it, so it has been written).
  EXPECT_EQ(client_->Get("/healthz").status, 200);
  std::string log = server_->ServerLog();
  EXPECT_NE(log.find("/accounts/v1/token 200 "), std::string::npos) << log;
  EXPECT_NE(log.find(" client=203.0.113.6 peer=127.0.0.1"), std::string::npos) << log;
}

TEST_F(AccountsProxyTest, TheStandardForwardedHeaderNamesTheClientWhenConfigured) {
  Start({"--trusted-proxies", "127.0.0.1", "--forwarded-header", "Forwarded"});
  forwarded_header_ = "Forwarded";
  HttpResponse throttled = FailLoginsUntilThrottled("for=203.0.113.7;proto=https");
  ExpectError(throttled, 429, "TooManyLoginAttemptsException");
  // Another client, written the way RFC 7239 writes a node with a port.
  HttpResponse other = Login("ann@example.com", kPassword, "for=\"203.0.113.8:51000\"");
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(client_->Get("/healthz").status, 200);
  std::string log = server_->ServerLog();
  EXPECT_NE(log.find(" client=203.0.113.8 peer=127.0.0.1"), std::string::npos) << log;
}

// Only the configured header is read: a proxy that writes X-Forwarded-For
// passes a client's own Forwarded header on, and the other way round.
TEST_F(AccountsProxyTest, TheHeaderTheProxiesDoNotWriteIsIgnored) {
  Start({"--trusted-proxies", "127.0.0.1"});
  forwarded_header_ = "Forwarded";
  // Each attempt claims another address in Forwarded; all count as the peer.
  HttpResponse last;
  for (int attempt = 0; attempt < 30 && last.status != 429; ++attempt) {
    last = Login("nobody" + std::to_string(attempt) + "@example.com", "wrong-password",
                 "for=203.0.113." + std::to_string(attempt + 10));
  }
  ExpectError(last, 429, "TooManyLoginAttemptsException");
  EXPECT_EQ(Login("ann@example.com", kPassword, "for=203.0.113.99").status, 429);
}

TEST_F(AccountsProxyTest, WithoutTrustedProxiesXForwardedForIsIgnored) {
  Start({});
  // The header is ignored, so every login counts against 127.0.0.1 and the
  // second client is locked out with the first. The lock-out lasts 1 s, then
  // 2, 4 …: should a slow machine let it pass before the second login, the
  // next round locks for longer.
  HttpResponse other;
  for (int round = 0; round < 3; ++round) {
    HttpResponse throttled = FailLoginsUntilThrottled("203.0.113.5");
    ExpectError(throttled, 429, "TooManyLoginAttemptsException");
    other = Login("ann@example.com", kPassword, "203.0.113.6");
    if (other.status != 200) break;
  }
  ExpectError(other, 429, "TooManyLoginAttemptsException");
  EXPECT_EQ(client_->Get("/healthz").status, 200);
  std::string log = server_->ServerLog();
  EXPECT_NE(log.find("/accounts/v1/token 429 "), std::string::npos) << log;
  EXPECT_EQ(log.find("203.0.113."), std::string::npos) << log;
  EXPECT_EQ(log.find(" peer="), std::string::npos) << log;
  EXPECT_NE(log.find(" client=127.0.0.1"), std::string::npos) << log;
}

TEST(AccountsProxyFlagTest, AnInvalidTrustedProxyStopsTheServerNamingTheEntry) {
  TempDir dir;
  // `timeout`: a server that wrongly starts must not hang the test.
  CommandResult serve =
      RunProgram({"timeout", "20", VIDMILL_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
                  dir.path(), "--workers", "0", "--trusted-proxies", "127.0.0.1, 10.0.0.1/8"});
  EXPECT_EQ(serve.exit_code, 2) << serve.err;
  EXPECT_NE(serve.err.find("--trusted-proxies: '10.0.0.1/8'"), std::string::npos) << serve.err;
  EXPECT_EQ(serve.out.find("listening"), std::string::npos) << serve.out;
}

TEST(AccountsProxyFlagTest, AnUnknownForwardedHeaderStopsTheServerNamingIt) {
  TempDir dir;
  CommandResult serve = RunProgram({"timeout", "20", VIDMILL_BINARY, "serve", "--listen",
                                    "127.0.0.1:0", "--data-dir", dir.path(), "--workers", "0",
                                    "--forwarded-header", "X-Real-IP"});
  EXPECT_EQ(serve.exit_code, 2) << serve.err;
  EXPECT_NE(serve.err.find("--forwarded-header: \"X-Real-IP\""), std::string::npos) << serve.err;
  EXPECT_EQ(serve.out.find("listening"), std::string::npos) << serve.out;
}

// --public-url is the base of the absolute URLs responses hand out: one
// without a scheme or a host stops the server, as other wrong flags do. It
// had been taken as it was, and every uploadMediaUrl lacked its scheme.
TEST(AccountsProxyFlagTest, APublicUrlThatIsNoUrlStopsTheServer) {
  TempDir dir;
  for (const char* url :
       {"video.example.com", "not a url", "ftp://video.example.com", "https://", "https:///media",
        "https://video.example.com/?x=1", "http://[::1", "http://[::1]x", "http://h:abc",
        "http://h:99999", "http://h:", "https://user:pw@video.example.com"}) {
    SCOPED_TRACE(url);
    CommandResult serve =
        RunProgram({"timeout", "20", VIDMILL_BINARY, "serve", "--listen", "127.0.0.1:0",
                    "--data-dir", dir.path(), "--workers", "0", "--public-url", url});
    EXPECT_EQ(serve.exit_code, 2) << serve.err;
    EXPECT_NE(serve.err.find("--public-url: '"), std::string::npos) << serve.err;
    EXPECT_EQ(serve.out.find("listening"), std::string::npos) << serve.out;
  }
}

TEST_F(AccountsTest, BanAndUnbanFromTheCliWhileServing) {
  std::string token = Token();
  ASSERT_EQ(client_->Get("/accounts/v1/account", token).status, 200);
  CommandResult ban =
      server_->RunCli({"user", "ban", "--email", "ann@example.com", "--reason", "unpaid"});
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
  ExpectError(
      client_->Send("POST", "/accounts/v1/update-password",
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
  HeaderList headers = {{"Content-Type", "application/json"},
                        {"Content-Digest", digest},
                        {"Signature-Input", input},
                        {"Signature", signature}};
  HttpResponse made = client_->Send("PUT", "/videos/v1/project", headers, body);
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.Json().at("project").at("name").as_string(), "signed project");
  // Replayed.
  EXPECT_EQ(client_->Send("PUT", "/videos/v1/project", headers, body).status, 401);
  // Altered body (same headers, fresh signature time so it is not a replay).
  auto [input2, signature2] = accounts::SignRequest(
      request, {"@method", "@target-uri", "content-digest"}, user_id_, shared, now + 1);
  HeaderList altered = {{"Content-Type", "application/json"},
                        {"Content-Digest", digest},
                        {"Signature-Input", input2},
                        {"Signature", signature2}};
  HttpResponse tampered = client_->Send("PUT", "/videos/v1/project", altered, R"({"name":"evil"})");
  ExpectError(tampered, 401, "InvalidRequestSignatureException");
}

TEST_F(AccountsTest, SignedRequestsOnAccountEndpointsAndTheirFailures) {
  // The secret through HTTP Basic this time.
  HttpResponse secret = client_->Send("GET", "/accounts/v1/generate-signature-secret",
                                      {{"Authorization", BasicAuth("ann@example.com", kPassword)}});
  ASSERT_EQ(secret.status, 200) << secret.body;
  std::string shared(secret.Json().at("user").at("apiRequestSignatureSecret").as_string());
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto signed_get = [&](const std::string& path, const std::string& key, int64_t created,
                        std::vector<std::string> components = {"@method", "@target-uri"}) {
    accounts::SignedRequest request;
    request.method = "GET";
    request.target_uri = server_->base_url() + path;
    auto [input, signature] = accounts::SignRequest(request, components, user_id_, key, created);
    return client_->Send("GET", path, {{"Signature-Input", input}, {"Signature", signature}});
  };
  HttpResponse account = signed_get("/accounts/v1/account", shared, now);
  ASSERT_EQ(account.status, 200) << account.body;
  EXPECT_EQ(account.Json().at("user").at("id").as_string(), user_id_);
  EXPECT_EQ(account.Json().at("team").at("id").as_string(), team_id_);  // the default team
  ExpectError(signed_get("/accounts/v1/account", shared, now - 400), 401,
              "InvalidRequestSignatureException");  // stale
  ExpectError(signed_get("/accounts/v1/account", "not the secret", now + 2), 401,
              "InvalidRequestSignatureException");  // wrong key
  ExpectError(signed_get("/accounts/v1/account", shared, now + 3, {"@method"}), 401,
              "InvalidRequestSignatureException");  // @target-uri not covered
  // Half a signature is a bad signature, not "no credentials" (audit 32 F2).
  {
    accounts::SignedRequest half;
    half.method = "GET";
    half.target_uri = server_->base_url() + "/accounts/v1/account";
    auto [input, signature] =
        accounts::SignRequest(half, {"@method", "@target-uri"}, user_id_, shared, now + 3);
    ExpectError(client_->Send("GET", "/accounts/v1/account", {{"Signature-Input", input}}), 401,
                "InvalidRequestSignatureException");
    ExpectError(client_->Send("GET", "/accounts/v1/account", {{"Signature", signature}}), 401,
                "InvalidRequestSignatureException");
    ExpectError(client_->Get("/accounts/v1/account"), 401, "NoJWTTokenFoundException");
  }
  // Signed for one path, sent to another.
  accounts::SignedRequest request;
  request.method = "GET";
  request.target_uri = server_->base_url() + "/accounts/v1/account";
  auto [input, signature] =
      accounts::SignRequest(request, {"@method", "@target-uri"}, user_id_, shared, now + 4);
  ExpectError(client_->Send("POST", "/accounts/v1/token",
                            {{"Signature-Input", input}, {"Signature", signature}}),
              401, "InvalidRequestSignatureException");
  // A new secret replaces the old one; a banned user's signature is refused with 403.
  ASSERT_EQ(client_->Get("/accounts/v1/generate-signature-secret", Token()).status, 200);
  ExpectError(signed_get("/accounts/v1/account", shared, now + 5), 401,
              "InvalidRequestSignatureException");
  HttpResponse fresh = client_->Get("/accounts/v1/account", Token());
  std::string newer(fresh.Json().at("user").at("apiRequestSignatureSecret").as_string());
  ASSERT_EQ(
      server_->RunCli({"user", "ban", "--email", "ann@example.com", "--reason", "x"}).exit_code, 0);
  ExpectError(signed_get("/accounts/v1/account", newer, now + 6), 403, "UserBannedException");
}

TEST(AccountsTtlTest, TokensExpireAfterTheConfiguredTtl) {
  ServerHarness::Options options;
  options.extra_flags = {"--token-ttl", "1", "--jwt-leeway", "0"};
  ServerHarness server(options);
  HttpClient client(server.port());
  std::string token = server.CreateUserAndLogin("ttl@example.com", kPassword, "Ttl");
  ASSERT_EQ(client.Get("/accounts/v1/account", token).status, 200);  // verified and cached
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  HttpResponse expired = client.Get("/accounts/v1/account", token);
  EXPECT_EQ(expired.status, 401) << expired.body;
  EXPECT_EQ(expired.Json().at("exception").as_string(), "ExpiredJWTTokenException");
}

TEST_F(AccountsTest, SignedUploadsMustMatchTheirContentDigest) {
  std::string token = Token();
  HttpResponse secret = client_->Get("/accounts/v1/generate-signature-secret", token);
  value secret_doc = secret.Json();
  std::string shared(secret_doc.at("user").at("apiRequestSignatureSecret").as_string());
  HttpResponse video =
      client_->SendJson("PUT", "/videos/v1/video", object{{"name", "signed"}}, token);
  ASSERT_EQ(video.status, 200) << video.body;
  std::string id(video.Json().at("videoId").as_string());
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  auto multipart = [](const std::string& content) {
    return "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n" +
           content + "\r\n--b0undary--\r\n";
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
                      {"Content-Digest", digest},
                      {"Signature-Input", input},
                      {"Signature", signature}};
  };
  // The signature covers the digest of one body; another body is sent.
  HttpResponse altered =
      client_->Send("POST", "/media/v1/upload/light/" + id,
                    signed_headers(multipart("original bytes"), now), multipart("altered  bytes"));
  ExpectError(altered, 401, "InvalidRequestSignatureException");
  HttpResponse original = client_->Get("/media/v1/download/original/" + id, token);
  EXPECT_EQ(original.status, 404) << "nothing may be published: " << original.body;
  // The intact upload goes through.
  std::string body = multipart("original bytes");
  HttpResponse intact =
      client_->Send("POST", "/media/v1/upload/light/" + id, signed_headers(body, now + 1), body);
  EXPECT_EQ(intact.status, 200) << intact.body;
  EXPECT_EQ(client_->Get("/media/v1/download/original/" + id, token).body, "original bytes");
}

TEST_F(AccountsTest, AdminCommandsReportErrorsOnOneLine) {
  CommandResult duplicate =
      server_->RunCli({"user", "add", "--email", "ann@example.com", "--password", kPassword});
  EXPECT_NE(duplicate.exit_code, 0);
  EXPECT_NE(duplicate.err.find("exists"), std::string::npos) << duplicate.err;
  EXPECT_EQ(std::count(duplicate.err.begin(), duplicate.err.end(), '\n'), 1);
  CommandResult unknown_team =
      server_->RunCli({"team", "add-member", "--team", "Nope", "--email", "ann@example.com"});
  EXPECT_NE(unknown_team.exit_code, 0);
  EXPECT_NE(unknown_team.err.find("Nope"), std::string::npos) << unknown_team.err;
  EXPECT_NE(
      server_->RunCli({"user", "ban", "--email", "ghost@example.com", "--reason", "x"}).exit_code,
      0);
  EXPECT_NE(server_->RunCli({"team", "add", "Archive"}).exit_code, 0);
  EXPECT_NE(server_->RunCli({"user", "add", "--email", "x@example.com"}).exit_code, 0);
  EXPECT_NE(server_->RunCli({"user", "frobnicate"}).exit_code, 0);
}

// `vidmill serve` run directly (not through the harness, which swallows its
// stdout): what a first-time user of `make serve` sees.
class ServeProcess {
 public:
  explicit ServeProcess(const std::string& data_dir) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      execl(VIDMILL_BINARY, VIDMILL_BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
            data_dir.c_str(), "--workers", "0", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) close(out_);
  }

  // Reads stdout until the "listening on" line (30 s at most); returns all of it.
  std::string ReadUntilListening() {
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (seen.find("listening on http://") == std::string::npos ||
           seen.find('\n', seen.find("listening on http://")) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd waiting{out_, POLLIN, 0};
      if (poll(&waiting, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[4096];
      ssize_t got = read(out_, buffer, sizeof buffer);
      if (got <= 0) break;
      seen.append(buffer, static_cast<size_t>(got));
    }
    return seen;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

int PortFrom(const std::string& out) {
  size_t at = out.find("listening on http://");
  if (at == std::string::npos) return 0;
  size_t colon = out.find(':', at + std::string("listening on http://").size());
  return colon == std::string::npos ? 0 : std::atoi(out.c_str() + colon + 1);
}

TEST(DemoUserTest, AnEmptyStoreGetsADemoUserWhoseCredentialsWork) {
  TempDir dir;
  std::string email;
  std::string password;
  {
    ServeProcess serve(dir.path());
    std::string out = serve.ReadUntilListening();
    int port = PortFrom(out);
    ASSERT_GT(port, 0) << out;
    // "vidmill: created demo user EMAIL with password PASSWORD"
    std::istringstream line(out.substr(out.find("created demo user")));
    std::string word;
    line >> word >> word >> word >> email >> word >> word >> password;
    ASSERT_EQ(email, "demo@vidmill.local") << out;
    ASSERT_GE(password.size(), 8u) << out;
    HttpClient client(port);
    HttpResponse login =
        client.Send("GET", "/accounts/v1/token", {{"Authorization", BasicAuth(email, password)}});
    ASSERT_EQ(login.status, 200) << login.body;
    std::string token(login.Json().at("jwtToken").as_string());
    EXPECT_EQ(client.Get("/accounts/v1/account", token).Json().at("user").at("email").as_string(),
              email);
  }
  // Started again on the same store: no second demo user, nothing printed,
  // and the first one's password still works.
  ServeProcess again(dir.path());
  std::string out = again.ReadUntilListening();
  ASSERT_GT(PortFrom(out), 0) << out;
  EXPECT_EQ(out.find("demo user"), std::string::npos) << out;
  HttpClient client(PortFrom(out));
  EXPECT_EQ(
      client.Send("GET", "/accounts/v1/token", {{"Authorization", BasicAuth(email, password)}})
          .status,
      200);
}

}  // namespace
}  // namespace vidmill::test
