#include "ftpalg/ftp_command.h"

#include <array>

namespace ftpalg {
namespace {

bool IsAsciiLetter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiUpper(a[i]) != AsciiUpper(b[i])) return false;
  }
  return true;
}

bool ContainsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (EqualsIgnoreCase(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

// RFC 959 5.3: <string> is any ASCII character but CR and LF. We are stricter and accept printable
// ASCII and TAB only: control bytes and 8-bit bytes in a command that the engine acts on are a
// sign of something other than an FTP client, and a well-formed line is what we rewrite.
bool IsArgumentByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return (byte >= 0x20 && byte <= 0x7e) || byte == '\t';
}

// RFC 9110 5.6.2 tchar: the characters of an HTTP header field name.
bool IsHttpTokenChar(char c) {
  if (IsAsciiLetter(c) || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

// NAT slipstreaming makes a browser send an HTTP request whose body or headers, cut into segments
// at the right place, look like FTP commands. Recognising HTTP request lines and header lines on a
// control connection lets the engine refuse to act on such a stream. Matched case-insensitively,
// which only widens the net: no FTP command looks like either form.
bool LooksLikeHttp(std::string_view line) {
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "DELETE", "TRACE", "PATCH"};
  for (std::string_view method : kMethods) {
    if (line.size() > method.size() && line[method.size()] == ' ' &&
        EqualsIgnoreCase(line.substr(0, method.size()), method) &&
        ContainsIgnoreCase(line, " HTTP/")) {
      return true;
    }
  }
  // A header field: field-name ":" (RFC 9110 5.1, RFC 9112 5).
  size_t i = 0;
  while (i < line.size() && IsHttpTokenChar(line[i])) ++i;
  return i > 0 && i < line.size() && line[i] == ':';
}

CommandVerb VerbFromCode(std::string_view code) {
  struct Entry {
    std::string_view code;
    CommandVerb verb;
  };
  static constexpr std::array<Entry, 13> kVerbs = {{
      {"USER", CommandVerb::kUser},
      {"PASS", CommandVerb::kPass},
      {"ACCT", CommandVerb::kAcct},
      {"PORT", CommandVerb::kPort},
      {"EPRT", CommandVerb::kEprt},
      {"PASV", CommandVerb::kPasv},
      {"EPSV", CommandVerb::kEpsv},
      {"AUTH", CommandVerb::kAuth},
      {"CCC", CommandVerb::kCcc},
      {"REIN", CommandVerb::kRein},
      {"QUIT", CommandVerb::kQuit},
      {"LPRT", CommandVerb::kLprt},
      {"LPSV", CommandVerb::kLpsv},
  }};
  for (const Entry& entry : kVerbs) {
    if (EqualsIgnoreCase(code, entry.code)) return entry.verb;
  }
  return CommandVerb::kOther;
}

}  // namespace

CommandLine ParseCommandLine(std::string_view line) {
  CommandLine result;
  result.looks_like_http = LooksLikeHttp(line);
  // RFC 959 5.3.1: the command code is 3 or 4 alphabetic characters, upper or lower case.
  size_t letters = 0;
  while (letters < line.size() && letters < 5 && IsAsciiLetter(line[letters])) ++letters;
  if (letters < 3 || letters > 4) return result;
  const bool ends = letters == line.size();
  if (!ends && line[letters] != ' ') return result;
  result.code = line.substr(0, letters);
  result.verb = VerbFromCode(result.code);
  if (ends) {
    result.argument_offset = letters;
    result.well_formed = true;
    return result;
  }
  // RFC 959 5.3: exactly one SP separates the code from the argument. A second SP becomes the
  // first byte of the argument, which the argument parsers then reject.
  result.argument_offset = letters + 1;
  result.argument = line.substr(letters + 1);
  result.well_formed = true;
  for (char c : result.argument) {
    if (!IsArgumentByte(c)) {
      result.well_formed = false;
      break;
    }
  }
  return result;
}

std::string_view CommandVerbName(CommandVerb verb) {
  switch (verb) {
    case CommandVerb::kOther:
      return "OTHER";
    case CommandVerb::kUser:
      return "USER";
    case CommandVerb::kPass:
      return "PASS";
    case CommandVerb::kAcct:
      return "ACCT";
    case CommandVerb::kPort:
      return "PORT";
    case CommandVerb::kEprt:
      return "EPRT";
    case CommandVerb::kPasv:
      return "PASV";
    case CommandVerb::kEpsv:
      return "EPSV";
    case CommandVerb::kAuth:
      return "AUTH";
    case CommandVerb::kCcc:
      return "CCC";
    case CommandVerb::kRein:
      return "REIN";
    case CommandVerb::kQuit:
      return "QUIT";
    case CommandVerb::kLprt:
      return "LPRT";
    case CommandVerb::kLpsv:
      return "LPSV";
  }
  return "OTHER";
}

}  // namespace ftpalg
