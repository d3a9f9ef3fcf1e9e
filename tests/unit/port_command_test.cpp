#include "ftpalg/port_command.h"

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

// A PORT argument as given, and as the engine gets it: "PORT <argument>" framed byte by byte,
// then split by ParseCommandLine.
std::vector<std::string> PortArguments(std::string_view argument) {
  const std::string framed = FramedOnce("PORT " + std::string(argument));
  const CommandLine command = ParseCommandLine(framed);
  EXPECT_EQ(command.verb, CommandVerb::kPort) << framed;
  return {std::string(argument), std::string(command.argument)};
}

Endpoint Ep(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
  return Endpoint{IpAddress::V4(a, b, c, d), port};
}

std::string Rewrite(std::string_view text, const HostPortText& span, const std::string& with) {
  return std::string(text.substr(0, span.begin)) + with + std::string(text.substr(span.end));
}

struct ValidCase {
  std::string_view text;
  Endpoint endpoint;
  size_t begin;
  size_t end;
};

TEST(PortArgumentTest, ValidForms) {
  const ValidCase cases[] = {
      {"192,168,1,2,4,1", Ep(192, 168, 1, 2, 1025), 0, 15},
      {"10,0,0,1,0,1", Ep(10, 0, 0, 1, 1), 0, 12},
      {"255,255,255,255,255,255", Ep(255, 255, 255, 255, 65535), 0, 23},
      {"0,0,0,0,0,21", Ep(0, 0, 0, 0, 21), 0, 12},
      {"001,002,003,004,000,001", Ep(1, 2, 3, 4, 1), 0, 23},  // leading zeros are decimal
      {"1,2,3,4,5,6   ", Ep(1, 2, 3, 4, 1286), 0, 11},        // trailing spaces tolerated
      {"1,2,3,4,1,0", Ep(1, 2, 3, 4, 256), 0, 11},
  };
  for (const ValidCase& c : cases) {
    for (const std::string& argument : PortArguments(c.text)) {
      SCOPED_TRACE(argument);
      const HostPortResult result = ParsePortArgument(argument);
      ExpectHostPort(result, c.endpoint, c.begin, c.end);
    }
  }
}

struct ErrorCase {
  std::string_view text;
  ParseError error;
};

TEST(PortArgumentTest, Errors) {
  const ErrorCase cases[] = {
      {"", ParseError::kMissingField},
      {"1,2,3,4", ParseError::kMissingField},
      {"1,2,3,4,5", ParseError::kMissingField},
      {"1,2,3,4,5,", ParseError::kMissingField},
      {"1,2,3,4,5 ", ParseError::kMissingField},
      {"1.2.3.4,5,6", ParseError::kMissingField},  // the list ends after "1"
      {"1,2,3,4,5,6,7", ParseError::kTrailingGarbage},
      {"1,2,3,4,5,6,", ParseError::kTrailingGarbage},
      {"1,2,3,4,5,6 x", ParseError::kTrailingGarbage},
      {"1,2,3,4,5,6)", ParseError::kTrailingGarbage},
      {"1,2,3,4,5,6\t", ParseError::kTrailingGarbage},
      {"1,2,3,4,5,6 \x01", ParseError::kTrailingGarbage},
      {"1,2,3,4,5,6a", ParseError::kBadNumber},
      {"1,2,3,4,5,1000", ParseError::kBadNumber},
      {"0001,2,3,4,5,6", ParseError::kBadNumber},
      {"99999999999999999999999,2,3,4,5,6", ParseError::kBadNumber},
      {"a,2,3,4,5,6", ParseError::kBadNumber},
      {"12a,2,3,4,5,6", ParseError::kBadNumber},
      {"-1,2,3,4,5,6", ParseError::kBadNumber},
      {"+1,2,3,4,5,6", ParseError::kBadNumber},
      {" 1,2,3,4,5,6", ParseError::kBadNumber},
      {"1,,3,4,5,6", ParseError::kBadNumber},
      {"1, 2,3,4,5,6", ParseError::kBadNumber},
      {"1,2,3,4,5,x", ParseError::kBadNumber},
      {"0x1,2,3,4,5,6", ParseError::kBadNumber},
      {"256,2,3,4,5,6", ParseError::kOctetRange},
      {"1,2,3,999,5,6", ParseError::kOctetRange},
      {"1,2,3,4,256,6", ParseError::kOctetRange},
      {"1,2,3,4,5,256", ParseError::kOctetRange},
      {"1,2,3,4,0,0", ParseError::kPortZero},
      {"1,2,3,4,000,000", ParseError::kPortZero},
  };
  for (const ErrorCase& c : cases) {
    for (const std::string& argument : PortArguments(c.text)) {
      SCOPED_TRACE(argument);
      EXPECT_EQ(ParseErrorName(ParsePortArgument(argument).error), ParseErrorName(c.error));
    }
  }
}

TEST(PortArgumentTest, RewritingTheSpanKeepsTheRestOfTheLine) {
  for (const std::string& line : AsGivenAndFramed("PORT 10,0,0,1,4,1  ")) {
    const CommandLine command = ParseCommandLine(line);
    const HostPortResult result = ParsePortArgument(command.argument);
    ASSERT_TRUE(result.ok());
    HostPortText in_line = result.value;
    in_line.begin += command.argument_offset;
    in_line.end += command.argument_offset;
    // Writing back the same endpoint reproduces the line byte for byte.
    EXPECT_EQ(Rewrite(line, in_line, FormatPortArgument(result.value.endpoint)), line);
    EXPECT_EQ(Rewrite(line, in_line, FormatPortArgument(Ep(203, 0, 113, 5, 40000))),
              "PORT 203,0,113,5,156,64  ");
  }
}

TEST(PortArgumentTest, Format) {
  EXPECT_EQ(FormatPortArgument(Ep(198, 51, 100, 1, 1025)), "198,51,100,1,4,1");
  EXPECT_EQ(FormatPortArgument(Ep(0, 0, 0, 0, 0)), "0,0,0,0,0,0");
  EXPECT_EQ(FormatPortArgument(Ep(255, 255, 255, 255, 65535)), "255,255,255,255,255,255");
  // Round trip.
  const Endpoint endpoint = Ep(192, 0, 2, 33, 50123);
  for (const std::string& argument : PortArguments(FormatPortArgument(endpoint))) {
    const HostPortResult result = ParsePortArgument(argument);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(result.value.endpoint, endpoint);
  }
}

TEST(Reply227Test, ValidForms) {
  const ValidCase cases[] = {
      {"227 Entering Passive Mode (192,168,1,2,4,1).", Ep(192, 168, 1, 2, 1025), 27, 42},
      {"227 Entering Passive Mode (192,168,1,2,4,1)", Ep(192, 168, 1, 2, 1025), 27, 42},
      {"227 Entering Passive Mode 192,168,1,2,4,1", Ep(192, 168, 1, 2, 1025), 26, 41},
      {"227 =10,0,0,1,200,10", Ep(10, 0, 0, 1, 51210), 5, 20},
      {"227 (10,0,0,1,0,1)", Ep(10, 0, 0, 1, 1), 5, 17},
      {"227 10,0,0,1,0,1", Ep(10, 0, 0, 1, 1), 4, 16},
      {"227 ok (1,2,3,4,5,6,7)", Ep(1, 2, 3, 4, 1286), 8, 19},  // after the sixth: ignored
      {"227 (1,2,3,4,5,6)x 9,9", Ep(1, 2, 3, 4, 1286), 5, 16},
      {"227 Passive (001,002,003,004,005,006)", Ep(1, 2, 3, 4, 1286), 13, 36},
  };
  for (const ValidCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.text)) {
      SCOPED_TRACE(line);
      const HostPortResult result = Parse227Reply(line);
      ExpectHostPort(result, c.endpoint, c.begin, c.end);
    }
  }
}

TEST(Reply227Test, Errors) {
  const ErrorCase cases[] = {
      {"", ParseError::kNoAddress},
      {"22", ParseError::kNoAddress},
      {"227", ParseError::kNoAddress},
      {"227 Entering Passive Mode", ParseError::kNoAddress},
      {"227 Entering Passive Mode ().", ParseError::kNoAddress},
      {"227 Entering Passive Mode (192,168,1,2,4).", ParseError::kMissingField},
      {"227 Entering Passive Mode (192,168,1,2,4,", ParseError::kMissingField},
      {"227 Entering Passive Mode (192.168.1.2,4,1)", ParseError::kMissingField},
      {"227 Entering Passive Mode v2 (192,168,1,2,4,1)", ParseError::kMissingField},
      {"227 (300,168,1,2,4,1)", ParseError::kOctetRange},
      {"227 (192,168,1,2,4,256)", ParseError::kOctetRange},
      {"227 (192,168,1,2,4,1000)", ParseError::kBadNumber},
      {"227 (1,,3,4,5,6)", ParseError::kBadNumber},
      {"227 (1,2,3,4,5, 6)", ParseError::kBadNumber},
      {"227 (1,2,3,4a,5,6)", ParseError::kBadNumber},
      {"227 (1,2,3,4,0,0)", ParseError::kPortZero},
  };
  for (const ErrorCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.text)) {
      SCOPED_TRACE(line);
      EXPECT_EQ(ParseErrorName(Parse227Reply(line).error), ParseErrorName(c.error));
    }
  }
}

TEST(Reply227Test, RewritingTheSpanKeepsTheRestOfTheLine) {
  for (const std::string& line :
       AsGivenAndFramed("227 Entering Passive Mode (10,1,2,3,195,80). Thanks\t!")) {
    const HostPortResult result = Parse227Reply(line);
    ASSERT_TRUE(result.ok());
    EXPECT_EQ(Rewrite(line, result.value, FormatPortArgument(result.value.endpoint)), line);
    EXPECT_EQ(Rewrite(line, result.value, FormatPortArgument(Ep(198, 51, 100, 7, 1025))),
              "227 Entering Passive Mode (198,51,100,7,4,1). Thanks\t!");
  }
}

TEST(ParseErrorTest, Names) {
  EXPECT_EQ(ParseErrorName(ParseError::kNone), "none");
  EXPECT_EQ(ParseErrorName(ParseError::kMissingField), "missing-field");
  EXPECT_EQ(ParseErrorName(ParseError::kBadNumber), "bad-number");
  EXPECT_EQ(ParseErrorName(ParseError::kOctetRange), "octet-range");
  EXPECT_EQ(ParseErrorName(ParseError::kPortZero), "port-zero");
  EXPECT_EQ(ParseErrorName(ParseError::kPortRange), "port-range");
  EXPECT_EQ(ParseErrorName(ParseError::kBadAddress), "bad-address");
  EXPECT_EQ(ParseErrorName(ParseError::kWrongFamily), "wrong-family");
  EXPECT_EQ(ParseErrorName(ParseError::kBadDelimiter), "bad-delimiter");
  EXPECT_EQ(ParseErrorName(ParseError::kUnknownProtocol), "unknown-protocol");
  EXPECT_EQ(ParseErrorName(ParseError::kTrailingGarbage), "trailing-garbage");
  EXPECT_EQ(ParseErrorName(ParseError::kNoAddress), "no-address");
}

}  // namespace
}  // namespace ftpalg
