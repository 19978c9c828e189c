#include "http/multipart.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vidmill::http {
namespace {

struct SeenPart {
  std::string name;
  std::optional<std::string> filename;
  std::string content_type;
  std::string data;
  bool ended = false;
  bool operator==(const SeenPart&) const = default;
};

std::ostream& operator<<(std::ostream& os, const SeenPart& part) {
  return os << "{name=" << part.name << " filename=" << part.filename.value_or("<none>")
            << " type=" << part.content_type << " data=" << part.data.size() << "B '"
            << part.data.substr(0, 40) << "' ended=" << part.ended << "}";
}

class Recorder : public MultipartReceiver {
 public:
  Status OnPartBegin(const MultipartPart& part) override {
    if (!parts.empty() && !parts.back().ended) return Status::Internal("begin before end");
    parts.push_back(SeenPart{part.name, part.filename, part.content_type, "", false});
    return Status::Ok();
  }
  Status OnPartData(std::string_view data) override {
    if (parts.empty() || parts.back().ended) return Status::Internal("data outside a part");
    if (data.empty()) return Status::Internal("empty data callback");
    parts.back().data.append(data);
    max_data_call = std::max(max_data_call, data.size());
    return Status::Ok();
  }
  Status OnPartEnd() override {
    if (parts.empty() || parts.back().ended) return Status::Internal("end outside a part");
    parts.back().ended = true;
    return Status::Ok();
  }
  std::vector<SeenPart> parts;
  size_t max_data_call = 0;
};

struct Outcome {
  Status status;
  std::vector<SeenPart> parts;
};

// Feeds `body` split at the given points, then Finish().
Outcome Parse(const std::string& boundary, const std::string& body, const std::vector<size_t>& cuts,
              const MultipartLimits& limits = {}) {
  Recorder recorder;
  MultipartParser parser(boundary, &recorder, limits);
  size_t start = 0;
  Status status;
  std::vector<size_t> points = cuts;
  points.push_back(body.size());
  for (size_t cut : points) {
    status = parser.Feed(std::string_view(body).substr(start, cut - start));
    start = cut;
    if (!status.ok()) break;
  }
  if (status.ok()) status = parser.Finish();
  return Outcome{status, recorder.parts};
}

constexpr char kB[] = "XyZ-boundary";

std::string Part(const std::string& headers, const std::string& data) {
  return std::string("--") + kB + "\r\n" + headers + "\r\n" + data + "\r\n";
}
std::string Close() { return std::string("--") + kB + "--\r\n"; }

struct Case {
  std::string label;
  std::string body;
  Code code;  // kOk when the body is valid
  std::vector<SeenPart> parts;
};

std::vector<Case> Cases() {
  const std::string file_headers =
      "Content-Disposition: form-data; name=\"file\"; filename=\"tape 03.mov\"\r\n"
      "Content-Type: video/quicktime\r\n";
  // Content full of near-delimiters: CRLF, "--", a boundary prefix.
  const std::string tricky = std::string("a\r\n--XyZ-boundar\r\n-\r\r\n\n--XyZ") + '\0' + "end\r";
  std::vector<Case> cases = {
      {"one file part",
       Part(file_headers, "hello") + Close(),
       Code::kOk,
       {{"file", "tape 03.mov", "video/quicktime", "hello", true}}},
      {"tricky content",
       Part(file_headers, tricky) + Close(),
       Code::kOk,
       {{"file", "tape 03.mov", "video/quicktime", tricky, true}}},
      {"preamble and epilogue ignored",
       "preamble --XyZ-boundar\r\n" + Part(file_headers, "x") + Close() + "epilogue\r\n--" + kB,
       Code::kOk,
       {{"file", "tape 03.mov", "video/quicktime", "x", true}}},
      {"field then file, no trailing CRLF after close",
       Part("Content-Disposition: form-data; name=\"note\"\r\n", "hi") +
           Part(file_headers, "data") + "--" + kB + "--",
       Code::kOk,
       {{"note", std::nullopt, "", "hi", true},
        {"file", "tape 03.mov", "video/quicktime", "data", true}}},
      {"padding after boundary, empty content, no headers",
       std::string("--") + kB + " \t\r\n\r\n\r\n--" + kB + "--",
       Code::kOk,
       {{"", std::nullopt, "", "", true}}},
      {"filename* wins, escapes and folding",
       Part("Content-Disposition: form-data; name=file;\r\n filename=\"a\\\"b\\\\c.mp4\";"
            " filename*=UTF-8''%E2%82%AC.mp4\r\n",
            "z") +
           Close(),
       Code::kOk,
       {{"file", "\xE2\x82\xAC.mp4", "", "z", true}}},
      {"hostile filename kept as given",
       Part("Content-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\xff\"\r\n",
            "q") +
           Close(),
       Code::kOk,
       {{"f", "../../etc/passwd\xff", "", "q", true}}},
      {"windows path with unescaped backslashes",
       Part("Content-Disposition: form-data; name=\"f\"; filename=\"C:\\dir\\x.mp4\"\r\n", "q") +
           Close(),
       Code::kOk,
       {{"f", "C:\\dir\\x.mp4", "", "q", true}}},
      // Unhappy paths.
      {"empty body", "", Code::kInvalidArgument, {}},
      {"no boundary anywhere", "just some bytes", Code::kInvalidArgument, {}},
      {"missing close",
       Part(file_headers, "hello"),
       Code::kInvalidArgument,
       {{"file", "tape 03.mov", "video/quicktime", "", false}}},
      {"truncated inside content",
       std::string("--") + kB + "\r\n" + file_headers + "\r\nhel",
       // The last bytes could begin a delimiter: held back, never delivered.
       Code::kInvalidArgument,
       {{"file", "tape 03.mov", "video/quicktime", "", false}}},
      {"truncated inside headers",
       std::string("--") + kB + "\r\nContent-Disp",
       Code::kInvalidArgument,
       {}},
      {"text after boundary",
       std::string("--") + kB + "junk\r\n\r\nx\r\n" + Close(),
       Code::kInvalidArgument,
       {}},
      {"header line without colon",
       Part("no colon here\r\n", "x") + Close(),
       Code::kInvalidArgument,
       {}},
      {"header with NUL",
       Part(std::string("Content-Disposition: form-data; name=\"a") + '\0' + "\"\r\n", "x") +
           Close(),
       Code::kInvalidArgument,
       {}},
      {"unterminated quoted filename",
       Part("Content-Disposition: form-data; name=\"file\"; filename=\"abc\r\n", "x") + Close(),
       Code::kInvalidArgument,
       {}},
      {"part header over 16 KiB",
       Part("X-Big: " + std::string(17 * 1024, 'a') + "\r\n", "x") + Close(),
       Code::kPayloadTooLarge,
       {}},
  };
  std::string many;
  for (int i = 0; i < 65; ++i) many += Part("", "p");
  cases.push_back({"65 parts", many + Close(), Code::kInvalidArgument, {}});
  return cases;
}

// Every case, fed whole, byte by byte, and split in two at every point, must
// give the same parts and the same verdict.
TEST(MultipartParserTest, EverySplitPoint) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.label);
    std::vector<std::vector<size_t>> splits = {{}};
    std::vector<size_t> every;
    for (size_t i = 1; i < c.body.size(); ++i) every.push_back(i);
    splits.push_back(every);
    if (c.body.size() < 20000) {
      for (size_t i = 0; i <= c.body.size(); ++i) splits.push_back({i});
    } else {
      for (size_t i = 0; i <= c.body.size(); i += 997) splits.push_back({i});
    }
    for (const auto& cuts : splits) {
      Outcome outcome = Parse(kB, c.body, cuts);
      ASSERT_EQ(outcome.status.code(), c.code)
          << outcome.status.ToString() << " with " << cuts.size() << " cuts, first at "
          << (cuts.empty() ? 0 : cuts[0]);
      if (c.code == Code::kOk || !c.parts.empty()) {
        ASSERT_EQ(outcome.parts, c.parts) << "with " << cuts.size() << " cuts";
      }
    }
  }
}

TEST(MultipartParserTest, LargeContentStreamsWithBoundedBuffering) {
  // 8 MiB of content fed in 64 KiB chunks: data arrives in calls no larger than
  // a chunk, and a 1 MiB header-less blob does not trip the header limit.
  std::string content;
  content.reserve(8 << 20);
  uint32_t x = 12345;
  while (content.size() < (8u << 20)) {
    x = x * 1103515245 + 12345;
    content.push_back(static_cast<char>(x >> 24));
  }
  std::string body =
      Part("Content-Disposition: form-data; name=\"file\"; filename=\"r.bin\"\r\n", content) +
      Close();
  Recorder recorder;
  MultipartParser parser(kB, &recorder);
  for (size_t pos = 0; pos < body.size(); pos += 65536) {
    ASSERT_TRUE(parser.Feed(std::string_view(body).substr(pos, 65536)).ok());
  }
  ASSERT_TRUE(parser.Finish().ok());
  ASSERT_EQ(recorder.parts.size(), 1u);
  EXPECT_TRUE(recorder.parts[0].data == content);
  EXPECT_LE(recorder.max_data_call, 65536u + 64);
}

TEST(MultipartParserTest, ReceiverErrorStopsParsing) {
  class Refuser : public MultipartReceiver {
   public:
    Status OnPartBegin(const MultipartPart&) override { return Status::Ok(); }
    Status OnPartData(std::string_view) override { return Status::PayloadTooLarge("too big"); }
    Status OnPartEnd() override { return Status::Ok(); }
  } refuser;
  MultipartParser parser(kB, &refuser);
  Status status = parser.Feed(Part("", "some data") + Close());
  EXPECT_EQ(status.code(), Code::kPayloadTooLarge);
  EXPECT_EQ(parser.Feed("more").code(), Code::kPayloadTooLarge);
  EXPECT_EQ(parser.Finish().code(), Code::kPayloadTooLarge);
}

TEST(MultipartParserTest, HugePreambleIsNotBuffered) {
  Recorder recorder;
  MultipartParser parser(kB, &recorder, MultipartLimits{.max_part_header_bytes = 1024});
  for (int i = 0; i < 256; ++i) {
    ASSERT_TRUE(parser.Feed(std::string(65536, 'p')).ok());
  }
  ASSERT_TRUE(parser.Feed("\r\n" + Part("", "ok") + Close()).ok());
  ASSERT_TRUE(parser.Finish().ok());
  ASSERT_EQ(recorder.parts.size(), 1u);
  EXPECT_EQ(recorder.parts[0].data, "ok");
}

TEST(FormDataBoundaryTest, Table) {
  struct Row {
    std::optional<std::string> content_type;
    Code code;
    std::string boundary;
  };
  const std::vector<Row> rows = {
      {"multipart/form-data; boundary=abc", Code::kOk, "abc"},
      {"Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b'()+_,-./:=?\"", Code::kOk,
       "a b'()+_,-./:=?"},
      {"multipart/form-data;boundary=------------------------d74496d66958873e", Code::kOk,
       "------------------------d74496d66958873e"},
      {"multipart/form-data; boundary=" + std::string(70, 'b'), Code::kOk, std::string(70, 'b')},
      {std::nullopt, Code::kUnsupportedMedia, ""},
      {"", Code::kUnsupportedMedia, ""},
      {"application/octet-stream", Code::kUnsupportedMedia, ""},
      {"multipart/mixed; boundary=abc", Code::kUnsupportedMedia, ""},
      {"multipart/form-data", Code::kInvalidArgument, ""},
      {"multipart/form-data; boundary=", Code::kInvalidArgument, ""},
      {"multipart/form-data; boundary=\"\"", Code::kInvalidArgument, ""},
      {"multipart/form-data; boundary=" + std::string(71, 'b'), Code::kInvalidArgument, ""},
      {"multipart/form-data; boundary=\"ends with space \"", Code::kInvalidArgument, ""},
      {"multipart/form-data; boundary=a<b", Code::kInvalidArgument, ""},
      {"multipart/form-data; boundary=\"unterminated", Code::kInvalidArgument, ""},
  };
  for (const Row& row : rows) {
    Result<std::string> boundary = FormDataBoundary(row.content_type);
    SCOPED_TRACE(row.content_type.value_or("<absent>"));
    if (row.code == Code::kOk) {
      ASSERT_TRUE(boundary.ok()) << boundary.status().ToString();
      EXPECT_EQ(*boundary, row.boundary);
    } else {
      EXPECT_EQ(boundary.status().code(), row.code);
    }
  }
}

}  // namespace
}  // namespace vidmill::http
