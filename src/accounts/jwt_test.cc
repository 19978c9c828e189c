#include "accounts/jwt.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

#include "accounts/message_signature.h"

namespace vidmill::accounts {
namespace {

constexpr int64_t kNow = 1'800'000'000;

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = GenerateKeyPair();
    ASSERT_TRUE(keys.ok());
    keys_ = *keys;
    auto other = GenerateKeyPair();
    ASSERT_TRUE(other.ok());
    other_keys_ = *other;
  }

  TokenClaims Claims() const {
    TokenClaims claims;
    claims.subject = "user-1";
    claims.team_id = "team-1";
    claims.issued_at = kNow;
    claims.not_before = kNow;
    claims.expires_at = kNow + 900;
    claims.token_id = "jti-1";
    return claims;
  }

  std::string Sign(const TokenClaims& claims) const {
    auto token = SignToken(claims, keys_.key_id, keys_.private_pem);
    EXPECT_TRUE(token.ok());
    return *token;
  }

  KeyLookup Lookup() const {
    return [this](const std::string& kid) -> Result<std::optional<PublicKeyRecord>> {
      if (kid == keys_.key_id)
        return std::optional(PublicKeyRecord{"user-1", "ES256", keys_.public_pem});
      if (kid == other_keys_.key_id) {
        return std::optional(PublicKeyRecord{"user-2", "ES256", other_keys_.public_pem});
      }
      return std::optional<PublicKeyRecord>();
    };
  }

  Result<TokenClaims> Verify(std::string_view token, int64_t now = kNow) const {
    return VerifyToken(token, VerifyOptions{now, 5, 900}, Lookup());
  }

  // Builds a token from raw header/payload JSON and a signature segment.
  static std::string Assemble(const std::string& header, const std::string& payload,
                              const std::string& signature_segment) {
    return Base64UrlEncode(header) + "." + Base64UrlEncode(payload) + "." + signature_segment;
  }

  std::string Payload(const TokenClaims& c) const {
    return boost::json::serialize(boost::json::object{{"sub", c.subject},
                                                      {"team", c.team_id},
                                                      {"iat", c.issued_at},
                                                      {"nbf", c.not_before},
                                                      {"exp", c.expires_at},
                                                      {"jti", c.token_id},
                                                      {"gen", 0}});
  }

  KeyPair keys_;
  KeyPair other_keys_;
};

void ExpectException(const Result<TokenClaims>& result, const std::string& exception) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().exception(), exception) << result.status().message();
  EXPECT_EQ(result.status().code(), Code::kUnauthenticated);
}

TEST_F(JwtTest, ValidTokenVerifies) {
  auto claims = Verify(Sign(Claims()));
  ASSERT_TRUE(claims.ok()) << claims.status().ToString();
  EXPECT_EQ(claims->subject, "user-1");
  EXPECT_EQ(claims->team_id, "team-1");
  EXPECT_EQ(claims->key_id, keys_.key_id);
}

TEST_F(JwtTest, ForgedPayloadFailsTheSignature) {
  std::string token = Sign(Claims());
  TokenClaims forged = Claims();
  forged.team_id = "team-evil";
  std::string signature = token.substr(token.rfind('.') + 1);
  std::string header = token.substr(0, token.find('.'));
  std::string tampered = header + "." + Base64UrlEncode(Payload(forged)) + "." + signature;
  ExpectException(Verify(tampered), "InvalidJWTTokenFoundException");
}

TEST_F(JwtTest, TimeRules) {
  ExpectException(Verify(Sign(Claims()), kNow + 906), "ExpiredJWTTokenException");
  EXPECT_TRUE(Verify(Sign(Claims()), kNow + 904).ok());  // within the leeway
  TokenClaims premature = Claims();
  premature.not_before = kNow + 60;
  ExpectException(Verify(Sign(premature)), "PrematureJWTTokenException");
  TokenClaims too_long = Claims();
  too_long.expires_at = kNow + 901;
  ExpectException(Verify(Sign(too_long)), "InconsistentJWTClaimsException");
}

TEST_F(JwtTest, TokenWithoutExpiryIsEternal) {
  boost::json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", keys_.key_id}};
  boost::json::object payload{{"sub", "user-1"}, {"team", "team-1"}, {"iat", kNow}};
  auto token =
      SignJws(boost::json::serialize(header), boost::json::serialize(payload), keys_.private_pem);
  ASSERT_TRUE(token.ok());
  ExpectException(Verify(*token), "EternalJWTTokenException");
}

TEST_F(JwtTest, ClaimsThatDoNotFitAreInconsistent) {
  boost::json::object header{{"alg", "ES256"}, {"kid", keys_.key_id}};
  boost::json::object no_team{{"sub", "user-1"}, {"iat", kNow}, {"exp", kNow + 60}};
  auto token =
      SignJws(boost::json::serialize(header), boost::json::serialize(no_team), keys_.private_pem);
  ASSERT_TRUE(token.ok());
  ExpectException(Verify(*token), "InconsistentJWTClaimsException");
}

// A time claim that is not a number is inconsistent, not missing (a string
// 'exp' had been "no expiry", a string 'nbf' ignored; audit 32 F6).
TEST_F(JwtTest, TimeClaimsThatAreNotNumbersAreInconsistent) {
  boost::json::object header{{"alg", "ES256"}, {"kid", keys_.key_id}};
  for (const char* name : {"exp", "iat", "nbf"}) {
    boost::json::object payload{
        {"sub", "user-1"}, {"team", "team-1"}, {"iat", kNow}, {"exp", kNow + 60}};
    payload[name] = std::to_string(kNow + 30);
    auto token =
        SignJws(boost::json::serialize(header), boost::json::serialize(payload), keys_.private_pem);
    ASSERT_TRUE(token.ok());
    ExpectException(Verify(*token), "InconsistentJWTClaimsException");
    EXPECT_NE(Verify(*token).status().message().find(name), std::string::npos);
  }
}

TEST_F(JwtTest, AlgNoneAndHs256WithPublicKeyAreRefused) {
  std::string payload = Payload(Claims());
  std::string none_header =
      boost::json::serialize(boost::json::object{{"alg", "none"}, {"kid", keys_.key_id}});
  ExpectException(Verify(Assemble(none_header, payload, "")), "InvalidJWTTokenFoundException");
  // HS256 "signed" with the public key as the HMAC secret: the classic confusion attack.
  std::string hs_header =
      boost::json::serialize(boost::json::object{{"alg", "HS256"}, {"kid", keys_.key_id}});
  std::string input = Base64UrlEncode(hs_header) + "." + Base64UrlEncode(payload);
  std::string mac = HmacSha256(keys_.public_pem, input);
  ExpectException(Verify(input + "." + Base64UrlEncode(mac)), "InvalidJWTTokenFoundException");
}

TEST_F(JwtTest, KeyMustBelongToSubjectAndBeKnown) {
  // Signed with user-2's key but claiming user-1.
  auto token = SignToken(Claims(), other_keys_.key_id, other_keys_.private_pem);
  ASSERT_TRUE(token.ok());
  ExpectException(Verify(*token), "InvalidJWTTokenFoundException");
  auto unknown = SignToken(Claims(), "0123456789abcdef0123456789abcdef", keys_.private_pem);
  ASSERT_TRUE(unknown.ok());
  ExpectException(Verify(*unknown), "InvalidJWTTokenFoundException");
}

TEST_F(JwtTest, RotatedKeyNoLongerVerifies) {
  std::string token = Sign(Claims());
  KeyLookup rotated = [](const std::string&) -> Result<std::optional<PublicKeyRecord>> {
    return std::optional<PublicKeyRecord>();
  };
  ExpectException(VerifyToken(token, VerifyOptions{kNow, 5, 900}, rotated),
                  "InvalidJWTTokenFoundException");
}

TEST_F(JwtTest, DangerousHeadersAreRefused) {
  for (const char* name : {"jku", "x5u", "jwk", "crit", "x5c"}) {
    boost::json::object header{{"alg", "ES256"}, {"kid", keys_.key_id}, {name, "x"}};
    std::string token = Assemble(boost::json::serialize(header), Payload(Claims()), "AAAA");
    ExpectException(Verify(token), "InvalidJWTTokenFoundException");
  }
}

TEST_F(JwtTest, MalformedTokensAreInvalid) {
  std::string good = Sign(Claims());
  const std::vector<std::string> bad = {
      "",
      "abc",
      "a.b",
      "a.b.c.d",
      good + "=",                                                      // padding
      good.substr(0, good.size() - 1) + "+",                           // not base64url
      "e30.e30.",                                                      // {} {} no signature
      Base64UrlEncode("[1]") + "." + Base64UrlEncode("{}") + ".AAAA",  // header not an object
      std::string(9000, 'a'),                                          // over 8 KiB
  };
  for (const std::string& token : bad) {
    ExpectException(Verify(token), "InvalidJWTTokenFoundException");
  }
}

TEST(Base64UrlTest, RoundTripsAndIsStrict) {
  for (std::string text : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00"}) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(text));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, text);
  }
  EXPECT_FALSE(Base64UrlDecode("Zg==").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());  // non-canonical trailing bits
  EXPECT_FALSE(Base64UrlDecode("a").has_value());
}

}  // namespace
}  // namespace vidmill::accounts
