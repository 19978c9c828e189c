#include "accounts/message_signature.h"

#include <gtest/gtest.h>

namespace vidmill::accounts {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kSecret = "s3cr3t-shared-secret";
const std::string kKey = "3f2b0000-0000-4000-8000-000000000001";

SignedRequest Request(std::string body = "{\"name\":\"x\"}") {
  SignedRequest request;
  request.method = "POST";
  request.target_uri = "http://127.0.0.1:8080/videos/v1/project/abc?x=1";
  request.has_body = !body.empty();
  if (!body.empty()) {
    request.headers.emplace_back("Content-Digest", "sha-256=:" + Base64Encode(Sha256(body)) + ":");
  }
  return request;
}

SignedRequest Sign(SignedRequest request, std::vector<std::string> components,
                   int64_t created = kNow, const std::string& secret = kSecret) {
  auto [input, signature] = SignRequest(request, components, kKey, secret, created);
  request.headers.emplace_back("Signature-Input", input);
  request.headers.emplace_back("Signature", signature);
  return request;
}

Status Check(const SignedRequest& request, int64_t now = kNow) {
  auto parsed = ParseSignature(request);
  if (!parsed.ok()) return parsed.status();
  EXPECT_EQ(parsed->key_id, kKey);
  return VerifySignature(request, *parsed, kSecret, now);
}

const std::vector<std::string> kFull = {"@method", "@target-uri", "content-digest"};

TEST(MessageSignatureTest, ValidSignatureVerifies) {
  SignedRequest request = Sign(Request(), kFull);
  EXPECT_TRUE(Check(request).ok()) << Check(request).ToString();
  EXPECT_TRUE(VerifyContentDigest(request, Sha256("{\"name\":\"x\"}")).ok());
}

TEST(MessageSignatureTest, SignatureBaseFollowsRfc9421) {
  SignedRequest request =
      Sign(Request(""), {"@method", "@target-uri", "@authority", "@path", "@query"});
  auto parsed = ParseSignature(request);
  ASSERT_TRUE(parsed.ok());
  auto base = SignatureBase(request, *parsed);
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(*base,
            "\"@method\": POST\n"
            "\"@target-uri\": http://127.0.0.1:8080/videos/v1/project/abc?x=1\n"
            "\"@authority\": 127.0.0.1:8080\n"
            "\"@path\": /videos/v1/project/abc\n"
            "\"@query\": ?x=1\n"
            "\"@signature-params\": (\"@method\" \"@target-uri\" \"@authority\" \"@path\" "
            "\"@query\");created=1800000000;keyid=\"" +
                kKey + "\";alg=\"hmac-sha256\"");
}

TEST(MessageSignatureTest, AlteredRequestsAreRefused) {
  SignedRequest good = Sign(Request(), kFull);
  SignedRequest other_method = good;
  other_method.method = "DELETE";
  EXPECT_EQ(Check(other_method).code(), Code::kUnauthenticated);
  SignedRequest other_uri = good;
  other_uri.target_uri += "&y=2";
  EXPECT_EQ(Check(other_uri).code(), Code::kUnauthenticated);
  // A different body: the digest header no longer matches what the body hashes to.
  EXPECT_EQ(VerifyContentDigest(good, Sha256("{\"name\":\"evil\"}")).code(),
            Code::kUnauthenticated);
  // Changing the digest header itself breaks the signature.
  SignedRequest other_digest = good;
  other_digest.headers[0].second = "sha-256=:" + Base64Encode(Sha256("evil")) + ":";
  EXPECT_EQ(Check(other_digest).code(), Code::kUnauthenticated);
}

TEST(MessageSignatureTest, PolicyRules) {
  // Stale and future-dated.
  EXPECT_EQ(Check(Sign(Request(), kFull, kNow - 301)).code(), Code::kUnauthenticated);
  EXPECT_EQ(Check(Sign(Request(), kFull, kNow + 301)).code(), Code::kUnauthenticated);
  EXPECT_TRUE(Check(Sign(Request(), kFull, kNow - 299)).ok());
  // Missing required components.
  EXPECT_EQ(Check(Sign(Request(), {"@method", "@target-uri"})).code(), Code::kUnauthenticated);
  EXPECT_EQ(Check(Sign(Request(""), {"@method"})).code(), Code::kUnauthenticated);
  EXPECT_TRUE(Check(Sign(Request(""), {"@method", "@target-uri"})).ok());
  // Wrong key.
  SignedRequest wrong_key = Sign(Request(), kFull, kNow, "another secret");
  EXPECT_EQ(Check(wrong_key).code(), Code::kUnauthenticated);
}

TEST(MessageSignatureTest, MalformedHeadersAreRefused) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sig1=(\"@method\";created=1", "sig1=:AAAA:"},
      {"sig1=\"@method\"", "sig1=:AAAA:"},
      {"sig1=(\"@method\");created=1;alg=\"hmac-sha256\"", "sig1=:AAAA:"},  // no keyid
      {"sig1=(\"@method\");keyid=\"k\"", "sig2=:AAAA:"},                    // label mismatch
      {"sig1=(\"@method\");keyid=\"k\"", "sig1=AAAA"},                      // not a byte seq
      {"sig1=(\"@method\";sf);keyid=\"k\"", "sig1=:AAAA:"},                 // component params
      {"sig1=(\"@method\" \"@method\");keyid=\"k\"", "sig1=:AAAA:"},        // covered twice
      {"sig1=(\"@method\"\"@path\");keyid=\"k\"", "sig1=:AAAA:"},           // no separator
      {"sig1=(\"@method\");created=12x;keyid=\"k\"", "sig1=:AAAA:"},        // not an integer
      {"sig1=(\"@method\");created=1-2;keyid=\"k\"", "sig1=:AAAA:"},        // not an integer
      {"sig1=(\"@method\");Keyid=\"k\"", "sig1=:AAAA:"},                    // not a key
      {"sig1=(\"@method\");keyid=\"k\";keyid=\"j\"", "sig1=:AAAA:"},        // repeated
      {"Sig1=(\"@method\");keyid=\"k\"", "Sig1=:AAAA:"},                    // bad label
      {"sig1=(\"@method\");keyid=\"k\"", "sig1=:AAAA:, sig1=:BBBB:"},       // label twice
  };
  for (const auto& [input, signature] : cases) {
    SignedRequest request = Request("");
    request.headers.emplace_back("Signature-Input", input);
    request.headers.emplace_back("Signature", signature);
    auto parsed = ParseSignature(request);
    EXPECT_FALSE(parsed.ok()) << input << " / " << signature;
  }
  // Neither header: "no token" in the API's terms.
  auto none = ParseSignature(Request(""));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().exception(), "NoJWTTokenFoundException");
}

TEST(MessageSignatureTest, TheFirstSignatureIsFoundAmongSeveral) {
  SignedRequest request = Sign(Request(), kFull);
  // A second signature (say, a proxy's) listed before ours in Signature.
  for (auto& [name, value] : request.headers) {
    if (name == "Signature") value = "proxy=:AAAA:, " + value;
    if (name == "Signature-Input") value += ", proxy=(\"@method\");keyid=\"p\"";
  }
  EXPECT_TRUE(Check(request).ok()) << Check(request).ToString();
}

TEST(MessageSignatureTest, ContentDigestNeedsAnExactSha256Member) {
  const std::string digest = Base64Encode(Sha256("body"));
  auto expected = [&](const std::string& header) {
    SignedRequest request;
    request.headers = {{"Content-Digest", header}};
    return ExpectedContentSha256(request);
  };
  ASSERT_TRUE(expected("sha-256=:" + digest + ":").ok());
  EXPECT_EQ(*expected("sha-512=:AAAA:, sha-256=:" + digest + ":"), Sha256("body"));
  EXPECT_FALSE(expected("xsha-256=:" + digest + ":").ok());
  EXPECT_FALSE(expected("sha-256=" + digest).ok());
  EXPECT_FALSE(expected("sha-256=:AAAA:").ok());  // not 32 bytes
  EXPECT_FALSE(expected("sha-512=:" + digest + ":").ok());
  EXPECT_FALSE(ExpectedContentSha256(SignedRequest{}).ok());
}

// The worked example of docs/signed-requests.md, value for value.
TEST(MessageSignatureTest, DocumentedWorkedExample) {
  const std::string user_id = "3f2b9c1e-7d4a-4f6b-9a8e-2c5d1b0e4f7a";
  const std::string secret = "9rSQHEKuq4_hdOmkEL0KhKzKf7QHBAZHzsoAsVLIzbo";
  const std::string body = R"({"name": "Tape 3"})";
  const std::string digest = "sha-256=:" + Base64Encode(Sha256(body)) + ":";
  EXPECT_EQ(digest, "sha-256=:2+lmqkcMO8VwxYVcxyUkv2DIpvb6/vBH20Gg7AidJXA=:");
  SignedRequest request;
  request.method = "PUT";
  request.target_uri = "http://127.0.0.1:8080/videos/v1/project";
  request.has_body = true;
  request.headers = {{"Content-Digest", digest}};
  auto [input, signature] = SignRequest(request, kFull, user_id, secret, /*created=*/1764345600);
  const std::string params =
      "(\"@method\" \"@target-uri\" \"content-digest\");created=1764345600;"
      "keyid=\"3f2b9c1e-7d4a-4f6b-9a8e-2c5d1b0e4f7a\";alg=\"hmac-sha256\"";
  EXPECT_EQ(input, "sig1=" + params);
  EXPECT_EQ(signature, "sig1=:9iBOJPVQ2vdJ4Lam38EtINe8zVmLZS36Z0iANhGyEZY=:");
  request.headers.emplace_back("Signature-Input", input);
  request.headers.emplace_back("Signature", signature);
  auto parsed = ParseSignature(request);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  auto base = SignatureBase(request, *parsed);
  ASSERT_TRUE(base.ok());
  EXPECT_EQ(*base,
            "\"@method\": PUT\n"
            "\"@target-uri\": http://127.0.0.1:8080/videos/v1/project\n"
            "\"content-digest\": sha-256=:2+lmqkcMO8VwxYVcxyUkv2DIpvb6/vBH20Gg7AidJXA=:\n"
            "\"@signature-params\": " +
                params);
  EXPECT_TRUE(VerifySignature(request, *parsed, secret, 1764345600 + 10).ok());
  EXPECT_FALSE(VerifySignature(request, *parsed, secret, 1764345600 + 301).ok());  // stale
}

TEST(MessageSignatureTest, ReplayKeyIsStablePerSignature) {
  auto a = ParseSignature(Sign(Request(), kFull));
  auto b = ParseSignature(Sign(Request(), kFull));
  auto c = ParseSignature(Sign(Request(), kFull, kNow + 1));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(ReplayKey(*a), ReplayKey(*b));
  EXPECT_NE(ReplayKey(*a), ReplayKey(*c));
}

}  // namespace
}  // namespace vidmill::accounts
