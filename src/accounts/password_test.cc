#include "accounts/password.h"

#include <gtest/gtest.h>

#include "accounts/rate_limiter.h"

namespace vidmill::accounts {
namespace {

TEST(PasswordTest, LengthRules) {
  EXPECT_EQ(PasswordHasher::ValidateNew("short").code(), Code::kInvalidArgument);
  EXPECT_EQ(PasswordHasher::ValidateNew(std::string(7, 'a')).code(), Code::kInvalidArgument);
  EXPECT_TRUE(PasswordHasher::ValidateNew(std::string(8, 'a')).ok());
  EXPECT_TRUE(PasswordHasher::ValidateNew(std::string(1024, 'a')).ok());
  EXPECT_EQ(PasswordHasher::ValidateNew(std::string(1025, 'a')).code(), Code::kInvalidArgument);
}

TEST(PasswordTest, HashesWithArgon2idAndVerifies) {
  PasswordHasher hasher(2);
  auto hash = hasher.Hash("correct horse battery");
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_NE(hash->find("m=19456"), std::string::npos) << *hash;  // 19 MiB
  EXPECT_NE(hash->find("t=2"), std::string::npos) << *hash;
  EXPECT_TRUE(hasher.Verify("correct horse battery", *hash));
  EXPECT_FALSE(hasher.Verify("correct horse battery!", *hash));
  // Same password, different salt.
  EXPECT_NE(*hash, *hasher.Hash("correct horse battery"));
  // Unknown user: never matches, even the dummy's own password.
  EXPECT_FALSE(hasher.Verify("vidmill-dummy-password-for-timing", ""));
}

TEST(RateLimiterTest, GrowingDelaysAfterFreeFailuresAndNoPermanentLock) {
  LoginRateLimiter limiter;
  int64_t now = 1'000'000;
  for (int i = 0; i < LoginRateLimiter::kFreeFailures; ++i) {
    EXPECT_EQ(limiter.RetryAfterSeconds("k", now), 0);
    limiter.RecordFailure("k", now);
  }
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now), 0);
  limiter.RecordFailure("k", now);  // 6th: 1 s
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now), 1);
  limiter.RecordFailure("k", now);  // 7th: 2 s
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now), 2);
  limiter.RecordFailure("k", now);  // 8th: 4 s
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now), 4);
  for (int i = 0; i < 30; ++i) limiter.RecordFailure("k", now);
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now), LoginRateLimiter::kMaxDelaySeconds);
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now + LoginRateLimiter::kMaxDelaySeconds * 1000), 0);
  EXPECT_EQ(limiter.RetryAfterSeconds("other", now), 0);
  limiter.RecordSuccess("k");
  EXPECT_EQ(limiter.RetryAfterSeconds("k", now), 0);
}

}  // namespace
}  // namespace vidmill::accounts
