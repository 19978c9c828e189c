#include "http/range.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace vidmill::http {
namespace {

TEST(EvaluateRangeTest, Table) {
  using R = ByteRange;
  struct Case {
    std::optional<std::string> header;
    uint64_t size;
    RangeOutcome outcome;
    std::vector<ByteRange> ranges;
  };
  const auto kFull = RangeOutcome::kFull;
  const auto kPartial = RangeOutcome::kPartial;
  const auto kUnsat = RangeOutcome::kUnsatisfiable;
  std::string seventeen = "bytes=0-0";
  for (int i = 1; i < 17; ++i)
    seventeen += "," + std::to_string(i * 2) + "-" + std::to_string(i * 2);
  std::string sixteen = "bytes=0-0";
  std::vector<ByteRange> sixteen_ranges = {{0, 0}};
  for (int i = 1; i < 16; ++i) {
    sixteen += "," + std::to_string(i * 2) + "-" + std::to_string(i * 2);
    sixteen_ranges.push_back({uint64_t(i * 2), uint64_t(i * 2)});
  }
  const std::vector<Case> cases = {
      {std::nullopt, 100, kFull, {}},
      // Single ranges.
      {"bytes=0-9", 100, kPartial, {R{0, 9}}},
      {"bytes=10-", 100, kPartial, {R{10, 99}}},
      {"bytes=-10", 100, kPartial, {R{90, 99}}},
      {"bytes=-1000", 100, kPartial, {R{0, 99}}},
      {"bytes=90-1000", 100, kPartial, {R{90, 99}}},
      {"bytes=99-99", 100, kPartial, {R{99, 99}}},
      {"bytes=0-", 100, kPartial, {R{0, 99}}},
      {"Bytes = 5-6 ", 100, kPartial, {R{5, 6}}},
      {"bytes=0-18446744073709551615", 100, kPartial, {R{0, 99}}},
      // Several ranges, order kept, unsatisfiable ones dropped, empty elements skipped.
      {"bytes=0-1, 5-6,-2", 100, kPartial, {R{0, 1}, R{5, 6}, R{98, 99}}},
      {"bytes=50-59,0-9", 100, kPartial, {R{50, 59}, R{0, 9}}},
      {"bytes=0-1,200-300", 100, kPartial, {R{0, 1}}},
      {"bytes=,0-1,,2-3,", 100, kPartial, {R{0, 1}, R{2, 3}}},
      {sixteen, 100, kPartial, sixteen_ranges},
      {"bytes=0-9,5-14", 100, kPartial, {R{0, 9}, R{5, 14}}},  // overlap within the size
      // Unsatisfiable → 416.
      {"bytes=100-", 100, kUnsat, {}},
      {"bytes=100-200", 100, kUnsat, {}},
      {"bytes=-0", 100, kUnsat, {}},
      {"bytes=100-,200-", 100, kUnsat, {}},
      {"bytes=0-0", 0, kUnsat, {}},
      {"bytes=-5", 0, kUnsat, {}},
      // Invalid → ignored.
      {"", 100, kFull, {}},
      {"bytes", 100, kFull, {}},
      {"bytes=", 100, kFull, {}},
      {"bytes=,", 100, kFull, {}},
      {"items=0-1", 100, kFull, {}},
      {"bytes=a-b", 100, kFull, {}},
      {"bytes=5-4", 100, kFull, {}},
      {"bytes=-", 100, kFull, {}},
      {"bytes=1", 100, kFull, {}},
      {"bytes=1-2-3", 100, kFull, {}},
      {"bytes=+1-2", 100, kFull, {}},
      {"bytes= 1 - 2", 100, kFull, {}},
      {"bytes=0-1,x", 100, kFull, {}},
      {"bytes=18446744073709551616-", 100, kFull, {}},  // 2^64: overflow
      {"bytes=0-99999999999999999999999", 100, kFull, {}},
      {"bytes=--5", 100, kFull, {}},
      // Abuse → full body.
      {seventeen, 100, kFull, {}},
      {"bytes=0-99,0-99", 100, kFull, {}},
      {"bytes=0-60,40-99", 100, kFull, {}},  // overlapping, adds up to 121 > 100
      {"bytes=-100,-100", 100, kFull, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header.value_or("<absent>") + " size " + std::to_string(c.size));
    RangeDecision decision =
        EvaluateRange(c.header ? std::optional<std::string_view>(*c.header) : std::nullopt, c.size);
    EXPECT_EQ(static_cast<int>(decision.outcome), static_cast<int>(c.outcome));
    if (c.outcome == kPartial) {
      EXPECT_EQ(decision.ranges, c.ranges);
    }
  }
}

TEST(ConditionalTest, IfNoneMatch) {
  const std::string etag = "\"abc\"";
  struct Case {
    std::string header;
    bool match;
  };
  const std::vector<Case> cases = {
      {"\"abc\"", true},
      {"*", true},
      {" * ", true},
      {"W/\"abc\"", true},
      {"\"x\", \"abc\"", true},
      {"\"x\",W/\"abc\"", true},
      {"\"abcd\"", false},
      {"abc", false},
      {"", false},
      {"\"ABC\"", false},
      {"\"x\" , \"y\"", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IfNoneMatchMatches(c.header, etag), c.match) << c.header;
  }
}

TEST(ConditionalTest, IfRange) {
  const std::string etag = "\"abc\"";
  const std::string date = "Sun, 06 Nov 1994 08:49:37 GMT";
  struct Case {
    std::string header;
    bool allows;
  };
  const std::vector<Case> cases = {
      {"\"abc\"", true},    {date, true},
      {"W/\"abc\"", false},  // weak tags never match If-Range
      {"\"abd\"", false},   {"Sun, 06 Nov 1994 08:49:38 GMT", false},
      {"", false},          {"garbage", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IfRangeAllows(c.header, etag, date), c.allows) << c.header;
  }
  EXPECT_FALSE(IfRangeAllows("\"abc\"", "W/\"abc\"", date));
}

// An OpenFile over a string, standing in for the blob reader (the real file
// path is exercised end to end by tests/integration/media_test.cc).
class StringFile : public OpenFile {
 public:
  explicit StringFile(std::string data) : data_(std::move(data)) {}
  Result<size_t> ReadAt(uint64_t offset, char* out, size_t size) override {
    if (offset >= data_.size()) return size_t{0};
    size_t n = std::min<size_t>(size, data_.size() - offset);
    std::memcpy(out, data_.data() + offset, n);
    return n;
  }

 private:
  std::string data_;
};

std::string Materialise(const Response& response) {
  std::string out;
  for (const BodyPiece& piece : response.pieces) {
    if (!piece.file) {
      out += piece.literal;
      continue;
    }
    std::string buffer(piece.length, '\0');
    Result<size_t> n = piece.file->ReadAt(piece.offset, buffer.data(), buffer.size());
    EXPECT_TRUE(n.ok());
    EXPECT_EQ(*n, piece.length);
    out += buffer;
  }
  return out;
}

class FileResponseTest : public ::testing::Test {
 protected:
  FileResponseTest() {
    for (int i = 0; i < 1000; ++i) data_.push_back(static_cast<char>('A' + i % 26));
    rep_.file = std::make_shared<StringFile>(data_);
    rep_.size = data_.size();
    rep_.content_type = "video/mp4";
    rep_.etag = "\"deadbeef\"";
    rep_.last_modified = "Sun, 06 Nov 1994 08:49:37 GMT";
    rep_.content_disposition = "attachment; filename=\"a.mp4\"";
  }
  Response Get(std::vector<std::pair<std::string, std::string>> headers,
               std::string method = "GET") {
    Request request;
    request.method = method;
    for (auto& [name, value] : headers) request.headers.Add(name, value);
    return FileResponse(request, rep_);
  }

  std::string data_;
  FileRepresentation rep_;
};

TEST_F(FileResponseTest, FullBody) {
  Response response = Get({});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.headers.Get("Content-Type"), "video/mp4");
  EXPECT_EQ(response.headers.Get("ETag"), "\"deadbeef\"");
  EXPECT_EQ(response.headers.Get("Last-Modified"), rep_.last_modified);
  EXPECT_EQ(response.headers.Get("Accept-Ranges"), "bytes");
  EXPECT_EQ(response.headers.Get("Content-Disposition"), rep_.content_disposition);
  EXPECT_FALSE(response.headers.Has("Content-Range"));
  EXPECT_EQ(response.BodyLength(), 1000u);
  EXPECT_EQ(Materialise(response), data_);
  EXPECT_FALSE(response.omit_body);
}

TEST_F(FileResponseTest, HeadKeepsHeadersAndLength) {
  Response response = Get({}, "HEAD");
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.omit_body);
  EXPECT_EQ(response.BodyLength(), 1000u);
  EXPECT_EQ(response.headers.Get("ETag"), "\"deadbeef\"");
}

TEST_F(FileResponseTest, HeadIgnoresARange) {
  Response response = Get({{"Range", "bytes=10-19"}}, "HEAD");
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.omit_body);
  EXPECT_EQ(response.BodyLength(), 1000u);
  EXPECT_FALSE(response.headers.Has("Content-Range"));
  EXPECT_EQ(response.headers.Get("Accept-Ranges"), "bytes");
}

// RFC 9110's other preconditions: If-Match (412 on another version) and
// If-Modified-Since (304 when not modified since, unless If-None-Match is
// there); both had been ignored.
TEST_F(FileResponseTest, IfMatchAndIfModifiedSince) {
  EXPECT_EQ(Get({{"If-Match", "\"deadbeef\""}}).status, 200);
  EXPECT_EQ(Get({{"If-Match", "*"}}).status, 200);
  EXPECT_EQ(Get({{"If-Match", "\"other\", \"deadbeef\""}}).status, 200);
  Response failed = Get({{"If-Match", "\"other\""}});
  EXPECT_EQ(failed.status, 412);
  EXPECT_EQ(failed.headers.Get("ETag"), "\"deadbeef\"");
  EXPECT_EQ(Get({{"If-Match", "W/\"deadbeef\""}}).status, 412) << "strong comparison";

  EXPECT_EQ(Get({{"If-Modified-Since", rep_.last_modified}}).status, 304);
  EXPECT_EQ(Get({{"If-Modified-Since", "Fri, 31 Dec 2100 23:59:59 GMT"}}).status, 304);
  EXPECT_EQ(Get({{"If-Modified-Since", "Thu, 01 Jan 1970 00:00:01 GMT"}}).status, 200);
  EXPECT_EQ(Get({{"If-Modified-Since", "yesterday"}}).status, 200);
  EXPECT_EQ(Get({{"If-Modified-Since", rep_.last_modified}, {"If-None-Match", "\"other\""}}).status,
            200)
      << "If-None-Match decides when present";
}

TEST_F(FileResponseTest, SingleRange) {
  Response response = Get({{"Range", "bytes=10-19"}});
  EXPECT_EQ(response.status, 206);
  EXPECT_EQ(response.headers.Get("Content-Range"), "bytes 10-19/1000");
  EXPECT_EQ(response.headers.Get("Content-Type"), "video/mp4");
  EXPECT_EQ(Materialise(response), data_.substr(10, 10));
}

TEST_F(FileResponseTest, MultipleRanges) {
  Response response = Get({{"Range", "bytes=0-4,-3"}});
  EXPECT_EQ(response.status, 206);
  std::string type = response.headers.Get("Content-Type").value_or("");
  ASSERT_EQ(type.rfind("multipart/byteranges; boundary=", 0), 0u) << type;
  std::string boundary = type.substr(std::strlen("multipart/byteranges; boundary="));
  std::string expected =
      "--" + boundary + "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-4/1000\r\n\r\n" +
      data_.substr(0, 5) + "\r\n--" + boundary +
      "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 997-999/1000\r\n\r\n" +
      data_.substr(997) + "\r\n--" + boundary + "--\r\n";
  EXPECT_EQ(Materialise(response), expected);
  EXPECT_EQ(response.BodyLength(), expected.size());
  EXPECT_FALSE(response.headers.Has("Content-Range"));
}

TEST_F(FileResponseTest, Unsatisfiable) {
  Response response = Get({{"Range", "bytes=1000-"}});
  EXPECT_EQ(response.status, 416);
  EXPECT_EQ(response.headers.Get("Content-Range"), "bytes */1000");
  EXPECT_TRUE(response.pieces.empty());
}

TEST_F(FileResponseTest, InvalidRangeIgnored) {
  Response response = Get({{"Range", "bytes=9-1"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Materialise(response), data_);
}

TEST_F(FileResponseTest, IfNoneMatch) {
  for (const std::string header : {"\"deadbeef\"", "*", "\"other\", W/\"deadbeef\""}) {
    Response response = Get({{"If-None-Match", header}, {"Range", "bytes=0-1"}});
    EXPECT_EQ(response.status, 304) << header;
    EXPECT_EQ(response.headers.Get("ETag"), "\"deadbeef\"");
    EXPECT_TRUE(response.pieces.empty());
    EXPECT_TRUE(response.body.empty());
  }
  EXPECT_EQ(Get({{"If-None-Match", "\"other\""}}).status, 200);
}

TEST_F(FileResponseTest, IfRange) {
  EXPECT_EQ(Get({{"If-Range", "\"deadbeef\""}, {"Range", "bytes=0-1"}}).status, 206);
  EXPECT_EQ(Get({{"If-Range", rep_.last_modified}, {"Range", "bytes=0-1"}}).status, 206);
  Response stale = Get({{"If-Range", "\"old\""}, {"Range", "bytes=0-1"}});
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(Materialise(stale), data_);
  // Without a Range header, If-Range does nothing.
  EXPECT_EQ(Get({{"If-Range", "\"old\""}}).status, 200);
  // A stale If-Range also skips the 416.
  EXPECT_EQ(Get({{"If-Range", "\"old\""}, {"Range", "bytes=5000-"}}).status, 200);
}

}  // namespace
}  // namespace vidmill::http
