#include "ftpalg/ftp_command.h"

#include <gtest/gtest.h>

#include <string>

#include "framing_test_util.h"

namespace ftpalg {
namespace {

using test_util::AsGivenAndFramed;

struct VerbCase {
  std::string_view line;
  CommandVerb verb;
  std::string_view code;
  std::string_view argument;
};

TEST(CommandLineTest, VerbsAndArguments) {
  const VerbCase cases[] = {
      {"USER anonymous", CommandVerb::kUser, "USER", "anonymous"},
      {"PASS guest@", CommandVerb::kPass, "PASS", "guest@"},
      {"ACCT x", CommandVerb::kAcct, "ACCT", "x"},
      {"PORT 192,168,1,2,4,1", CommandVerb::kPort, "PORT", "192,168,1,2,4,1"},
      {"EPRT |1|192.0.2.1|1025|", CommandVerb::kEprt, "EPRT", "|1|192.0.2.1|1025|"},
      {"PASV", CommandVerb::kPasv, "PASV", ""},
      {"EPSV", CommandVerb::kEpsv, "EPSV", ""},
      {"EPSV ALL", CommandVerb::kEpsv, "EPSV", "ALL"},  // RFC 2428 4
      {"EPSV 2", CommandVerb::kEpsv, "EPSV", "2"},
      {"AUTH TLS", CommandVerb::kAuth, "AUTH", "TLS"},
      {"AUTH SSL", CommandVerb::kAuth, "AUTH", "SSL"},
      {"AUTH TLS-C", CommandVerb::kAuth, "AUTH", "TLS-C"},
      {"CCC", CommandVerb::kCcc, "CCC", ""},
      {"REIN", CommandVerb::kRein, "REIN", ""},
      {"QUIT", CommandVerb::kQuit, "QUIT", ""},
      {"NOOP", CommandVerb::kOther, "NOOP", ""},
      {"XMKD dir", CommandVerb::kOther, "XMKD", "dir"},
      {"MKD dir name", CommandVerb::kOther, "MKD", "dir name"},
      {"SITE a\tb", CommandVerb::kOther, "SITE", "a\tb"},    // TAB is allowed in arguments
      {"PASV ", CommandVerb::kPasv, "PASV", ""},             // SP then an empty argument
      {"STOR  lead", CommandVerb::kOther, "STOR", " lead"},  // the second SP is argument text
      // RFC 959 5.3: command codes are case-insensitive; the code keeps the case sent.
      {"user Bob", CommandVerb::kUser, "user", "Bob"},
      {"PoRt 1,2,3,4,5,6", CommandVerb::kPort, "PoRt", "1,2,3,4,5,6"},
      {"eprt |2|::1|5|", CommandVerb::kEprt, "eprt", "|2|::1|5|"},
      {"pasv", CommandVerb::kPasv, "pasv", ""},
      {"Epsv all", CommandVerb::kEpsv, "Epsv", "all"},
      {"auth tls", CommandVerb::kAuth, "auth", "tls"},
      {"ccc", CommandVerb::kCcc, "ccc", ""},
      {"rein", CommandVerb::kRein, "rein", ""},
      {"qUiT", CommandVerb::kQuit, "qUiT", ""},
      {"pass x", CommandVerb::kPass, "pass", "x"},
      {"acct x", CommandVerb::kAcct, "acct", "x"},
  };
  for (const VerbCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.line)) {
      SCOPED_TRACE(line);
      const CommandLine command = ParseCommandLine(line);
      EXPECT_EQ(CommandVerbName(command.verb), CommandVerbName(c.verb));
      EXPECT_TRUE(command.well_formed);
      EXPECT_FALSE(command.looks_like_http);
      EXPECT_EQ(command.code, c.code);
      EXPECT_EQ(command.argument, c.argument);
      if (!command.argument.empty()) {
        EXPECT_EQ(command.argument_offset, command.code.size() + 1);
        EXPECT_EQ(line.substr(command.argument_offset), command.argument);
      }
    }
  }
}

struct BadCase {
  std::string_view line;
  CommandVerb verb;  // still recognised when the code itself is fine
};

TEST(CommandLineTest, NotWellFormed) {
  const BadCase cases[] = {
      {"", CommandVerb::kOther},
      {"PO", CommandVerb::kOther},
      {"PORTS 1,2,3,4,5,6", CommandVerb::kOther},  // five letters
      {"PORT\t1,2,3,4,5,6", CommandVerb::kOther},  // TAB is not the separator
      {"PORT,1,2,3,4,5,6", CommandVerb::kOther},
      {" PORT 1,2,3,4,5,6", CommandVerb::kOther},
      {"P0RT 1,2,3,4,5,6", CommandVerb::kOther},
      {"1234", CommandVerb::kOther},
      {"\x01\x02\x03", CommandVerb::kOther},
      {"PORT:1,2,3,4,5,6", CommandVerb::kOther},
      {"PORT 1,2,3,4,5,6\x01", CommandVerb::kPort},
      {"USER caf\xc3\xa9", CommandVerb::kUser},  // 8-bit bytes
      {"USER x\x7f", CommandVerb::kUser},
      {"USER x\ry", CommandVerb::kUser},  // a lone CR is kept by the framer, rejected here
      {"USER x\r", CommandVerb::kUser},
      {std::string_view("USER a\0b", 8), CommandVerb::kUser},
  };
  for (const BadCase& c : cases) {
    for (const std::string& line : AsGivenAndFramed(c.line)) {
      SCOPED_TRACE(line);
      const CommandLine command = ParseCommandLine(line);
      EXPECT_FALSE(command.well_formed);
      EXPECT_EQ(CommandVerbName(command.verb), CommandVerbName(c.verb));
      if (command.verb == CommandVerb::kOther) {
        EXPECT_TRUE(command.code.empty());
      }
    }
  }
}

TEST(CommandLineTest, LooksLikeHttp) {
  const std::string_view http[] = {
      "GET / HTTP/1.1",          "POST /upload HTTP/1.0",
      "PUT /x HTTP/1.1",         "HEAD / HTTP/1.1",
      "OPTIONS * HTTP/1.1",      "CONNECT example.com:443 HTTP/1.1",
      "DELETE /x HTTP/1.1",      "TRACE / HTTP/1.1",
      "PATCH /x HTTP/1.1",       "get / http/1.1",
      "Host: example.com",       "Content-Length: 5",
      "Content-Type:text/plain", "User-Agent: Mozilla/5.0",
      "X-Custom_Header.v2: 1",   "Cookie:",
  };
  for (std::string_view text : http) {
    for (const std::string& line : AsGivenAndFramed(text)) {
      SCOPED_TRACE(line);
      EXPECT_TRUE(ParseCommandLine(line).looks_like_http);
    }
  }
  const std::string_view not_http[] = {
      "USER joe",
      "PASS secret:word",
      "PORT 1,2,3,4,5,6",
      "EPRT |2|::1|1025|",
      "RETR http://example.com/x",
      "SITE Host: x",
      "GET /file",
      "GETX / HTTP/1.1",
      "GET",
      ": value",
      " Host: x",
      "",
      "HTTP/1.1 200 OK",
  };
  for (std::string_view text : not_http) {
    for (const std::string& line : AsGivenAndFramed(text)) {
      SCOPED_TRACE(line);
      EXPECT_FALSE(ParseCommandLine(line).looks_like_http);
    }
  }
}

TEST(CommandLineTest, HttpRequestLineIsAlsoShapedLikeACommand) {
  // Both flags are reported independently; the engine decides what to do with the pair.
  for (const std::string& line : AsGivenAndFramed("GET / HTTP/1.1")) {
    const CommandLine command = ParseCommandLine(line);
    EXPECT_TRUE(command.looks_like_http);
    EXPECT_TRUE(command.well_formed);
    EXPECT_EQ(command.verb, CommandVerb::kOther);
    EXPECT_EQ(command.code, "GET");
  }
}

TEST(CommandLineTest, VerbNames) {
  EXPECT_EQ(CommandVerbName(CommandVerb::kOther), "OTHER");
  EXPECT_EQ(CommandVerbName(CommandVerb::kUser), "USER");
  EXPECT_EQ(CommandVerbName(CommandVerb::kPass), "PASS");
  EXPECT_EQ(CommandVerbName(CommandVerb::kAcct), "ACCT");
  EXPECT_EQ(CommandVerbName(CommandVerb::kPort), "PORT");
  EXPECT_EQ(CommandVerbName(CommandVerb::kEprt), "EPRT");
  EXPECT_EQ(CommandVerbName(CommandVerb::kPasv), "PASV");
  EXPECT_EQ(CommandVerbName(CommandVerb::kEpsv), "EPSV");
  EXPECT_EQ(CommandVerbName(CommandVerb::kAuth), "AUTH");
  EXPECT_EQ(CommandVerbName(CommandVerb::kCcc), "CCC");
  EXPECT_EQ(CommandVerbName(CommandVerb::kRein), "REIN");
  EXPECT_EQ(CommandVerbName(CommandVerb::kQuit), "QUIT");
}

TEST(CommandLineTest, ArgumentOffsetPointsIntoTheLine) {
  for (const std::string& line : AsGivenAndFramed("PORT 10,0,0,1,4,1")) {
    const CommandLine command = ParseCommandLine(line);
    EXPECT_EQ(command.argument_offset, 5u);
    EXPECT_EQ(command.argument.data(), line.data() + 5);
  }
}

}  // namespace
}  // namespace ftpalg
