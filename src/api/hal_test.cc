// HAL paging helpers: query parsing (table-driven), anchors, link building.

#include "api/hal.h"

#include <gtest/gtest.h>

#include "common/ids.h"

namespace vidmill::api {
namespace {

http::Request RequestWithQuery(std::map<std::string, std::string> query) {
  http::Request request;
  request.base_url = "http://example.test:8080";
  request.query = std::move(query);
  return request;
}

TEST(ParsePageRequestTest, Table) {
  const std::string id = NewId();
  struct Case {
    std::map<std::string, std::string> query;
    bool ok;
    int64_t page;
    int64_t page_size;
    std::string error_part;
  };
  const std::vector<Case> cases = {
      {{}, true, 1, 20, ""},
      {{{"page", "3"}}, true, 3, 20, ""},
      {{{"page-size", "100"}}, true, 1, 100, ""},
      {{{"page", "007"}, {"page-size", "1"}}, true, 7, 1, ""},
      {{{"page", "0"}}, false, 0, 0, "page must be"},
      {{{"page", "-2"}}, false, 0, 0, "page must be"},
      {{{"page", "two"}}, false, 0, 0, "page must be"},
      {{{"page", ""}}, false, 0, 0, "page must be"},
      {{{"page", " 1"}}, false, 0, 0, "page must be"},
      {{{"page", "1e2"}}, false, 0, 0, "page must be"},
      {{{"page", "+1"}}, false, 0, 0, "page must be"},
      {{{"page", "92233720368547758070"}}, false, 0, 0, "page must be"},
      {{{"page", "1000000001"}}, false, 0, 0, "page must be"},
      {{{"page-size", "0"}}, false, 0, 0, "page-size must be"},
      {{{"page-size", "101"}}, false, 0, 0, "page-size must be"},
      {{{"page-size", "-1"}}, false, 0, 0, "page-size must be"},
      {{{"page-size", "ten"}}, false, 0, 0, "page-size must be"},
      {{{"anchor", "5." + id}}, true, 1, 20, ""},
      {{{"anchor", "5"}}, false, 0, 0, "anchor"},
      {{{"anchor", "-5." + id}}, false, 0, 0, "anchor"},
      {{{"anchor", "x." + id}}, false, 0, 0, "anchor"},
      {{{"anchor", "5.not-an-id"}}, false, 0, 0, "anchor"},
  };
  for (const Case& c : cases) {
    std::string label;
    for (const auto& [k, v] : c.query) label += k + "=" + v + "&";
    Result<videos::PageRequest> got = ParsePageRequest(RequestWithQuery(c.query));
    ASSERT_EQ(got.ok(), c.ok) << label << " " << got.status().ToString();
    if (c.ok) {
      EXPECT_EQ(got->page, c.page) << label;
      EXPECT_EQ(got->page_size, c.page_size) << label;
    } else {
      EXPECT_EQ(got.status().code(), Code::kInvalidArgument) << label;
      EXPECT_NE(got.status().message().find(c.error_part), std::string::npos)
          << label << ": " << got.status().message();
    }
  }
}

TEST(AnchorTest, RoundTrips) {
  videos::ListAnchor anchor{1'700'000'000'123, NewId()};
  Result<videos::ListAnchor> back = DecodeAnchor(EncodeAnchor(anchor));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->created_at, anchor.created_at);
  EXPECT_EQ(back->id, anchor.id);
}

TEST(EncodeQueryComponentTest, EscapesAllButUnreserved) {
  EXPECT_EQ(EncodeQueryComponent("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(EncodeQueryComponent("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

TEST(HalPageTest, LinksKeepOtherParametersAndOnlyExistWhereTheyShould) {
  videos::ListAnchor anchor{42, NewId()};
  http::Request request = RequestWithQuery(
      {{"project-id", "p 1"}, {"page", "2"}, {"page-size", "5"}, {"anchor", "old"}});
  videos::PageRequest page_request{2, 5, anchor};
  boost::json::object doc =
      HalPage(request, "/videos/v1/videos", page_request, 3, anchor, "videos", {});
  EXPECT_EQ(doc["page"], 2);
  EXPECT_EQ(doc["pageSize"], 5);
  EXPECT_TRUE(doc["_embedded"].at("videos").as_array().empty());
  const auto& links = doc["_links"].as_object();
  std::string tail = "&page-size=5&anchor=42." + anchor.id;
  std::string base = "http://example.test:8080/videos/v1/videos?project-id=p%201&page=";
  EXPECT_EQ(links.at("self").at("href").as_string(), base + "2" + tail);
  EXPECT_EQ(links.at("first").at("href").as_string(), base + "1" + tail);
  EXPECT_EQ(links.at("previous").at("href").as_string(), base + "1" + tail);
  EXPECT_EQ(links.at("next").at("href").as_string(), base + "3" + tail);
  EXPECT_EQ(links.at("last").at("href").as_string(), base + "3" + tail);

  // First page of one: no previous, no next.
  boost::json::object single =
      HalPage(RequestWithQuery({}), "/p", videos::PageRequest{1, 20, {}}, 1, std::nullopt, "x", {});
  EXPECT_FALSE(single["_links"].as_object().contains("previous"));
  EXPECT_FALSE(single["_links"].as_object().contains("next"));
  EXPECT_EQ(single["_links"].at("self").at("href").as_string(),
            "http://example.test:8080/p?page=1&page-size=20");

  // Past the end: previous points at the last page.
  boost::json::object beyond =
      HalPage(RequestWithQuery({}), "/p", videos::PageRequest{7, 20, {}}, 2, std::nullopt, "x", {});
  EXPECT_EQ(beyond["_links"].at("previous").at("href").as_string(),
            "http://example.test:8080/p?page=2&page-size=20");
  EXPECT_FALSE(beyond["_links"].as_object().contains("next"));
}

}  // namespace
}  // namespace vidmill::api
