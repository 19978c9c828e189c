#include "http/client_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vidmill::http {
namespace {

TrustedProxies MustParse(std::string_view list) {
  Result<TrustedProxies> parsed = TrustedProxies::Parse(list);
  EXPECT_TRUE(parsed.ok()) << list << ": " << parsed.status().ToString();
  return parsed.ok() ? *parsed : TrustedProxies();
}

TEST(TrustedProxiesTest, ParsesValidLists) {
  struct Case {
    std::string list;
    std::string canonical;  // ToString()
  };
  const std::vector<Case> cases = {
      {"", ""},
      {" , ,", ""},
      {"127.0.0.1", "127.0.0.1/32"},
      {"127.0.0.1,10.0.0.0/8,::1", "127.0.0.1/32,10.0.0.0/8,::1/128"},
      {" 10.0.0.1 ,\t192.168.0.0/16, ", "10.0.0.1/32,192.168.0.0/16"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"10.1.2.3/32", "10.1.2.3/32"},
      {"10.1.2.2/31", "10.1.2.2/31"},
      {"10.0.0.0/08", "10.0.0.0/8"},
      {"2001:DB8::/32", "2001:db8::/32"},
      {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1/128"},
      {"fd00::/8,::/0", "fd00::/8,::/0"},
      {"2001:db8::1/128", "2001:db8::1/128"},
      // IPv4-mapped IPv6 entries mean the IPv4 address or range.
      {"::ffff:10.0.0.1", "10.0.0.1/32"},
      {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
      {"::ffff:0.0.0.0/96", "0.0.0.0/0"},
  };
  for (const Case& c : cases) {
    Result<TrustedProxies> parsed = TrustedProxies::Parse(c.list);
    ASSERT_TRUE(parsed.ok()) << "'" << c.list << "': " << parsed.status().ToString();
    EXPECT_EQ(parsed->ToString(), c.canonical) << c.list;
    EXPECT_EQ(parsed->empty(), c.canonical.empty()) << c.list;
  }
}

TEST(TrustedProxiesTest, RefusesInvalidEntriesNamingThem) {
  struct Case {
    std::string list;
    std::string entry;  // the entry the message must name
    std::string why;    // a part of the message
  };
  const std::vector<Case> cases = {
      {"localhost", "localhost", "not an IP address"},
      {"127.0.0.1,proxy.internal", "proxy.internal", "not an IP address"},
      {"10.0.0.0/8;10.1.0.0/16", "10.0.0.0/8;10.1.0.0/16", "prefix length"},
      {"10.0.0", "10.0.0", "not an IP address"},
      {"127.1", "127.1", "not an IP address"},
      {"010.0.0.1", "010.0.0.1", "not an IP address"},
      {"256.0.0.1", "256.0.0.1", "not an IP address"},
      {"1.2.3.4:8080", "1.2.3.4:8080", "not an IP address"},
      {"[::1]", "[::1]", "not an IP address"},
      {"2001:db8:::1", "2001:db8:::1", "not an IP address"},
      {"10.0.0.0/33", "10.0.0.0/33", "longer than 32 bits"},
      {"::/129", "::/129", "longer than 128 bits"},
      {"10.0.0.0/", "10.0.0.0/", "prefix length"},
      {"10.0.0.0/-1", "10.0.0.0/-1", "prefix length"},
      {"10.0.0.0/+8", "10.0.0.0/+8", "prefix length"},
      {"10.0.0.0/8/8", "10.0.0.0/8/8", "prefix length"},
      {"10.0.0.0/ 8", "10.0.0.0/ 8", "prefix length"},
      {"10.0.0.0/1000", "10.0.0.0/1000", "prefix length"},
      {"/8", "/8", "not an IP address"},
      {"10.0.0.1/8", "10.0.0.1/8", "the range is 10.0.0.0/8"},
      {"192.168.1.1/31", "192.168.1.1/31", "the range is 192.168.1.0/31"},
      {"2001:db8::1/64", "2001:db8::1/64", "the range is 2001:db8::/64"},
      {"::ffff:10.0.0.0/80", "::ffff:10.0.0.0/80", "bits set past its prefix"},
      {"fe80::1%eth0", "fe80::1%eth0", "zone id"},
  };
  for (const Case& c : cases) {
    Result<TrustedProxies> parsed = TrustedProxies::Parse(c.list);
    ASSERT_FALSE(parsed.ok()) << "'" << c.list << "' was accepted as " << parsed->ToString();
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("'" + c.entry + "'"), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find(c.why), std::string::npos)
        << parsed.status().message();
  }
}

TEST(TrustedProxiesTest, ContainsAddressesInItsRangesOnly) {
  TrustedProxies trusted =
      MustParse("127.0.0.1,10.0.0.0/8,192.168.4.0/23,172.16.0.0/12,::1,2001:db8:a::/48");
  struct Case {
    std::string address;
    bool contained;
  };
  const std::vector<Case> cases = {
      {"127.0.0.1", true},
      {"127.0.0.2", false},
      {"10.0.0.0", true},
      {"10.255.255.255", true},
      {"11.0.0.0", false},
      {"9.255.255.255", false},
      {"192.168.4.0", true},
      {"192.168.5.255", true},
      {"192.168.6.0", false},
      {"192.168.3.255", false},
      {"172.16.0.1", true},
      {"172.31.255.255", true},
      {"172.32.0.0", false},
      {"::1", true},
      {"0:0:0:0:0:0:0:1", true},
      {"::2", false},
      {"2001:db8:a::1", true},
      {"2001:DB8:A:FFFF:FFFF:FFFF:FFFF:FFFF", true},
      {"2001:db8:b::1", false},
      // The same IPv4 host seen through a dual-stack socket.
      {"::ffff:10.1.2.3", true},
      {"::ffff:127.0.0.1", true},
      {"::ffff:11.1.2.3", false},
      // An IPv6 range never matches IPv4, and the other way round.
      {"::a00:1", false},  // 10.0.0.1's bits as a plain IPv6 address
      // A zone id from the socket does not change which host it is.
      {"::1%lo", true},
      // Not addresses.
      {"", false},
      {"localhost", false},
      {"10.0.0.1:80", false},
      {"10.0.0.1 ", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(trusted.Contains(c.address), c.contained) << c.address;
  }
  EXPECT_FALSE(TrustedProxies().Contains("127.0.0.1"));
  EXPECT_TRUE(MustParse("0.0.0.0/0").Contains("203.0.113.5"));
  EXPECT_FALSE(MustParse("0.0.0.0/0").Contains("2001:db8::1"));
  EXPECT_TRUE(MustParse("::/0").Contains("2001:db8::1"));
  EXPECT_FALSE(MustParse("::/0").Contains("203.0.113.5"));
  EXPECT_TRUE(MustParse("::ffff:10.0.0.0/104").Contains("10.9.8.7"));
}

TEST(CanonicalAddressTest, OneFormPerAddress) {
  struct Case {
    std::string text;
    std::optional<std::string> canonical;
  };
  const std::vector<Case> cases = {
      {"203.0.113.5", "203.0.113.5"},
      {"::ffff:203.0.113.5", "203.0.113.5"},
      {"::FFFF:cb00:7105", "203.0.113.5"},
      {"0:0:0:0:0:ffff:203.0.113.5", "203.0.113.5"},
      {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
      {"2001:db8::0:1", "2001:db8::1"},
      {"::1", "::1"},
      {"", std::nullopt},
      {" 203.0.113.5", std::nullopt},
      {"203.0.113.5:443", std::nullopt},
      {"[2001:db8::1]", std::nullopt},
      {"[2001:db8::1]:443", std::nullopt},
      {"fe80::1%eth0", std::nullopt},
      {"unknown", std::nullopt},
      {"203.0.113", std::nullopt},
      {"203.0.113.5.6", std::nullopt},
      {"0x7f.0.0.1", std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(CanonicalAddress(c.text), c.canonical) << c.text;
  }
}

TEST(ClientAddressTest, Table) {
  TrustedProxies trusted = MustParse("127.0.0.1,10.0.0.0/8,::1");
  TrustedProxies nobody;
  struct Case {
    std::string name;
    const TrustedProxies* trusted;
    std::string peer;
    std::vector<std::string> forwarded_for;  // header lines
    std::string client;
  };
  const std::vector<Case> cases = {
      // No trusted proxies: the peer, whatever the header says.
      {"nobody trusted", &nobody, "127.0.0.1", {"203.0.113.5"}, "127.0.0.1"},
      {"nobody trusted, no header", &nobody, "198.51.100.7", {}, "198.51.100.7"},
      // An untrusted peer cannot choose its address.
      {"untrusted peer", &trusted, "198.51.100.7", {"203.0.113.5"}, "198.51.100.7"},
      {"untrusted peer claiming a trusted hop",
       &trusted,
       "198.51.100.7",
       {"203.0.113.5, 10.0.0.1"},
       "198.51.100.7"},
      // A trusted peer: its last entry is the client.
      {"trusted peer", &trusted, "127.0.0.1", {"203.0.113.5"}, "203.0.113.5"},
      {"trusted peer, spaces", &trusted, "127.0.0.1", {"  203.0.113.5 \t"}, "203.0.113.5"},
      {"trusted IPv6 peer", &trusted, "::1", {"2001:DB8::5"}, "2001:db8::5"},
      {"trusted peer via dual-stack socket",
       &trusted,
       "::ffff:10.1.1.1",
       {"203.0.113.5"},
       "203.0.113.5"},
      // Entries left of the client were written by the client: not believed.
      {"spoofed entries on the left",
       &trusted,
       "127.0.0.1",
       {"1.1.1.1, 2.2.2.2, 203.0.113.5"},
       "203.0.113.5"},
      {"garbage on the left", &trusted, "127.0.0.1", {"garbage, 203.0.113.5"}, "203.0.113.5"},
      // Chains of trusted proxies are skipped, right to left.
      {"chain", &trusted, "10.0.0.2", {"203.0.113.5, 10.0.0.1"}, "203.0.113.5"},
      {"longer chain",
       &trusted,
       "127.0.0.1",
       {"198.51.100.1, 203.0.113.5, 10.2.0.1, 10.0.0.1, ::1"},
       "203.0.113.5"},
      {"every hop trusted", &trusted, "127.0.0.1", {"10.0.0.9, 10.0.0.1"}, "10.0.0.9"},
      // Several header lines form one list, in order.
      {"two lines", &trusted, "127.0.0.1", {"198.51.100.1", "203.0.113.5"}, "203.0.113.5"},
      {"two lines, trusted last",
       &trusted,
       "127.0.0.1",
       {"203.0.113.5", "10.0.0.1"},
       "203.0.113.5"},
      // Absent, empty or unusable: the peer.
      {"no header", &trusted, "127.0.0.1", {}, "127.0.0.1"},
      {"empty header", &trusted, "127.0.0.1", {""}, "127.0.0.1"},
      {"only commas", &trusted, "127.0.0.1", {" , ,"}, "127.0.0.1"},
      {"empty elements skipped", &trusted, "127.0.0.1", {"203.0.113.5,,"}, "203.0.113.5"},
      {"garbage", &trusted, "127.0.0.1", {"unknown"}, "127.0.0.1"},
      {"with port", &trusted, "127.0.0.1", {"203.0.113.5:51000"}, "127.0.0.1"},
      {"bracketed", &trusted, "127.0.0.1", {"[2001:db8::5]"}, "127.0.0.1"},
      {"zone id", &trusted, "127.0.0.1", {"fe80::1%eth0"}, "127.0.0.1"},
      {"garbage behind a trusted hop",
       &trusted,
       "127.0.0.1",
       {"203.0.113.5, garbage, 10.0.0.1"},
       "127.0.0.1"},
      {"injection attempt", &trusted, "127.0.0.1", {"203.0.113.5\r\nX: y"}, "127.0.0.1"},
      // Normalised, so one client is one key.
      {"mapped client", &trusted, "127.0.0.1", {"::ffff:203.0.113.5"}, "203.0.113.5"},
      {"mapped peer, untrusted", &trusted, "::ffff:198.51.100.7", {}, "198.51.100.7"},
      {"mapped peer, nobody trusted", &nobody, "::ffff:198.51.100.7", {}, "198.51.100.7"},
      {"mapped trusted hop skipped",
       &trusted,
       "127.0.0.1",
       {"203.0.113.5, ::ffff:10.0.0.1"},
       "203.0.113.5"},
      {"peer with a zone id", &nobody, "fe80::1%2", {}, "fe80::1%2"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClientAddress(c.peer, c.forwarded_for, *c.trusted), c.client) << c.name;
  }
}

TEST(ForwardedForNodesTest, Table) {
  struct Case {
    std::string name;
    std::vector<std::string> forwarded;  // header lines
    std::vector<std::string> nodes;
  };
  const std::vector<Case> cases = {
      {"IPv4", {"for=192.0.2.60"}, {"192.0.2.60"}},
      {"RFC 7239 example", {"for=192.0.2.60;proto=http;by=203.0.113.43"}, {"192.0.2.60"}},
      {"parameter names any case, spaces", {" For = 192.0.2.60 ; proto=https"}, {"192.0.2.60"}},
      {"quoted IPv6 with a port", {"for=\"[2001:db8:cafe::17]:4711\""}, {"2001:db8:cafe::17"}},
      {"quoted IPv6", {"for=\"[2001:db8::5]\""}, {"2001:db8::5"}},
      {"IPv4 with a port", {"for=\"192.0.2.43:47011\""}, {"192.0.2.43"}},
      {"several elements and lines",
       {"for=192.0.2.43, for=198.51.100.17", "for=10.0.0.1"},
       {"192.0.2.43", "198.51.100.17", "10.0.0.1"}},
      {"empty elements skipped", {"for=192.0.2.43,,"}, {"192.0.2.43"}},
      {"quoted separators stay inside", {"for=\"_a;b,c\";proto=http"}, {"unknown"}},
      {"no for parameter", {"proto=https;by=10.0.0.1"}, {"unknown"}},
      {"unknown node", {"for=unknown"}, {"unknown"}},
      {"obfuscated node", {"for=_hidden"}, {"_hidden"}},
      {"empty node", {"for=\"\""}, {"unknown"}},
      {"bracket not closed", {"for=\"[2001:db8::5\""}, {"[2001:db8::5"}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ForwardedForNodes(c.forwarded), c.nodes) << c.name;
  }

  // Through ClientAddress: trusted hops are skipped right to left, and an
  // unknown node behind a trusted hop stops the walk at the peer.
  TrustedProxies trusted = MustParse("127.0.0.1,10.0.0.0/8");
  EXPECT_EQ(ClientAddress("127.0.0.1",
                          ForwardedForNodes({"for=1.1.1.1, for=\"203.0.113.5:4711\";proto=https",
                                             "for=10.0.0.1;by=127.0.0.1"}),
                          trusted),
            "203.0.113.5");
  EXPECT_EQ(
      ClientAddress("127.0.0.1", ForwardedForNodes({"for=203.0.113.5, for=unknown"}), trusted),
      "127.0.0.1");
  EXPECT_EQ(ClientAddress("198.51.100.7", ForwardedForNodes({"for=203.0.113.5"}), trusted),
            "198.51.100.7");
}

}  // namespace
}  // namespace vidmill::http
