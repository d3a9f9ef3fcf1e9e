// Client command lines (RFC 959 5.3: <command code> [<SP> <argument>] <CRLF>).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ftpalg {

// The commands the engine acts on or keeps track of; everything else is kOther.
enum class CommandVerb : uint8_t {
  kOther = 0,
  kUser,
  kPass,
  kAcct,
  kPort,  // RFC 959 4.1.2
  kEprt,  // RFC 2428 2
  kPasv,  // RFC 959 4.1.2
  kEpsv,  // RFC 2428 3 (argument "ALL" = EPSV ALL, RFC 2428 4)
  kAuth,  // RFC 2228 3: AUTH TLS / AUTH SSL / AUTH TLS-C ...
  kCcc,   // RFC 2228 3: clear command channel
  kRein,  // RFC 959 4.1.1
  kQuit,  // RFC 959 4.1.1
  kLprt,  // RFC 1639 2
  kLpsv,  // RFC 1639 2
};

struct CommandLine {
  CommandVerb verb = CommandVerb::kOther;
  // RFC 959 5.3 syntax: a command code of 3 or 4 ASCII letters, then end of line or one SP and an
  // argument of printable characters. False for anything else (HTTP headers, binary, ...).
  // Argument bytes must be 0x20-0x7e or TAB; "CODE " (SP, nothing after) is an empty argument.
  // `verb` and `code` are set whenever the code part is valid, even if the argument is not.
  bool well_formed = false;
  // An HTTP request line ("GET /x HTTP/1.1", "POST ...") or header ("Host: x"): the signature of a
  // NAT-slipstreaming attempt when seen on a control connection.
  bool looks_like_http = false;
  std::string_view code;       // as sent (case preserved), empty if none
  std::string_view argument;   // after the single SP, CR/LF already removed by the framer
  size_t argument_offset = 0;  // offset of `argument` in the line
};

// Classifies one line (without its CRLF). Command codes are case-insensitive (RFC 959 5.3).
CommandLine ParseCommandLine(std::string_view line);

// Name for events and logs: "PORT", "EPRT", ... ("OTHER" for kOther).
std::string_view CommandVerbName(CommandVerb verb);

}  // namespace ftpalg
