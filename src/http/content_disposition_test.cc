#include "http/content_disposition.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vidmill::http {
namespace {

TEST(AttachmentDispositionTest, Table) {
  struct Case {
    std::string filename;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"tape 03.mov", "attachment; filename=\"tape 03.mov\"; filename*=UTF-8''tape%2003.mov"},
      {"tape 03_processed.mov",
       "attachment; filename=\"tape 03_processed.mov\"; filename*=UTF-8''tape%2003_processed.mov"},
      // Non-ASCII: '_' in the fallback, the real name in filename*.
      {"\xC3\xA9t\xC3\xA9 \xE2\x82\xAC.mp4",
       "attachment; filename=\"_t_ _.mp4\"; filename*=UTF-8''%C3%A9t%C3%A9%20%E2%82%AC.mp4"},
      // Quotes, backslashes, percent and semicolons never reach the quoted form.
      {"a\"b;c%d.mp4", "attachment; filename=\"a_b_c_d.mp4\"; filename*=UTF-8''a%22b%3Bc%25d.mp4"},
      // Only the last path component; a leading dot is neutralised.
      {"../../etc/passwd", "attachment; filename=\"passwd\"; filename*=UTF-8''passwd"},
      {"C:\\Users\\me\\clip.mp4", "attachment; filename=\"clip.mp4\"; filename*=UTF-8''clip.mp4"},
      {".hidden", "attachment; filename=\"_hidden\"; filename*=UTF-8''.hidden"},
      {"..", "attachment; filename=\"download\"; filename*=UTF-8''download"},
      {"dir/", "attachment; filename=\"download\"; filename*=UTF-8''download"},
      {"", "attachment; filename=\"download\"; filename*=UTF-8''download"},
      // Control characters and NUL become '_'.
      {std::string("a\0b\r\nc\x7f.mp4", 11),
       "attachment; filename=\"a_b__c_.mp4\"; filename*=UTF-8''a_b__c_.mp4"},
      // Invalid UTF-8 becomes U+FFFD.
      {"bad\xff\xfe.mp4",
       "attachment; filename=\"bad__.mp4\"; filename*=UTF-8''bad%EF%BF%BD%EF%BF%BD.mp4"},
      {"\xC0\xAF.mp4",  // overlong '/'
       "attachment; filename=\"__.mp4\"; filename*=UTF-8''%EF%BF%BD%EF%BF%BD.mp4"},
      // Marks that reorder the shown text (U+202E would show "exe.mp3") become '_'.
      {"\xE2\x80\xAE"
       "3pm.exe",
       "attachment; filename=\"_3pm.exe\"; filename*=UTF-8''_3pm.exe"},
      {"a\xE2\x81\xA6"
       "b\xE2\x80\x8F"
       "c\xD8\x9C.mp4",
       "attachment; filename=\"a_b_c_.mp4\"; filename*=UTF-8''a_b_c_.mp4"},
      // Other three-byte characters beside them are kept.
      {"\xE2\x80\x94.mp4", "attachment; filename=\"_.mp4\"; filename*=UTF-8''%E2%80%94.mp4"},
  };
  for (const Case& c : cases) {
    std::string value = AttachmentDisposition(c.filename);
    EXPECT_EQ(value, c.expected) << "for '" << c.filename << "'";
    for (char ch : value) {
      unsigned char u = static_cast<unsigned char>(ch);
      ASSERT_TRUE(u >= 0x20 && u < 0x7F) << "header value must be printable ASCII: " << value;
    }
  }
}

TEST(ParameterizedValueTest, Table) {
  struct Case {
    std::string input;
    bool ok;
    std::string token;
    std::vector<std::pair<std::string, std::string>> parameters;
  };
  const std::vector<Case> cases = {
      {"form-data; name=\"file\"; filename=\"a b.mp4\"",
       true,
       "form-data",
       {{"name", "file"}, {"filename", "a b.mp4"}}},
      {"Form-Data;NAME=file ; filename=x.mp4",
       true,
       "form-data",
       {{"name", "file"}, {"filename", "x.mp4"}}},
      {"text/plain", true, "text/plain", {}},
      {"a; b=\"x;y\"; c=\"q\\\"\\\\\"", true, "a", {{"b", "x;y"}, {"c", "q\"\\"}}},
      {"a; b=\"C:\\dir\\f\"", true, "a", {{"b", "C:\\dir\\f"}}},
      {"a;;b=1;", true, "a", {{"b", "1"}}},
      {"", false, "", {}},
      {"; b=1", false, "", {}},
      {"a; b", false, "", {}},
      {"a; =1", false, "", {}},
      {"a; b=\"open", false, "", {}},
      {"a; b=\"x\"junk", false, "", {}},
      {std::string("a; b=\"x\0\"", 9), false, "", {}},
      {"a; b=\"x\r\ny\"", false, "", {}},
  };
  for (const Case& c : cases) {
    Result<ParameterizedValue> parsed = ParseParameterizedValue(c.input);
    EXPECT_EQ(parsed.ok(), c.ok) << c.input;
    if (parsed.ok() && c.ok) {
      EXPECT_EQ(parsed->token, c.token) << c.input;
      EXPECT_EQ(parsed->parameters, c.parameters) << c.input;
    }
  }
}

TEST(DecodeExtValueTest, Table) {
  struct Case {
    std::string input;
    bool ok;
    std::string output;
  };
  const std::vector<Case> cases = {
      {"UTF-8''%e2%82%ac%20rates", true, "\xE2\x82\xAC rates"},
      {"utf-8'en'a.mp4", true, "a.mp4"},
      {"iso-8859-1''%A3", true, "\xC2\xA3"},
      {"UTF-8''%ff", false, ""},  // not UTF-8
      {"UTF-8''%4", false, ""},   // truncated escape
      {"UTF-8''%zz", false, ""},
      {"UTF-8''a b", false, ""},  // space is not an attr-char
      {"koi8-r''abc", false, ""},
      {"no quotes", false, ""},
      {"UTF-8'only-one", false, ""},
  };
  for (const Case& c : cases) {
    Result<std::string> decoded = DecodeExtValue(c.input);
    EXPECT_EQ(decoded.ok(), c.ok) << c.input;
    if (decoded.ok() && c.ok) {
      EXPECT_EQ(*decoded, c.output) << c.input;
    }
  }
}

}  // namespace
}  // namespace vidmill::http
