#include "ftpalg/eprt_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "framing_test_util.h"
#include "ftpalg/ftp_command.h"

namespace ftpalg {
namespace {

using test_util::AsGivenAndFramed;
using test_util::FramedOnce;

// An EPRT argument as given, and as the engine gets it: "EPRT <argument>" framed byte by byte.
std::vector<std::string> EprtArguments(std::string_view argument) {
  const std::string framed = FramedOnce("EPRT " + std::string(argument));
  const CommandLine command = ParseCommandLine(framed);
  EXPECT_EQ(command.verb, CommandVerb::kEprt) << framed;
  return {std::string(argument), std::string(command.argument)};
}

IpAddress Addr(std::string_view text) {
  std::optional<IpAddress> addr = IpAddress::Parse(text);
  EXPECT_TRUE(addr.has_value()) << text;
  return addr.value_or(IpAddress{});
}

template <typename Span>
std::string Rewrite(std::string_view text, const Span& span, const std::string& with) {
  return std::string(text.substr(0, span.begin)) + with + std::string(text.substr(span.end));
}

struct ValidCase {
  std::string_view text;
  Family control;
  std::string_view address;
  uint16_t port;
  size_t end;  // begin is always 1
};

TEST(EprtArgumentTest, ValidForms) {
  const ValidCase cases[] = {
      // RFC 2428 2 examples.
      {"|1|132.235.1.2|6275|", Family::kIpv4, "132.235.1.2", 6275, 19},
      {"|2|1080::8:800:200C:417A|5282|", Family::kIpv6, "1080::8:800:200c:417a", 5282, 29},
      {"!1!192.0.2.1!1025!", Family::kIpv4, "192.0.2.1", 1025, 17},
      {"~1~192.0.2.1~1~", Family::kIpv4, "192.0.2.1", 1, 14},
      {"|1|192.0.2.1|65535|", Family::kIpv4, "192.0.2.1", 65535, 18},
      {"|1|192.0.2.1|01025|", Family::kIpv4, "192.0.2.1", 1025, 18},
      {"|1|192.0.2.1|1025|  ", Family::kIpv4, "192.0.2.1", 1025, 17},
      {"|2|::ffff:192.0.2.1|1025|", Family::kIpv6, "::ffff:192.0.2.1", 1025, 24},
      {"|2|2001:db8::1|21|", Family::kIpv6, "2001:db8::1", 21, 17},
  };
  for (const ValidCase& c : cases) {
    for (const std::string& argument : EprtArguments(c.text)) {
      SCOPED_TRACE(argument);
      const HostPortResult result = ParseEprtArgument(argument, c.control);
      ASSERT_TRUE(result.ok()) << ParseErrorName(result.error);
      EXPECT_EQ(result.value.endpoint.addr, Addr(c.address));
      EXPECT_EQ(result.value.endpoint.port, c.port);
      EXPECT_EQ(result.value.begin, 1u);
      EXPECT_EQ(result.value.end, c.end);
      EXPECT_EQ(EprtDelimiter(argument), argument[0]);
    }
  }
}

struct ErrorCase {
  std::string_view text;
  ParseError error;
  Family control = Family::kIpv4;
};

TEST(EprtArgumentTest, Errors) {
  const ErrorCase cases[] = {
      {"", ParseError::kMissingField},
      {"|", ParseError::kMissingField},
      {"|1|", ParseError::kMissingField},
      {"|1|192.0.2.1|", ParseError::kMissingField},
      {"||192.0.2.1|1025|", ParseError::kMissingField},
      {"|1||1025|", ParseError::kMissingField},
      {"|1|192.0.2.1||", ParseError::kMissingField},
      {"1|1|192.0.2.1|1025|", ParseError::kBadDelimiter},  // a digit cannot be the delimiter
      {" |1|192.0.2.1|1025|", ParseError::kBadDelimiter},
      {"\x7f"
       "1\x7f"
       "192.0.2.1\x7f"
       "1025\x7f",
       ParseError::kBadDelimiter},
      {"\t1\t192.0.2.1\t1025\t", ParseError::kBadDelimiter},
      {"|1|192.0.2.1|1025", ParseError::kBadDelimiter},
      {"|1|192.0.2.1!1025!", ParseError::kBadDelimiter},
      {"|1", ParseError::kBadDelimiter},
      {"|3|192.0.2.1|1025|", ParseError::kUnknownProtocol},
      {"|01|192.0.2.1|1025|", ParseError::kUnknownProtocol},
      {"|x|192.0.2.1|1025|", ParseError::kUnknownProtocol},
      {"|1|::1|1025|", ParseError::kBadAddress},
      {"|2|192.0.2.1|1025|", ParseError::kBadAddress, Family::kIpv6},
      {"|1|192.0.2|1025|", ParseError::kBadAddress},
      {"|1|192.0.2.256|1025|", ParseError::kBadAddress},
      {"|1| 192.0.2.1|1025|", ParseError::kBadAddress},
      {"|1|example.com|1025|", ParseError::kBadAddress},
      {"|2|fe80::1%eth0|1025|", ParseError::kBadAddress, Family::kIpv6},
      {"|2|1::2::3|1025|", ParseError::kBadAddress, Family::kIpv6},
      {"|1|192.0.2.1|0|", ParseError::kPortZero},
      {"|1|192.0.2.1|00000|", ParseError::kPortZero},
      {"|1|192.0.2.1|65536|", ParseError::kPortRange},
      {"|1|192.0.2.1|99999|", ParseError::kPortRange},
      {"|1|192.0.2.1|123456|", ParseError::kBadNumber},
      {"|1|192.0.2.1|000001|", ParseError::kBadNumber},
      {"|1|192.0.2.1|12a|", ParseError::kBadNumber},
      {"|1|192.0.2.1|-1|", ParseError::kBadNumber},
      {"|1|192.0.2.1| 1025|", ParseError::kBadNumber},
      {"|1|192.0.2.1|1025|x", ParseError::kTrailingGarbage},
      {"|1|192.0.2.1|1025||", ParseError::kTrailingGarbage},
      {"|1|192.0.2.1|1025| |", ParseError::kTrailingGarbage},
      {"|2|2001:db8::1|1025|", ParseError::kWrongFamily, Family::kIpv4},
      {"|1|192.0.2.1|1025|", ParseError::kWrongFamily, Family::kIpv6},
  };
  for (const ErrorCase& c : cases) {
    for (const std::string& argument : EprtArguments(c.text)) {
      SCOPED_TRACE(argument);
      EXPECT_EQ(ParseErrorName(ParseEprtArgument(argument, c.control).error),
                ParseErrorName(c.error));
    }
  }
}

TEST(EprtArgumentTest, Delimiter) {
  struct Case {
    std::string_view argument;
    std::optional<char> delimiter;
  };
  const Case cases[] = {
      {"|1|192.0.2.1|1025|", '|'},
      {"!", '!'},
      {"~x", '~'},
      {"", std::nullopt},
      {"1|", std::nullopt},
      {" |", std::nullopt},
      {"\x7f", std::nullopt},
      {"\x80", std::nullopt},
  };
  for (const Case& c : cases) {
    for (const std::string& argument : EprtArguments(c.argument)) {
      SCOPED_TRACE(argument);
      EXPECT_EQ(EprtDelimiter(argument), c.delimiter);
    }
  }
}

TEST(EprtArgumentTest, RewritingTheSpanKeepsTheRestOfTheLine) {
  for (const std::string& line : AsGivenAndFramed("EPRT !1!10.0.0.1!40000! ")) {
    const CommandLine command = ParseCommandLine(line);
    const HostPortResult result = ParseEprtArgument(command.argument, Family::kIpv4);
    ASSERT_TRUE(result.ok());
    HostPortText in_line = result.value;
    in_line.begin += command.argument_offset;
    in_line.end += command.argument_offset;
    const char delimiter = EprtDelimiter(command.argument).value_or('|');
    EXPECT_EQ(Rewrite(line, in_line, FormatEprtFields(result.value.endpoint, delimiter)), line);
    const Endpoint outside{IpAddress::V4(203, 0, 113, 9), 1025};
    EXPECT_EQ(Rewrite(line, in_line, FormatEprtFields(outside, delimiter)),
              "EPRT !1!203.0.113.9!1025! ");
  }
  for (const std::string& line : AsGivenAndFramed("EPRT |2|2001:db8::5|6000|")) {
    const CommandLine command = ParseCommandLine(line);
    const HostPortResult result = ParseEprtArgument(command.argument, Family::kIpv6);
    ASSERT_TRUE(result.ok());
    HostPortText in_line = result.value;
    in_line.begin += command.argument_offset;
    in_line.end += command.argument_offset;
    EXPECT_EQ(Rewrite(line, in_line, FormatEprtFields(result.value.endpoint, '|')), line);
  }
}

TEST(EprtArgumentTest, Format) {
  EXPECT_EQ(FormatEprtFields({IpAddress::V4(198, 51, 100, 1), 1025}, '|'), "1|198.51.100.1|1025");
  EXPECT_EQ(FormatEprtFields({Addr("2001:db8::1"), 21}, '!'), "2!2001:db8::1!21");
  EXPECT_EQ(FormatEprtFields({Addr("2001:db8:0:0:1:0:0:1"), 65535}, '|'),
            "2|2001:db8::1:0:0:1|65535");
}

struct Valid229 {
  std::string_view text;
  uint16_t port;
  size_t begin;
  size_t end;
};

TEST(Reply229Test, ValidForms) {
  const Valid229 cases[] = {
      {"229 Entering Extended Passive Mode (|||6446|)", 6446, 39, 43},
      {"229 Entering Extended Passive Mode (|||6446|).", 6446, 39, 43},
      {"229 (!!!1!)", 1, 8, 9},
      {"229 (|||65535|)", 65535, 8, 13},
      {"229 ok (~~~01025~) bye", 1025, 11, 16},
  };
  for (const Valid229& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.text)) {
      SCOPED_TRACE(line);
      const PortResult result = Parse229Reply(line);
      ASSERT_TRUE(result.ok()) << ParseErrorName(result.error);
      EXPECT_EQ(result.value.port, c.port);
      EXPECT_EQ(result.value.begin, c.begin);
      EXPECT_EQ(result.value.end, c.end);
    }
  }
}

TEST(Reply229Test, Errors) {
  const ErrorCase cases[] = {
      {"", ParseError::kNoAddress},
      {"229", ParseError::kNoAddress},
      {"229 Entering Extended Passive Mode", ParseError::kNoAddress},
      {"229 Entering Extended Passive Mode |||6446|", ParseError::kNoAddress},
      {"229 (", ParseError::kBadDelimiter},
      {"229 (||6446|)", ParseError::kBadDelimiter},
      {"229 (|!|6446|)", ParseError::kBadDelimiter},
      {"229 (|||6446)", ParseError::kBadDelimiter},
      {"229 (|||6446|", ParseError::kBadDelimiter},
      {"229 (|||6446", ParseError::kBadDelimiter},
      {"229 (|||6446!)", ParseError::kBadDelimiter},
      {"229 (|||6446|x", ParseError::kBadDelimiter},
      {"229 (11164461)", ParseError::kBadDelimiter},
      {"229 ( |||6446|)", ParseError::kBadDelimiter},
      {"229 (|1|192.0.2.1|6446|)", ParseError::kBadDelimiter},
      {"229 (|||)", ParseError::kMissingField},
      {"229 (||||)", ParseError::kMissingField},
      {"229 (|||x|)", ParseError::kBadNumber},
      {"229 (|||12ab|)", ParseError::kBadNumber},
      {"229 (|||123456|)", ParseError::kBadNumber},
      {"229 (|||0|)", ParseError::kPortZero},
      {"229 (|||65536|)", ParseError::kPortRange},
  };
  for (const ErrorCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.text)) {
      SCOPED_TRACE(line);
      EXPECT_EQ(ParseErrorName(Parse229Reply(line).error), ParseErrorName(c.error));
    }
  }
}

TEST(Reply229Test, RewritingTheSpanKeepsTheRestOfTheLine) {
  for (const std::string& line :
       AsGivenAndFramed("229 Entering Extended Passive Mode (|||6446|)")) {
    const PortResult result = Parse229Reply(line);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(Rewrite(line, result.value, std::to_string(result.value.port)), line);
    EXPECT_EQ(Rewrite(line, result.value, "40000"),
              "229 Entering Extended Passive Mode (|||40000|)");
  }
}

}  // namespace
}  // namespace ftpalg
