#include "ftpalg/lprt_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framing_test_util.h"
#include "ftpalg/ftp_command.h"
#include "host_port_test_util.h"

namespace ftpalg {
namespace {

using test_util::AsGivenAndFramed;
using test_util::ExpectHostPort;
using test_util::FramedOnce;

// An LPRT argument as given, and as the engine gets it: "LPRT <argument>" framed byte by byte,
// then split by ParseCommandLine.
std::vector<std::string> LprtArguments(std::string_view argument) {
  const std::string framed = FramedOnce("LPRT " + std::string(argument));
  const CommandLine command = ParseCommandLine(framed);
  EXPECT_EQ(command.verb, CommandVerb::kLprt) << framed;
  return {std::string(argument), std::string(command.argument)};
}

Endpoint V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return Endpoint{IpAddress::V4(a, b, c, d), port};
}
Endpoint V6(std::string_view text, uint16_t port) {
  return Endpoint{*IpAddress::Parse(text), port};
}

constexpr std::string_view kV6Db8 = "6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,2,2,4,1";

struct ValidCase {
  std::string_view text;
  Family family;
  Endpoint endpoint;
  size_t begin;
  size_t end;
};

TEST(LprtArgumentTest, ValidForms) {
  const ValidCase cases[] = {
      {"4,4,192,0,2,2,2,4,1", Family::kIpv4, V4(192, 0, 2, 2, 1025), 0, 19},
      {"4,4,198,51,100,1,2,255,255", Family::kIpv4, V4(198, 51, 100, 1, 65535), 0, 26},
      {"004,004,1,2,3,4,002,0,1", Family::kIpv4, V4(1, 2, 3, 4, 1), 0, 23},  // leading zeros
      {"4,4,1,2,3,4,2,5,6   ", Family::kIpv4, V4(1, 2, 3, 4, 1286), 0, 17},  // trailing spaces
      {kV6Db8, Family::kIpv6, V6("2001:db8:1::2", 1025), 0, kV6Db8.size()},
  };
  for (const ValidCase& c : cases) {
    for (const std::string& argument : LprtArguments(c.text)) {
      SCOPED_TRACE(argument);
      const HostPortResult result = ParseLprtArgument(argument, c.family);
      ExpectHostPort(result, c.endpoint, c.begin, c.end);
    }
  }
}

struct ErrorCase {
  std::string_view text;
  ParseError error;
};

TEST(LprtArgumentTest, Errors) {
  const ErrorCase cases[] = {
      {"", ParseError::kMissingField},
      {"4", ParseError::kMissingField},
      {"4,4,192,0,2", ParseError::kMissingField},
      {"4,4,192,0,2,2,2,4", ParseError::kMissingField},
      {"4,4,192,0,2,2,2,4,", ParseError::kMissingField},
      {"4,4,192.0.2.2,2,4,1", ParseError::kMissingField},
      {"5,4,192,0,2,2,2,4,1", ParseError::kUnknownProtocol},  // af 4 or 6 only
      {"0,4,192,0,2,2,2,4,1", ParseError::kUnknownProtocol},
      {"4,16,192,0,2,2,2,4,1", ParseError::kBadAddress},  // hal must be the family's length
      {"6,4,192,0,2,2,2,4,1", ParseError::kBadAddress},
      {"4,4,192,0,2,2,3,0,4,1", ParseError::kPortRange},  // pal 2 only
      {"4,4,192,0,2,2,1,4", ParseError::kPortRange},
      {"4,4,192,0,2,2,2,4,1,7", ParseError::kTrailingGarbage},
      {"4,4,192,0,2,2,2,4,1 x", ParseError::kTrailingGarbage},
      {"4,4,192,0,2,2,2,4,1)", ParseError::kTrailingGarbage},
      {"4,4,192,0,2,2,2,4,1a", ParseError::kBadNumber},
      {"4,4,192,0,2,2,2,4,1000", ParseError::kBadNumber},
      {"a,4,192,0,2,2,2,4,1", ParseError::kBadNumber},
      {"4,4,-1,0,2,2,2,4,1", ParseError::kBadNumber},
      {" 4,4,192,0,2,2,2,4,1", ParseError::kBadNumber},
      {"4,,192,0,2,2,2,4,1", ParseError::kBadNumber},
      {"4,4,256,0,2,2,2,4,1", ParseError::kOctetRange},
      {"4,4,192,0,2,2,2,4,256", ParseError::kOctetRange},
      {"4,4,192,0,2,2,2,0,0", ParseError::kPortZero},
      {"6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,2,2,4,1", ParseError::kWrongFamily},
  };
  for (const ErrorCase& c : cases) {
    for (const std::string& argument : LprtArguments(c.text)) {
      SCOPED_TRACE(argument);
      EXPECT_EQ(ParseErrorName(ParseLprtArgument(argument, Family::kIpv4).error),
                ParseErrorName(c.error));
    }
  }
}

TEST(LprtArgumentTest, FamilyIsCheckedAfterTheSyntax) {
  // An IPv4 LPRT on an IPv6 control connection is a policy matter (wrong-family), but only once
  // it parses: garbage after it is still garbage.
  EXPECT_EQ(ParseLprtArgument("4,4,192,0,2,2,2,4,1", Family::kIpv6).error,
            ParseError::kWrongFamily);
  EXPECT_EQ(ParseLprtArgument("4,4,192,0,2,2,2,4,1 x", Family::kIpv6).error,
            ParseError::kTrailingGarbage);
}

TEST(LprtArgumentTest, FormatAndRoundTrip) {
  EXPECT_EQ(FormatLongHostPort(V4(198, 51, 100, 1, 1025)), "4,4,198,51,100,1,2,4,1");
  EXPECT_EQ(FormatLongHostPort(V6("2001:db8:1::2", 1025)), kV6Db8);
  for (const Endpoint& endpoint : {V4(192, 0, 2, 33, 50123), V6("2001:db8::ff:1", 40000)}) {
    for (const std::string& argument : LprtArguments(FormatLongHostPort(endpoint))) {
      const HostPortResult result = ParseLprtArgument(argument, endpoint.addr.family);
      ASSERT_TRUE(result.ok());
      EXPECT_EQ(result.value.endpoint, endpoint);
    }
  }
}

TEST(Reply228Test, ValidForms) {
  const ValidCase cases[] = {
      {"228 Entering Long Passive Mode (4,4,198,51,100,2,2,195,80)", Family::kIpv4,
       V4(198, 51, 100, 2, 50000), 32, 57},
      {"228 Entering Long Passive Mode (4,4,198,51,100,2,2,195,80).", Family::kIpv4,
       V4(198, 51, 100, 2, 50000), 32, 57},  // text after the numbers is ignored
      {"228 4,4,198,51,100,2,2,195,80", Family::kIpv4, V4(198, 51, 100, 2, 50000), 4, 29},
      {"228 Long Passive (6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,2,2,4,1)", Family::kIpv6,
       V6("2001:db8:1::2", 1025), 18, 18 + kV6Db8.size()},
  };
  for (const ValidCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.text)) {
      SCOPED_TRACE(line);
      const HostPortResult result = Parse228Reply(line, c.family);
      ExpectHostPort(result, c.endpoint, c.begin, c.end);
    }
  }
}

TEST(Reply228Test, Errors) {
  const ErrorCase cases[] = {
      {"228 Entering Long Passive Mode", ParseError::kNoAddress},
      {"228", ParseError::kNoAddress},
      {"228 (4,4,198,51,100,2)", ParseError::kMissingField},
      {"228 (7,4,198,51,100,2,2,195,80)", ParseError::kUnknownProtocol},
      {"228 (4,6,198,51,100,2,2,195,80)", ParseError::kBadAddress},
      {"228 (4,4,198,51,100,2,4,0,0,195,80)", ParseError::kPortRange},
      {"228 (4,4,198,51,100,2,2,0,0)", ParseError::kPortZero},
      {"228 (4,4,298,51,100,2,2,195,80)", ParseError::kOctetRange},
      {"228 (6,16,32,1,13,184,0,1,0,0,0,0,0,0,0,0,0,2,2,4,1)", ParseError::kWrongFamily},
  };
  for (const ErrorCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.text)) {
      SCOPED_TRACE(line);
      EXPECT_EQ(ParseErrorName(Parse228Reply(line, Family::kIpv4).error), ParseErrorName(c.error));
    }
  }
}

}  // namespace
}  // namespace ftpalg
