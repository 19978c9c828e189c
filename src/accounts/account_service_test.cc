#include "accounts/account_service.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <latch>
#include <thread>
#include <vector>

#include "storage/scratch_database.h"

namespace vidmill::accounts {
namespace {

using storage::Backend;

class AccountServiceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    auto scratch = storage::ScratchDatabase::Create(GetParam());
    if (!scratch.ok()) GTEST_SKIP() << scratch.status().message();
    scratch_ = std::move(scratch).value();
    auto db = storage::OpenDatabase(scratch_->url());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(db).value();
    service_ = std::make_unique<AccountService>(db_.get(), &clock_, AccountOptions{900, 5, 2});
  }

  std::pair<User, Team> Add(const std::string& email, const std::string& team = "T") {
    auto made = service_->AddUser(email, "password-123", "", team);
    EXPECT_TRUE(made.ok()) << made.status().ToString();
    return *made;
  }

  std::string Token(const User& user, std::optional<std::string> team = std::nullopt) {
    auto user_now = service_->GetUser(user.id);
    EXPECT_TRUE(user_now.ok());
    auto issued = service_->IssueToken(*user_now, team);
    EXPECT_TRUE(issued.ok()) << issued.status().ToString();
    return issued.ok() ? issued->token : "";
  }

  FakeClock clock_{1'800'000'000'000};
  std::unique_ptr<storage::ScratchDatabase> scratch_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<AccountService> service_;
};

TEST_P(AccountServiceTest, AddUserCreatesTeamAndRefusesDuplicates) {
  auto [user, team] = Add("Ann@Example.com", "Archive");
  EXPECT_EQ(user.email, "ann@example.com");
  EXPECT_EQ(user.default_team_id, team.id);
  EXPECT_EQ(user.jwt_method, "ES256");
  EXPECT_NE(user.jwt_public_key.find("BEGIN PUBLIC KEY"), std::string::npos);
  auto again = service_->AddUser("ann@example.com", "password-123", "", "Archive");
  EXPECT_EQ(again.status().code(), Code::kConflict);
  auto [bob, bobs_team] = Add("bob@example.com", "Archive");
  EXPECT_EQ(bobs_team.id, team.id);  // joined the existing team
  EXPECT_EQ(service_->AddUser("x@y.z", "short", "", "T").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(service_->AddUser("not-an-email", "password-123", "", "T").status().code(),
            Code::kInvalidArgument);
}

TEST_P(AccountServiceTest, TokenRoundTripAndTeamSelection) {
  auto [user, team] = Add("ann@example.com", "A");
  ASSERT_TRUE(service_->AddTeam("B").ok());
  ASSERT_TRUE(service_->AddMember("B", "ann@example.com").ok());
  auto identity = service_->VerifyBearer(Token(user));
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->user_id, user.id);
  EXPECT_EQ(identity->team_id, team.id);
  auto teams = service_->TeamsOf(user.id);
  ASSERT_TRUE(teams.ok());
  ASSERT_EQ(teams->size(), 2u);
  std::string b_id = (*teams)[1].id;
  auto in_b = service_->VerifyBearer(Token(user, b_id));
  ASSERT_TRUE(in_b.ok());
  EXPECT_EQ(in_b->team_id, b_id);
  // A team the user is not in.
  ASSERT_TRUE(service_->AddTeam("C").ok());
  auto other = Add("carl@example.com", "C");
  auto refused = service_->IssueToken(user, other.second.id);
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied);
}

TEST_P(AccountServiceTest, BanPasswordChangeAndRotationEndTokensAtOnce) {
  auto [user, team] = Add("ann@example.com");
  std::string token = Token(user);
  ASSERT_TRUE(service_->VerifyBearer(token).ok());  // now cached

  ASSERT_TRUE(service_->BanUser("ann@example.com", "abuse").ok());
  auto banned = service_->VerifyBearer(token);
  EXPECT_EQ(banned.status().exception(), "UserBannedException");
  EXPECT_EQ(banned.status().code(), Code::kPermissionDenied);
  ASSERT_TRUE(service_->UnbanUser("ann@example.com").ok());
  // Tokens from before the ban stay dead; new ones work.
  EXPECT_FALSE(service_->VerifyBearer(token).ok());
  std::string fresh = Token(user);
  ASSERT_TRUE(service_->VerifyBearer(fresh).ok());

  ASSERT_TRUE(service_->UpdatePassword(user.id, "new-password-456").ok());
  EXPECT_FALSE(service_->VerifyBearer(fresh).ok());
  std::string after_change = Token(user);
  ASSERT_TRUE(service_->VerifyBearer(after_change).ok());

  // A second service (another API node) cached the token too; the rotation
  // made through the first must still reach it.
  AccountService other_node(db_.get(), &clock_, AccountOptions{900, 5, 1});
  ASSERT_TRUE(other_node.VerifyBearer(after_change).ok());
  ASSERT_TRUE(service_->RotateKeyPair(user.id).ok());
  auto rotated = other_node.VerifyBearer(after_change);
  EXPECT_EQ(rotated.status().exception(), "InvalidJWTTokenFoundException");
  EXPECT_TRUE(other_node.VerifyBearer(Token(user)).ok());
}

TEST_P(AccountServiceTest, CachedTokenStillExpires) {
  auto [user, team] = Add("ann@example.com");
  std::string token = Token(user);
  ASSERT_TRUE(service_->VerifyBearer(token).ok());
  clock_.Advance(std::chrono::seconds(906));
  EXPECT_FALSE(service_->VerifyBearer(token).ok());
}

TEST_P(AccountServiceTest, UnknownEmailAnswersLikeAWrongPassword) {
  Add("ann@example.com");
  auto wrong = service_->CheckPassword("ann@example.com", "wrong-password", "10.0.0.1");
  auto unknown = service_->CheckPassword("nobody@example.com", "wrong-password", "10.0.0.2");
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
  EXPECT_EQ(wrong.status().exception(), unknown.status().exception());
  EXPECT_TRUE(service_->CheckPassword("ANN@example.com", "password-123", "10.0.0.1").ok());
}

TEST_P(AccountServiceTest, RepeatedFailuresAreRateLimited) {
  Add("ann@example.com");
  for (int i = 0; i < LoginRateLimiter::kDefaultFreeFailures + 1; ++i) {
    (void)service_->CheckPassword("ann@example.com", "wrong-password", "10.0.0.1");
  }
  auto limited = service_->CheckPassword("ann@example.com", "password-123", "10.0.0.1");
  EXPECT_EQ(limited.status().code(), Code::kTooManyRequests);
  EXPECT_GT(limited.status().retry_after_seconds(), 0);
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(service_->CheckPassword("ann@example.com", "password-123", "10.0.0.1").ok());
}

// Parallel guesses at one account (from as many addresses) get no more
// password checks than its free failures: counted only after the hash, ten of
// a burst had been checked (audit 19 F3).
TEST_P(AccountServiceTest, ParallelGuessesGetNoMoreChecksThanTheFreeFailures) {
  Add("ann@example.com");
  constexpr int kThreads = 12;
  std::latch start(kThreads);
  std::vector<Code> codes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      codes[i] =
          service_
              ->CheckPassword("ann@example.com", "wrong-password", "10.0.1." + std::to_string(i))
              .status()
              .code();
    });
  }
  for (std::thread& thread : threads) thread.join();
  const int checked =
      static_cast<int>(std::count(codes.begin(), codes.end(), Code::kUnauthenticated));
  // The free failures, then the one that locks (as in a series).
  EXPECT_GE(checked, 1);
  EXPECT_LE(checked, LoginRateLimiter::kDefaultFreeFailures + 1);
  for (Code code : codes) {
    EXPECT_TRUE(code == Code::kUnauthenticated || code == Code::kTooManyRequests ||
                code == Code::kUnavailable)  // the hashing gate's 503
        << static_cast<int>(code);
  }
  // Parallel logins with the right password wait for their turn and go
  // through (over the free failures in flight they had been refused 429):
  // the five in flight and the four that may wait.
  clock_.Advance(std::chrono::hours(2));  // past every lock
  constexpr int kLogins = LoginRateLimiter::kDefaultFreeFailures + LoginRateLimiter::kMaxWaiting;
  std::latch again(kLogins);
  std::vector<bool> logged_in(kLogins);
  threads.clear();
  for (int i = 0; i < kLogins; ++i) {
    threads.emplace_back([&, i] {
      again.arrive_and_wait();
      logged_in[i] = service_->CheckPassword("ann@example.com", "password-123", "10.0.2.1").ok();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(std::count(logged_in.begin(), logged_in.end(), true), kLogins);
}

TEST_P(AccountServiceTest, AnAddressGuessingAcrossAccountsIsRateLimitedToo) {
  AccountOptions options;
  options.account_free_failures = 5;
  options.address_free_failures = 3;
  AccountService service(db_.get(), &clock_, options);
  Add("ann@example.com");
  for (int i = 0; i < 4; ++i) {  // four accounts, one failure each
    auto failed = service.CheckPassword("user" + std::to_string(i) + "@example.com",
                                        "wrong-password", "10.0.0.9");
    EXPECT_EQ(failed.status().code(), Code::kUnauthenticated);
  }
  auto limited = service.CheckPassword("ann@example.com", "password-123", "10.0.0.9");
  EXPECT_EQ(limited.status().code(), Code::kTooManyRequests);
  EXPECT_EQ(limited.status().exception(), "TooManyLoginAttemptsException");
  // Another address is not affected, and the account itself has no failures.
  EXPECT_TRUE(service.CheckPassword("ann@example.com", "password-123", "10.0.0.10").ok());
}

TEST_P(AccountServiceTest, BannedUserWithTheRightPasswordIsForbidden) {
  Add("ann@example.com");
  ASSERT_TRUE(service_->BanUser("ann@example.com", "chargeback").ok());
  auto banned = service_->CheckPassword("ann@example.com", "password-123", "10.0.0.1");
  EXPECT_EQ(banned.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(banned.status().exception(), "UserBannedException");
  EXPECT_NE(banned.status().message().find("chargeback"), std::string::npos);
  // A wrong password still answers 401: a ban is not revealed to guessers.
  auto wrong = service_->CheckPassword("ann@example.com", "wrong-password", "10.0.0.1");
  EXPECT_EQ(wrong.status().code(), Code::kUnauthenticated);
}

TEST_P(AccountServiceTest, SignedRequestsVerifyOnceAndNeedTheSecret) {
  auto [user, team] = Add("ann@example.com");
  SignedRequest request;
  request.method = "GET";
  request.target_uri = "http://127.0.0.1:1/accounts/v1/account";
  auto [input, signature] = SignRequest(request, {"@method", "@target-uri"}, user.id,
                                        "no-secret-yet", clock_.NowSeconds());
  request.headers = {{"Signature-Input", input}, {"Signature", signature}};
  EXPECT_EQ(service_->VerifySignedRequest(request, "").status().code(), Code::kUnauthenticated);

  auto with_secret = service_->NewSignatureSecret(user.id);
  ASSERT_TRUE(with_secret.ok());
  ASSERT_TRUE(with_secret->signature_secret.has_value());
  auto [input2, signature2] = SignRequest(request, {"@method", "@target-uri"}, user.id,
                                          *with_secret->signature_secret, clock_.NowSeconds());
  request.headers = {{"Signature-Input", input2}, {"Signature", signature2}};
  auto identity = service_->VerifySignedRequest(request, "");
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->user_id, user.id);
  EXPECT_EQ(identity->team_id, team.id);
  auto replayed = service_->VerifySignedRequest(request, "");
  EXPECT_EQ(replayed.status().code(), Code::kUnauthenticated);
  EXPECT_NE(replayed.status().message().find("replay"), std::string::npos);
}

// A password change ends the request-signing secret as it ends tokens, and so
// does the end of a ban (during it, signed requests are refused as banned):
// locking out a compromised account (ban, new password, unban) had left the
// secret it had handed out working (audit 27 F2).
TEST_P(AccountServiceTest, APasswordChangeOrABanEndsTheSigningSecret) {
  auto [user, team] = Add("ann@example.com");
  auto sign_with_secret = [&](const std::string& secret) {
    SignedRequest request;
    request.method = "GET";
    request.target_uri = "http://127.0.0.1:1/accounts/v1/account";
    auto [input, signature] =
        SignRequest(request, {"@method", "@target-uri"}, user.id, secret, clock_.NowSeconds());
    request.headers = {{"Signature-Input", input}, {"Signature", signature}};
    return service_->VerifySignedRequest(request, "").status();
  };
  auto before = service_->NewSignatureSecret(user.id);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(sign_with_secret(*before->signature_secret).ok());
  auto changed = service_->UpdatePassword(user.id, "password-456");
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_FALSE(changed->signature_secret.has_value());
  clock_.Advance(std::chrono::seconds(1));  // a new signature, not a replay
  EXPECT_EQ(sign_with_secret(*before->signature_secret).code(), Code::kUnauthenticated);

  auto again = service_->NewSignatureSecret(user.id);
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(service_->BanUser("ann@example.com", "compromised").ok());
  EXPECT_EQ(sign_with_secret(*again->signature_secret).code(), Code::kPermissionDenied);
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(service_->UnbanUser("ann@example.com").ok());
  EXPECT_EQ(sign_with_secret(*again->signature_secret).code(), Code::kUnauthenticated);
  auto fresh = service_->NewSignatureSecret(user.id);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(sign_with_secret(*fresh->signature_secret).ok());
  // Unbanning a user who is not banned changes nothing.
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(service_->UnbanUser("ann@example.com").ok());
  EXPECT_TRUE(sign_with_secret(*fresh->signature_secret).ok());
}

TEST_P(AccountServiceTest, DemoUserOnlyOnAnEmptyStore) {
  auto demo = service_->CreateDemoUserIfEmpty();
  ASSERT_TRUE(demo.ok());
  ASSERT_TRUE(demo->has_value());
  EXPECT_TRUE(service_->CheckPassword((*demo)->email, (*demo)->password, "1.2.3.4").ok());
  auto again = service_->CreateDemoUserIfEmpty();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, AccountServiceTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const auto& info) {
                           return std::string(storage::BackendName(info.param));
                         });

}  // namespace
}  // namespace vidmill::accounts
