// Hostile traffic at the engine level: every attack is a probe run twice, once with the hostile
// text and once with the legitimate text in its place. The legitimate run must open exactly the
// data path it announces (the positive control: the probe itself works), the hostile run must open
// nothing and report why. Further tests cover floods, 16 MiB lines, bytes that are not ASCII, and
// retransmitted, overlapping and reordered segments of a rewritten command.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "engine_test_util.h"
#include "forwarded_stream.h"
#include "ftpalg/engine.h"
#include "ftpalg/event_json.h"
#include "ftpalg/packet_view.h"
#include "utf8_check.h"

namespace ftpalg::test {
namespace {

std::vector<Event> AllEvents(const Conversation& ftp) {
  std::vector<Event> out;
  for (const Decision& d : ftp.decisions) out.insert(out.end(), d.events.begin(), d.events.end());
  return out;
}

size_t CountEvents(const Conversation& ftp, EventType type, Reason reason) {
  size_t n = 0;
  for (const Event& e : AllEvents(ftp)) n += (e.type == type && e.reason == reason) ? 1 : 0;
  return n;
}

std::string Describe(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) out += "  " + JsonLine(EventToJson(e)) + "\n";
  return out.empty() ? "  (no events)\n" : out;
}

// ------------------------------------------------------------------------------------------------
// Probes: hostile text against the same script with legitimate text.

using Script = std::function<void(Conversation&, bool hostile)>;

// What the hostile run must report, exactly once: a refusal or a step-aside, with its reason.
struct Report {
  EventType event = EventType::kRefuse;
  Reason reason = Reason::kNone;
  std::string detail;  // the event's detail; empty: not checked
};

Report Refusal(Reason reason, std::string detail = "") {
  return {.event = EventType::kRefuse, .reason = reason, .detail = std::move(detail)};
}
Report StepAside(Reason reason) {
  return {.event = EventType::kStepAside, .reason = reason, .detail = ""};
}
// The hostile text is not an announcement at all: it must pass with no refusal and no step-aside.
std::optional<Report> NoRefusalOrStepAside() { return std::nullopt; }

struct Probe {
  std::string name;
  std::function<ControlConnection()> control;
  Script script;  // run twice: legitimate, then hostile
  std::optional<Report> hostile_reports;
  // The legitimate run's single expectation: where the data connection is admitted.
  Endpoint legit_admits;
};

void PrintTo(const Probe& probe, std::ostream* os) { *os << probe.name; }

ControlConnection Masq4() { return Masqueraded(); }
ControlConnection Masq6() { return Masqueraded(Family::kIpv6); }
ControlConnection Pub4() { return Published(); }
ControlConnection Pub6() { return Published(Family::kIpv6); }

// The masqueraded client's PORT to 1025 and the published server's PASV port, as admitted.
Endpoint MasqPort() { return Ep("198.51.100.1", 1025); }
Endpoint Masq6Port() { return Ep("2001:db8:2::1", 1025); }
Endpoint PubPasv() { return Ep("198.51.100.1", 50000); }
Endpoint Pub6Pasv() { return Ep("2001:db8:2::1", 50000); }

const char kPort[] = "PORT 192,0,2,2,4,1\r\n";
const char kPub227[] = "227 Entering Passive Mode (192,0,2,10,195,80).\r\n";
const char kHttpRequest[] =
    "POST /upload HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Type: text/plain\r\n"
    "Content-Length: 20\r\n\r\n";

// Logged in, then one client line.
Script Active(std::string legit, std::string hostile) {
  return [legit, hostile](Conversation& ftp, bool h) {
    ftp.Handshake();
    ftp.Login();
    ftp.Client(h ? hostile : legit);
  };
}

// Logged in, a command, then the server's reply (each side's text may differ).
Script Passive(std::string legit_command, std::string legit_reply, std::string hostile_command,
               std::string hostile_reply) {
  return [=](Conversation& ftp, bool h) {
    ftp.Handshake();
    ftp.Login();
    ftp.Client(h ? hostile_command : legit_command);
    ftp.Server(h ? hostile_reply : legit_reply);
  };
}

// Logged in, then a scripted exchange; the legitimate run is PASV + 227.
Script PassiveExchange(std::function<void(Conversation&)> hostile) {
  return [hostile](Conversation& ftp, bool h) {
    ftp.Handshake();
    ftp.Login();
    if (h) {
      hostile(ftp);
    } else {
      ftp.Client("PASV\r\n");
      ftp.Server(kPub227);
    }
  };
}

// NAT slipstreaming: the hostile run is a browser's HTTP request (in the given segments) to a
// server that may speak first; the legitimate run is a real login followed by the same PORT line.
Script Slipstream(std::vector<std::string> hostile_segments, std::string server_first) {
  return [hostile_segments, server_first](Conversation& ftp, bool h) {
    ftp.Handshake();
    if (!h) {
      ftp.Login();
      ftp.Client(kPort);
      return;
    }
    if (!server_first.empty()) ftp.Server(server_first);
    for (const std::string& segment : hostile_segments) ftp.Client(segment);
  };
}

// A login that fails (or is faked by the server) before the PORT line; legit: a real login.
Script AfterLogin(std::function<void(Conversation&)> hostile_login, std::string line = kPort) {
  return [hostile_login, line](Conversation& ftp, bool h) {
    ftp.Handshake();
    if (h) {
      hostile_login(ftp);
    } else {
      ftp.Login();
    }
    ftp.Client(line);
  };
}

std::string WithNul(std::string before, std::string after) {
  std::string out = std::move(before);
  out.push_back('\0');
  return out + after;
}

std::vector<Probe> Probes() {
  std::vector<Probe> p;

  // 1. Bounce (RFC 2577 3) and privileged ports.
  p.push_back({.name = "PortBounceToThirdParty",
               .control = Masq4,
               .script = Active(kPort, "PORT 203,0,113,9,4,1\r\n"),
               .hostile_reports = Refusal(Reason::kBounce, "203.0.113.9"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortBounceToTheServer",
               .control = Masq4,
               .script = Active(kPort, "PORT 198,51,100,2,4,1\r\n"),
               .hostile_reports = Refusal(Reason::kBounce, "198.51.100.2"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortToTheGatewaysPublicAddress",
               .control = Masq4,
               .script = Active(kPort, "PORT 198,51,100,1,4,1\r\n"),
               .hostile_reports = Refusal(Reason::kBounce, "198.51.100.1"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "EprtBounceToThirdParty",
               .control = Masq4,
               .script = Active("EPRT |1|192.0.2.2|1025|\r\n", "EPRT |1|203.0.113.9|1025|\r\n"),
               .hostile_reports = Refusal(Reason::kBounce, "203.0.113.9"),
               .legit_admits = MasqPort()});
  p.push_back(
      {.name = "EprtIpv6BounceToAnotherInsideHost",
       .control = Masq6,
       .script = Active("EPRT |2|2001:db8:1::2|1025|\r\n", "EPRT |2|2001:db8:1::99|1025|\r\n"),
       .hostile_reports = Refusal(Reason::kBounce, "2001:db8:1::99"),
       .legit_admits = Masq6Port()});
  p.push_back({.name = "Reply227NamingAnotherInsideHost",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 "227 Entering Passive Mode (192,0,2,11,195,80).\r\n"),
               .hostile_reports = Refusal(Reason::kBounce, "192.0.2.11"),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply227NamingTheClient",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 "227 Entering Passive Mode (198,51,100,2,195,80).\r\n"),
               .hostile_reports = Refusal(Reason::kBounce, "198.51.100.2"),
               .legit_admits = PubPasv()});
  p.push_back({.name = "PortToPrivilegedPort",
               .control = Masq4,
               .script = Active(kPort, "PORT 192,0,2,2,0,22\r\n"),
               .hostile_reports = Refusal(Reason::kLowPort, "22"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortToPort1023",
               .control = Masq4,
               .script = Active("PORT 192,0,2,2,4,0\r\n", "PORT 192,0,2,2,3,255\r\n"),
               .hostile_reports = Refusal(Reason::kLowPort, "1023"),
               .legit_admits = Ep("198.51.100.1", 1024)});
  p.push_back({.name = "EprtToPrivilegedPort",
               .control = Masq4,
               .script = Active("EPRT |1|192.0.2.2|1025|\r\n", "EPRT |1|192.0.2.2|25|\r\n"),
               .hostile_reports = Refusal(Reason::kLowPort, "25"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "Reply227ToPrivilegedPort",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 "227 Entering Passive Mode (192,0,2,10,0,22).\r\n"),
               .hostile_reports = Refusal(Reason::kLowPort, "22"),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply229ToPrivilegedPort",
               .control = Pub6,
               .script = Passive("EPSV\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n",
                                 "EPSV\r\n", "229 Entering Extended Passive Mode (|||22|)\r\n"),
               .hostile_reports = Refusal(Reason::kLowPort, "22"),
               .legit_admits = Pub6Pasv()});
  p.push_back({.name = "PortToPortZero",
               .control = Masq4,
               .script = Active(kPort, "PORT 192,0,2,2,0,0\r\n"),
               .hostile_reports = Refusal(Reason::kMalformed, "port-zero"),
               .legit_admits = MasqPort()});

  // 2. Unsolicited 227/229: no PASV/EPSV before it (replies pair with commands in order).
  p.push_back({.name = "Unsolicited227Masqueraded",
               .control = Masq4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Login();
                     if (!h) ftp.Client("PASV\r\n");
                     ftp.Server("227 Entering Passive Mode (198,51,100,2,195,80)\r\n");
                   },
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = Ep("198.51.100.2", 50000)});
  p.push_back({.name = "Unsolicited227FromPublishedServer",
               .control = Pub4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Login();
                     if (!h) ftp.Client("PASV\r\n");
                     ftp.Server(kPub227);
                   },
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Unsolicited229FromPublishedIpv6Server",
               .control = Pub6,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Login();
                     if (!h) ftp.Client("EPSV\r\n");
                     ftp.Server("229 Entering Extended Passive Mode (|||50000|)\r\n");
                   },
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = Pub6Pasv()});
  p.push_back({.name = "Reply227AnsweringEpsv",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "EPSV\r\n", kPub227),
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply229AnsweringPasv",
               .control = Pub4,
               .script = Passive("EPSV\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n",
                                 "PASV\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n"),
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply227AnsweringNoop",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "NOOP\r\n", kPub227),
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = PubPasv()});

  // 3. Address text where it is not an announcement: mid-line, continuation lines, error
  // replies, and a 227 after the server refused the PASV.
  p.push_back({.name = "PortInTheMiddleOfALine",
               .control = Masq4,
               .script = Active(kPort, "NOOP PORT 192,0,2,2,4,1\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortAfterLeadingSpace",
               .control = Masq4,
               .script = Active(kPort, " PORT 192,0,2,2,4,1\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortAfterBareCr",
               .control = Masq4,
               .script = Active(kPort, "NOOP\rPORT 192,0,2,2,4,1\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortStartingASegmentInTheMiddleOfALine",
               .control = Masq4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Login();
                     ftp.Client(h ? "NOOP " : "NOOP\r\n");
                     ftp.Client(kPort);
                   },
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = MasqPort()});
  p.push_back({.name = "Reply227InTheMiddleOfALine",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 "200 ok 227 Entering Passive Mode (192,0,2,10,195,80).\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply227InsideAnotherCodesMultiLineReply",
               .control = Pub4,
               .script = Passive(
                   "PASV\r\n", kPub227, "PASV\r\n",
                   "200-Note:\r\n227 Entering Passive Mode (192,0,2,10,195,80).\r\n200 ok\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = PubPasv()});
  p.push_back(
      {.name = "Reply227AddressOnlyOnContinuationLines",
       .control = Pub4,
       .script = Passive(
           "PASV\r\n", "227-Passive mode:\r\n227 Entering Passive Mode (192,0,2,10,195,80).\r\n",
           "PASV\r\n",
           "227-Entering Passive Mode (192,0,2,10,195,80).\r\n"
           "227-Entering Passive Mode (192,0,2,10,195,81).\r\n227 That was a joke\r\n"),
       .hostile_reports = Refusal(Reason::kMalformed, "no-address"),
       .legit_admits = PubPasv()});
  p.push_back({.name = "Reply227InsideAnErrorReply",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 "500 227 Entering Passive Mode (192,0,2,10,195,80).\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = PubPasv()});
  p.push_back({.name = "PasvRefusedWithAddressInTheErrorText",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 "425 Cannot open (192,0,2,10,195,80).\r\n"),
               .hostile_reports = NoRefusalOrStepAside(),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply227AfterThePasvWasRefused",
               .control = Pub4,
               .script = PassiveExchange([](Conversation& ftp) {
                 ftp.Client("PASV\r\n");
                 ftp.Server("500 PASV not allowed\r\n");
                 ftp.Client("NOOP\r\n");
                 ftp.Server("200 ok\r\n");
                 ftp.Server(kPub227);  // arrives later, answering nothing
               }),
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = PubPasv()});
  p.push_back({.name = "Reply227After4xxToPasv",
               .control = Pub4,
               .script = PassiveExchange([](Conversation& ftp) {
                 ftp.Client("PASV\r\n");
                 ftp.Server("425 Cannot open passive connection\r\n");
                 ftp.Server(kPub227);
               }),
               .hostile_reports = Refusal(Reason::kUnpaired),
               .legit_admits = PubPasv()});

  // 4. NAT slipstreaming: an HTTP request carrying a PORT line.
  const std::string http = kHttpRequest;
  p.push_back({.name = "SlipstreamHttpAndPortInOneSegment",
               .control = Masq4,
               .script = Slipstream({http + kPort}, "220 ready\r\n"),
               .hostile_reports = StepAside(Reason::kNotFtp),
               .legit_admits = MasqPort()});
  p.push_back({.name = "SlipstreamPortLineStartsItsOwnSegment",
               .control = Masq4,
               .script = Slipstream({http, kPort}, "220 ready\r\n"),
               .hostile_reports = StepAside(Reason::kNotFtp),
               .legit_admits = MasqPort()});
  p.push_back({.name = "SlipstreamHttpRequestSplitAcrossSegments",
               .control = Masq4,
               .script = Slipstream({"POST /upload HT", "TP/1.1\r\nHost: 198.5",
                                     "1.100.2:21\r\nContent-Length: 20\r\n\r\n", kPort},
                                    "220 ready\r\n"),
               .hostile_reports = StepAside(Reason::kNotFtp),
               .legit_admits = MasqPort()});
  p.push_back({.name = "SlipstreamBeforeTheGreeting",
               .control = Masq4,
               .script = Slipstream({http, kPort}, ""),
               .hostile_reports = StepAside(Reason::kNotFtp),
               .legit_admits = MasqPort()});
  p.push_back(
      {.name = "SlipstreamGetRequest",
       .control = Masq4,
       .script = Slipstream({"GET /PORT%20192,0,2,2,4,1 HTTP/1.1\r\n", kPort}, "220 ready\r\n"),
       .hostile_reports = StepAside(Reason::kNotFtp),
       .legit_admits = MasqPort()});
  // The attacker's server speaks first and claims a login: an unpaired 230 logs nobody in.
  p.push_back({.name = "SlipstreamAfterUnsolicited230",
               .control = Masq4,
               .script = Slipstream({http, kPort}, "220 ready\r\n230 Logged in\r\n"),
               .hostile_reports = StepAside(Reason::kNotFtp),
               .legit_admits = MasqPort()});

  // 5. Before the login succeeded.
  p.push_back({.name = "PortAfterFailedLogin",
               .control = Masq4,
               .script = AfterLogin([](Conversation& ftp) {
                 ftp.Server("220 ready\r\n");
                 ftp.Client("USER anonymous\r\n");
                 ftp.Server("331 password please\r\n");
                 ftp.Client("PASS wrong\r\n");
                 ftp.Server("530 Login incorrect\r\n");
               }),
               .hostile_reports = Refusal(Reason::kNotLoggedIn),
               .legit_admits = MasqPort()});
  p.push_back({.name = "EprtAfterFailedLogin",
               .control = Masq4,
               .script = AfterLogin(
                   [](Conversation& ftp) {
                     ftp.Server("220 ready\r\n");
                     ftp.Client("USER anonymous\r\n");
                     ftp.Server("530 Not allowed\r\n");
                   },
                   "EPRT |1|192.0.2.2|1025|\r\n"),
               .hostile_reports = Refusal(Reason::kNotLoggedIn),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortBeforeTheGreeting",
               .control = Masq4,
               .script = AfterLogin([](Conversation&) {}),
               .hostile_reports = Refusal(Reason::kNotLoggedIn),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortAfterUnsolicited230",
               .control = Masq4,
               .script = AfterLogin([](Conversation& ftp) {
                 ftp.Server("220 ready\r\n");
                 ftp.Client("USER anonymous\r\n");
                 ftp.Server("331 password please\r\n");
                 ftp.Client("PASS wrong\r\n");
                 ftp.Server("530 Login incorrect\r\n");
                 ftp.Server("230 Logged in anyway\r\n");  // answers nothing
               }),
               .hostile_reports = Refusal(Reason::kNotLoggedIn),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortAfter230AnsweringNoop",
               .control = Masq4,
               .script = AfterLogin([](Conversation& ftp) {
                 ftp.Server("220 ready\r\n");
                 ftp.Client("NOOP\r\n");
                 ftp.Server("230 Logged in\r\n");  // RFC 959 5.4: 230 answers USER/PASS/ACCT
               }),
               .hostile_reports = Refusal(Reason::kNotLoggedIn),
               .legit_admits = MasqPort()});

  // 7. Lines past the line bound (512; the trailing spaces alone would be accepted), NUL, and
  // bytes outside ASCII.
  p.push_back({.name = "PortPaddedPastTheLineBound",
               .control = Masq4,
               .script = Active("PORT 192,0,2,2,4,1   \r\n",
                                "PORT 192,0,2,2,4,1" + std::string(600, ' ') + "\r\n"),
               .hostile_reports = Refusal(Reason::kOverlong),
               .legit_admits = MasqPort()});
  p.push_back(
      {.name = "Reply227PaddedPastTheLineBound",
       .control = Pub4,
       .script = Passive(
           "PASV\r\n", "227 Entering Passive Mode (192,0,2,10,195,80)   \r\n", "PASV\r\n",
           "227 Entering Passive Mode (192,0,2,10,195,80)" + std::string(600, ' ') + "\r\n"),
       .hostile_reports = Refusal(Reason::kOverlong),
       .legit_admits = PubPasv()});
  p.push_back({.name = "PortWithNul",
               .control = Masq4,
               .script = Active(kPort, WithNul("PORT 192,0,2,2", ",4,1\r\n")),
               .hostile_reports = Refusal(Reason::kMalformed),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortWithNulAfterTheAddress",
               .control = Masq4,
               .script = Active(kPort, WithNul("PORT 192,0,2,2,4,1", "\r\n")),
               .hostile_reports = Refusal(Reason::kMalformed, "trailing-garbage"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortWithBytesAbove0x7f",
               .control = Masq4,
               .script = Active(kPort, "PORT 192,0,2,2,4,1\xff\xfe\r\n"),
               .hostile_reports = Refusal(Reason::kMalformed, "trailing-garbage"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "PortWithNonAsciiDigit",
               .control = Masq4,
               // U+0661 ARABIC-INDIC DIGIT ONE
               .script = Active(kPort, "PORT 192,0,2,2,4,\xd9\xa1\r\n"),
               .hostile_reports = Refusal(Reason::kMalformed),
               .legit_admits = MasqPort()});
  p.push_back({.name = "Reply227WithNulInTheNumbers",
               .control = Pub4,
               .script = Passive("PASV\r\n", kPub227, "PASV\r\n",
                                 WithNul("227 Entering Passive Mode (192,0,2,10,195", ",80).\r\n")),
               .hostile_reports = Refusal(Reason::kMalformed),
               .legit_admits = PubPasv()});
  p.push_back({.name = "UserWithNulBeforeLogin",
               .control = Masq4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Server("220 ready\r\n");
                     ftp.Client(h ? WithNul("USER anon", "ymous\r\n") : "USER anonymous\r\n");
                     ftp.Server("331 password please\r\n");
                     ftp.Client("PASS guest@\r\n");
                     ftp.Server("230 logged in\r\n");
                     ftp.Client(kPort);
                   },
               .hostile_reports = StepAside(Reason::kNotFtp),
               .legit_admits = MasqPort()});

  // 8. The other address family.
  p.push_back({.name = "EprtIpv6OnIpv4Connection",
               .control = Masq4,
               .script = Active("EPRT |1|192.0.2.2|1025|\r\n", "EPRT |2|2001:db8:1::2|1025|\r\n"),
               .hostile_reports = Refusal(Reason::kWrongFamily, "wrong-family"),
               .legit_admits = MasqPort()});
  p.push_back({.name = "EprtIpv4OnIpv6Connection",
               .control = Masq6,
               .script = Active("EPRT |2|2001:db8:1::2|1025|\r\n", "EPRT |1|192.0.2.2|1025|\r\n"),
               .hostile_reports = Refusal(Reason::kWrongFamily, "wrong-family"),
               .legit_admits = Masq6Port()});
  p.push_back({.name = "PortOnIpv6Connection",
               .control = Masq6,
               .script = Active("EPRT |2|2001:db8:1::2|1025|\r\n", kPort),
               .hostile_reports = Refusal(Reason::kWrongFamily),
               .legit_admits = Masq6Port()});
  p.push_back({.name = "Reply227OnIpv6Connection",
               .control = Pub6,
               .script = Passive("EPSV\r\n", "229 Entering Extended Passive Mode (|||50000|)\r\n",
                                 "PASV\r\n", kPub227),
               .hostile_reports = Refusal(Reason::kWrongFamily),
               .legit_admits = Pub6Pasv()});

  // 9. The control connection switches to TLS: plaintext after 234 is not parsed.
  p.push_back({.name = "PortAfterAuthTls",
               .control = Masq4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Login();
                     ftp.Client("AUTH TLS\r\n");
                     ftp.Server(h ? "234 Proceed with negotiation\r\n"
                                  : "534 TLS not available\r\n");
                     ftp.Client(kPort);
                   },
               .hostile_reports = StepAside(Reason::kTls),
               .legit_admits = MasqPort()});
  p.push_back({.name = "LoginAndPortAfterAuthTlsBeforeLogin",
               .control = Masq4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Server("220 ready\r\n");
                     ftp.Client("AUTH TLS\r\n");
                     ftp.Server(h ? "234 Proceed with negotiation\r\n"
                                  : "534 TLS not available\r\n");
                     ftp.Client("USER anonymous\r\n");
                     ftp.Server("331 password please\r\n");
                     ftp.Client("PASS guest@\r\n");
                     ftp.Server("230 logged in\r\n");
                     ftp.Client(kPort);
                   },
               .hostile_reports = StepAside(Reason::kTls),
               .legit_admits = MasqPort()});
  p.push_back({.name = "Reply227AfterAuthTls",
               .control = Pub4,
               .script =
                   [](Conversation& ftp, bool h) {
                     ftp.Handshake();
                     ftp.Login();
                     ftp.Client("AUTH SSL\r\n");
                     ftp.Server(h ? "234 AUTH SSL ok\r\n" : "504 not supported\r\n");
                     ftp.Client("PASV\r\n");
                     ftp.Server(kPub227);
                   },
               .hostile_reports = StepAside(Reason::kTls),
               .legit_admits = PubPasv()});
  return p;
}

class HostileProbe : public ::testing::TestWithParam<Probe> {
 protected:
  RecordingInstaller installer;
};

TEST_P(HostileProbe, LegitimateVariantOpensTheDataPath) {
  const Probe& probe = GetParam();
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, probe.control());
  probe.script(ftp, /*hostile=*/false);
  const std::vector<Event> events = AllEvents(ftp);
  ASSERT_EQ(installer.installed.size(), 1u) << Describe(events);
  EXPECT_EQ(installer.installed[0].destination, probe.legit_admits) << Describe(events);
  EXPECT_TRUE(installer.removed.empty()) << Describe(events);
  EXPECT_TRUE(ftp.EventsOf(EventType::kRefuse).empty()) << Describe(events);
  EXPECT_TRUE(ftp.EventsOf(EventType::kStepAside).empty()) << Describe(events);
  EXPECT_EQ(engine.counters().Get(Counter::kExpectations), 1u);
}

TEST_P(HostileProbe, HostileVariantOpensNothing) {
  const Probe& probe = GetParam();
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, probe.control());
  probe.script(ftp, /*hostile=*/true);
  const std::vector<Event> events = AllEvents(ftp);
  EXPECT_TRUE(installer.installed.empty()) << Describe(events);
  EXPECT_TRUE(ftp.EventsOf(EventType::kExpect).empty()) << Describe(events);
  EXPECT_EQ(engine.counters().Get(Counter::kExpectations), 0u);
  // Rewritten only to conceal an inside address (issue 11 part 4, docs/gaps.md): each rewrite
  // names no inside address; every other packet leaves as it came (no sequence shift either).
  const auto rewrites = ftp.EventsOf(EventType::kRewrite);
  EXPECT_EQ(rewrites.size(), engine.counters().Get(Counter::kAddressesConcealed));
  for (const Event& rewrite : rewrites) {
    for (const char* inside : {"192,0,2,", "192.0.2.", "2001:db8:1:"}) {
      EXPECT_EQ(rewrite.new_text.find(inside), std::string::npos) << Describe(events);
    }
  }
  if (rewrites.empty()) {
    for (size_t i = 0; i < ftp.decisions.size(); ++i) {
      EXPECT_FALSE(ftp.decisions[i].modified) << "packet " << i;
    }
  }
  if (!probe.hostile_reports) {
    EXPECT_TRUE(ftp.EventsOf(EventType::kRefuse).empty()) << Describe(events);
    EXPECT_TRUE(ftp.EventsOf(EventType::kStepAside).empty()) << Describe(events);
    return;
  }
  const Report& expected = *probe.hostile_reports;
  const std::vector<Event> reported = ftp.EventsOf(expected.event);
  ASSERT_EQ(reported.size(), 1u) << Describe(events);
  EXPECT_EQ(reported[0].reason, expected.reason) << Describe(events);
  if (!expected.detail.empty()) {
    EXPECT_EQ(reported[0].detail, expected.detail) << Describe(events);
  }
  // A step-aside is the only event of its kind; a refusal is the only refusal.
  const EventType other =
      expected.event == EventType::kRefuse ? EventType::kStepAside : EventType::kRefuse;
  EXPECT_TRUE(ftp.EventsOf(other).empty()) << Describe(events);
}

INSTANTIATE_TEST_SUITE_P(Cases, HostileProbe, ::testing::ValuesIn(Probes()),
                         [](const ::testing::TestParamInfo<Probe>& param) {
                           return param.param.name;
                         });

// ------------------------------------------------------------------------------------------------
// 6. A flood of PORT commands on one control connection.

std::string PortTo(uint32_t port) {
  return "PORT 192,0,2,2," + std::to_string(port >> 8) + "," + std::to_string(port & 0xff) + "\r\n";
}

void Flood(bool server_answers) {
  RecordingInstaller installer;
  const EngineConfig config = ReplayConfig();
  const size_t bound = config.policy.max_pending_expectations;
  ASSERT_EQ(bound, 4u);  // the documented default
  Engine engine(config, installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  constexpr uint32_t kCount = 2000;
  constexpr uint32_t kWarmUp = 64;
  size_t memory_after_warm_up = 0;
  size_t memory_max = 0;
  for (uint32_t i = 0; i < kCount; ++i) {
    ftp.Client(PortTo(1025 + i));
    if (server_answers) ftp.Server("200 PORT ok\r\n");
    ASSERT_EQ(installer.installed.size(), i + 1) << "PORT " << i << " was not acted on";
    ASSERT_LE(installer.installed.size() - installer.removed.size(), bound);
    if (i + 1 == kWarmUp) memory_after_warm_up = engine.ApproximateMemory();
    if (i + 1 > kWarmUp) memory_max = std::max(memory_max, engine.ApproximateMemory());
  }
  EXPECT_LE(memory_max, memory_after_warm_up) << "memory grew with the flood";
  EXPECT_GT(memory_after_warm_up, 0u);
  // Oldest replaced first: withdrawals follow installations in order, and the newest `bound`
  // expectations are the ones left.
  ASSERT_EQ(installer.removed.size(), kCount - bound);
  for (size_t i = 0; i < installer.removed.size(); ++i) {
    ASSERT_EQ(installer.removed[i].destination, installer.installed[i].destination) << i;
  }
  EXPECT_EQ(installer.installed.back().destination, Ep("198.51.100.1", 1025 + kCount - 1));
  EXPECT_EQ(CountEvents(ftp, EventType::kUnexpect, Reason::kReplaced), kCount - bound);
  EXPECT_EQ(engine.counters().Get(Counter::kExpectationsReplaced), kCount - bound);
  EXPECT_EQ(engine.counters().Get(Counter::kExpectations), kCount);
  // The session still works afterwards: a PASV is paired when the server has kept up.
  if (server_answers) {
    ftp.Client("PASV\r\n");
    ftp.Server("227 Entering Passive Mode (198,51,100,2,195,80)\r\n");
    EXPECT_EQ(installer.installed.back().destination, Ep("198.51.100.2", 50000));
  }
}

TEST(HostileEngineTest, PortFloodWithRepliesStaysBoundedOldestReplacedMemoryFlat) { Flood(true); }

TEST(HostileEngineTest, PortFloodWithoutRepliesStaysBoundedOldestReplacedMemoryFlat) {
  Flood(false);
}

TEST(HostileEngineTest, PortFloodHonoursAConfiguredBound) {
  RecordingInstaller installer;
  EngineConfig config = ReplayConfig();
  config.policy.max_pending_expectations = 1;
  Engine engine(config, installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  for (uint32_t i = 0; i < 100; ++i) ftp.Client(PortTo(2000 + i));
  EXPECT_EQ(installer.installed.size(), 100u);
  EXPECT_EQ(installer.removed.size(), 99u);
}

// ------------------------------------------------------------------------------------------------
// 7. A 16 MiB line: memory stays flat while it streams past, and parsing resumes after it.

constexpr size_t kSixteenMiB = 16u << 20;
constexpr size_t kSegment = 60000;  // fits an IPv4 packet

struct LongLineResult {
  size_t baseline = 0;
  size_t peak = 0;
};

// Sends `head` + 16 MiB of `fill` + "\r\n" from `direction` in large segments, measuring the
// engine's memory before and during the line.
LongLineResult SendLongLine(Engine& engine, Conversation& ftp, Direction direction,
                            const std::string& head, char fill) {
  LongLineResult result;
  result.baseline = engine.ApproximateMemory();
  result.peak = result.baseline;
  ftp.Send(direction, head);
  const std::string chunk(kSegment, fill);
  for (size_t sent = 0; sent < kSixteenMiB; sent += kSegment) {
    const size_t n = std::min(kSegment, kSixteenMiB - sent);
    ftp.Send(direction, n == kSegment ? chunk : chunk.substr(0, n));
    result.peak = std::max(result.peak, engine.ApproximateMemory());
  }
  ftp.Send(direction, "\r\n");
  return result;
}

TEST(HostileEngineTest, SixteenMebibyteCommandLineKeepsMemoryFlatAndParsingResumes) {
  RecordingInstaller installer;
  const EngineConfig config = ReplayConfig();
  Engine engine(config, installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  const LongLineResult memory =
      SendLongLine(engine, ftp, Direction::kOriginal, "PORT 192,0,2,2,4,1", ' ');
  // The framer holds at most the line bound of the line's start.
  EXPECT_LE(memory.peak, memory.baseline + config.max_line_length);
  EXPECT_EQ(engine.counters().Get(Counter::kLinesOverlong), 1u);
  EXPECT_EQ(CountEvents(ftp, EventType::kRefuse, Reason::kOverlong), 1u);
  EXPECT_TRUE(installer.installed.empty());
  ftp.Server("500 Line too long\r\n");
  // Parsing resumes right after it: the next PORT is acted on and rewritten.
  Decision d = ftp.Client(kPort);
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, MasqPort());
  ASSERT_TRUE(d.modified);
  EXPECT_EQ(PayloadOf(d.packet), "PORT 198,51,100,1,4,1\r\n");
  EXPECT_LE(engine.ApproximateMemory(), memory.baseline + 1024);
}

TEST(HostileEngineTest, SixteenMebibyteReplyLineKeepsMemoryFlatAndPairingHolds) {
  RecordingInstaller installer;
  const EngineConfig config = ReplayConfig();
  Engine engine(config, installer);
  Conversation ftp(engine, Published());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PASV\r\n");
  const LongLineResult memory = SendLongLine(engine, ftp, Direction::kReply,
                                             "227 Entering Passive Mode (192,0,2,10,195,80) ", 'x');
  EXPECT_LE(memory.peak, memory.baseline + config.max_line_length);
  EXPECT_EQ(CountEvents(ftp, EventType::kRefuse, Reason::kOverlong), 1u);
  EXPECT_TRUE(installer.installed.empty());
  ftp.Client("PASV\r\n");
  ftp.Server(kPub227);
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, PubPasv());
}

TEST(HostileEngineTest, SixteenMebibyteLineBeforeLoginSetsTheSessionAside) {
  RecordingInstaller installer;
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Server("220 ready\r\n");
  const LongLineResult memory = SendLongLine(engine, ftp, Direction::kOriginal, "USER ", 'a');
  EXPECT_LE(memory.peak, memory.baseline + 512);
  EXPECT_EQ(CountEvents(ftp, EventType::kStepAside, Reason::kNotFtp), 1u);
  ftp.Server("230 Logged in\r\n");
  ftp.Client(kPort);
  EXPECT_TRUE(installer.installed.empty());
}

// ------------------------------------------------------------------------------------------------
// 7. Bytes outside ASCII in a reply the engine rewrites: the bytes pass unchanged, the address is
// rewritten, and the JSON line of every event is valid UTF-8 and valid JSON.

TEST(HostileEngineTest, Reply227WithNonUtf8AndNulIsRewrittenAndItsJsonStaysValid) {
  RecordingInstaller installer;
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Published());
  ftp.Handshake();
  ftp.Login();
  ftp.Client("PASV\r\n");
  std::string reply =
      "227 Entr\xe9"
      "e en mode passif \xff\xfe\x80 (192,0,2,10,195,80)";
  reply.push_back('\0');
  reply += "\xc3(\r\n";  // an invalid two-byte sequence
  Decision d = ftp.Server(reply);
  ASSERT_EQ(installer.installed.size(), 1u);
  ASSERT_TRUE(d.modified);
  std::string expected =
      "227 Entr\xe9"
      "e en mode passif \xff\xfe\x80 (198,51,100,1,195,80)";
  expected.push_back('\0');
  expected += "\xc3(\r\n";
  EXPECT_EQ(PayloadOf(d.packet), expected);

  const std::vector<Event> events = AllEvents(ftp);
  ASSERT_FALSE(ftp.EventsOf(EventType::kRewrite).empty());
  for (const Event& event : events) {
    const std::string line = JsonLine(EventToJson(event));
    EXPECT_TRUE(IsValidUtf8(line)) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    if (event.type == EventType::kRewrite) {
      const std::string old_text = parsed["old"].get<std::string>();
      EXPECT_NE(old_text.find("(192,0,2,10,195,80)"), std::string::npos) << old_text;
      EXPECT_NE(old_text.find('\0'), std::string::npos) << "NUL kept as \\u0000";
      EXPECT_NE(parsed["new"].get<std::string>().find("(198,51,100,1,195,80)"), std::string::npos);
    }
  }
}

TEST(HostileEngineTest, IndependentUtf8CheckerRejectsWhatItShould) {
  // The checker used above must itself be able to fail.
  EXPECT_TRUE(IsValidUtf8("plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc3("));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));      // truncated
}

// ------------------------------------------------------------------------------------------------
// 9. TLS: what was announced before the switch is withdrawn with it.

TEST(HostileEngineTest, AuthTlsWithdrawsThePortAnnouncedBeforeIt) {
  RecordingInstaller installer;
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, Masqueraded());
  ftp.Handshake();
  ftp.Login();
  ftp.Client(kPort);
  ASSERT_EQ(installer.installed.size(), 1u);  // positive control
  ftp.Server("200 PORT ok\r\n");
  ftp.Client("AUTH TLS\r\n");
  ftp.Server("234 go ahead\r\n");
  ASSERT_EQ(installer.removed.size(), 1u);
  EXPECT_EQ(installer.removed[0].destination, MasqPort());
  EXPECT_EQ(CountEvents(ftp, EventType::kUnexpect, Reason::kTls), 1u);
  // The server's bytes after 234 (a TLS ServerHello for real) are not parsed either.
  ftp.Client("PASV\r\n");
  ftp.Server("227 Entering Passive Mode (198,51,100,2,195,80)\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
  EXPECT_GT(engine.counters().Get(Counter::kBytesIgnored), 0u);
}

// ------------------------------------------------------------------------------------------------
// 10. Retransmitted, overlapping and reordered segments of a rewritten command.

// The forwarded client stream, checked byte for byte: every copy of a byte must agree.
ForwardedStream ClientStream(const Conversation& ftp, uint32_t first_seq) {
  ForwardedStream stream(first_seq);
  for (size_t i = 0; i < ftp.decisions.size(); ++i) {
    if (ftp.input_directions[i] == Direction::kOriginal) stream.Add(ftp.Forwarded(i));
  }
  return stream;
}

uint32_t SeqOf(const std::vector<uint8_t>& packet) { return ParseTcpPacket(packet).view.seq; }
uint32_t AckOf(const std::vector<uint8_t>& packet) { return ParseTcpPacket(packet).view.ack; }

constexpr uint8_t kPsh = tcp_flags::kAck | tcp_flags::kPsh;

class RetransmissionTest : public ::testing::Test {
 protected:
  RetransmissionTest() : engine(ReplayConfig(), installer), ftp(engine, Masqueraded()) {
    ftp.Handshake();
    first_seq = ftp.client_seq();
    ftp.Login();
  }
  RecordingInstaller installer;
  Engine engine;
  Conversation ftp;
  uint32_t first_seq = 0;
};

TEST_F(RetransmissionTest, IdenticalRetransmissionGetsIdenticalBytes) {
  const uint32_t port_seq = ftp.client_seq();
  const Decision first = ftp.Client(kPort);
  ASSERT_TRUE(first.modified);
  const Decision again = ftp.Send(Direction::kOriginal, kPort, kPsh, port_seq);
  const Decision third = ftp.Send(Direction::kOriginal, kPort, kPsh, port_seq);
  EXPECT_EQ(again.packet, first.packet);
  EXPECT_EQ(third.packet, first.packet);
  ftp.Client("NOOP\r\n");
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nPORT 198,51,100,1,4,1\r\nNOOP\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);  // no double expectation
  EXPECT_EQ(engine.counters().Get(Counter::kRetransmitRewrites), 2u);
}

TEST_F(RetransmissionTest, CoalescedRetransmissionCarriesTheSameRewriteAndFramesNewBytesOnce) {
  const uint32_t port_seq = ftp.client_seq();
  const Decision first = ftp.Client(kPort);
  // The sender resends the PORT segment merged with the next command (RFC 1122 4.2.2.15
  // repacketization); the server acknowledges everything.
  const Decision merged =
      ftp.Send(Direction::kOriginal, std::string(kPort) + "PASV\r\n", kPsh, port_seq);
  ftp.Advance(Direction::kOriginal, 6);
  ASSERT_TRUE(merged.modified);
  EXPECT_EQ(SeqOf(merged.packet), SeqOf(first.packet));
  EXPECT_EQ(PayloadOf(merged.packet), "PORT 198,51,100,1,4,1\r\nPASV\r\n");
  const Decision reply = ftp.Server(
      "200 PORT ok\r\n227 Entering Passive Mode "
      "(198,51,100,2,195,80)\r\n");
  EXPECT_EQ(AckOf(reply.packet), ftp.client_seq() + 3);
  const Decision later = ftp.Client("LIST\r\n");
  EXPECT_EQ(SeqOf(later.packet), ftp.client_seq() - 6 + 3);
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nPORT 198,51,100,1,4,1\r\nPASV\r\nLIST\r\n");
  // PORT once, and the PASV framed once from the merged copy: its 227 is paired.
  ASSERT_EQ(installer.installed.size(), 2u);
  EXPECT_EQ(installer.installed[1].destination, Ep("198.51.100.2", 50000));
}

TEST_F(RetransmissionTest, RetransmissionStartingBeforeTheRewrittenSegmentIsConsistent) {
  const uint32_t type_seq = ftp.client_seq();
  ftp.Client("TYPE I\r\n");
  ftp.Client(kPort);
  const Decision both =
      ftp.Send(Direction::kOriginal, std::string("TYPE I\r\n") + kPort, kPsh, type_seq);
  ASSERT_TRUE(both.modified);
  EXPECT_EQ(SeqOf(both.packet), type_seq);
  EXPECT_EQ(PayloadOf(both.packet), "TYPE I\r\nPORT 198,51,100,1,4,1\r\n");
  ftp.Client("NOOP\r\n");
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST_F(RetransmissionTest, RetransmissionWithDifferentBytesOpensNothingNew) {
  // A sender that "retransmits" other text at the same sequence numbers: the receiver keeps
  // one copy, the gateway must not act on the second (the kernel helper parses it again).
  const uint32_t port_seq = ftp.client_seq();
  ftp.Client(kPort);
  const Decision forged = ftp.Send(Direction::kOriginal, "PORT 192,0,2,2,4,9\r\n", kPsh, port_seq);
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, MasqPort());
  EXPECT_TRUE(installer.removed.empty());
  EXPECT_EQ(forged.events.size(), 0u);
  EXPECT_EQ(engine.counters().Get(Counter::kSegmentsRetransmitted), 1u);
}

TEST_F(RetransmissionTest, RetransmissionOfARefusedPortIsNotActedOnAgain) {
  const uint32_t port_seq = ftp.client_seq();
  ftp.Client("PORT 203,0,113,9,4,1\r\n");
  ftp.Send(Direction::kOriginal, "PORT 203,0,113,9,4,1\r\n", kPsh, port_seq);
  EXPECT_TRUE(installer.installed.empty());
  EXPECT_EQ(ftp.EventsOf(EventType::kRefuse).size(), 1u);
}

TEST_F(RetransmissionTest,
       RepacketizedRetransmissionFromInsideTheCommandCarriesTheFirstCopysBytes) {
  // A retransmission that starts inside the rewritten segment ("T 192,..." from the PORT's fourth
  // byte). Its sequence number is shifted as any later segment is (nf_ct_seqadj: the change is
  // recorded at the rewritten segment's first byte), so it must carry, at the same length, the
  // bytes of the first copy that lie there. Found live (tests/vm attack retransmit-from-inside):
  // repeating the whole rewrite made it 3 bytes longer; the kernel then recorded a second change
  // (+6 from there on) and the server received a stray line "1" from the overflow.
  const uint32_t port_seq = ftp.client_seq();
  ftp.Client(kPort);
  const Decision tail = ftp.Send(Direction::kOriginal, "T 192,0,2,2,4,1\r\n", kPsh, port_seq + 3);
  ASSERT_TRUE(tail.modified);
  EXPECT_EQ(tail.payload_delta, 0);
  EXPECT_EQ(SeqOf(tail.packet), port_seq + 3 + 3);
  //                          "PORT 198,51,100,1,4,1\r\n" from its seventh byte on
  EXPECT_EQ(PayloadOf(tail.packet), "98,51,100,1,4,1\r\n");
  ftp.Client("NOOP\r\n");
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nPORT 198,51,100,1,4,1\r\nNOOP\r\n");
  EXPECT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(engine.counters().Get(Counter::kRetransmitRewrites), 1u);
}

TEST_F(RetransmissionTest, RetransmissionFromInsideTheAddressAndBeyondItsEnd) {
  // Starts inside the address text and carries new bytes after the line: the old part gets the
  // first copy's bytes, the new line is framed once and passes as it is.
  const uint32_t port_seq = ftp.client_seq();
  ftp.Client(kPort);
  const Decision resend =
      ftp.Send(Direction::kOriginal, "0,2,2,4,1\r\nNOOP\r\n", kPsh, port_seq + 9);
  ftp.Advance(Direction::kOriginal, 6);
  ASSERT_TRUE(resend.modified);
  EXPECT_EQ(resend.payload_delta, 0);
  EXPECT_EQ(SeqOf(resend.packet), port_seq + 9 + 3);
  //                                 "PORT 198,51,100,1,4,1\r\n" from byte 13 on, then NOOP
  EXPECT_EQ(PayloadOf(resend.packet), "100,1,4,1\r\nNOOP\r\n");
  ftp.Client("QUIT\r\n");
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nPORT 198,51,100,1,4,1\r\nNOOP\r\nQUIT\r\n");
}

TEST_F(RetransmissionTest, ShortResendInsideTheVerbNeedingBytesAfterItIsLeftAlone) {
  // "OR" from the PORT's second byte lands 3 further on, over " 1" of the first copy: the space
  // is an original byte after the segment, which it does not carry (and must not be read).
  const uint32_t port_seq = ftp.client_seq();
  ftp.Client(kPort);
  const Decision piece = ftp.Send(Direction::kOriginal, "OR", kPsh, port_seq + 1);
  EXPECT_EQ(PayloadOf(piece.packet), "OR");
  EXPECT_EQ(piece.payload_delta, 0);
  // "RT " from the third byte lands on "198", the start of the new address.
  const Decision verb_end = ftp.Send(Direction::kOriginal, "RT ", kPsh, port_seq + 2);
  EXPECT_EQ(PayloadOf(verb_end.packet), "198");
  EXPECT_EQ(SeqOf(verb_end.packet), port_seq + 2 + 3);
}

TEST_F(RetransmissionTest, RetransmissionFromInsideWithDifferentBytesIsLeftAlone) {
  // Not the bytes of the first copy: nothing to realign, nothing parsed again, nothing expected.
  const uint32_t port_seq = ftp.client_seq();
  ftp.Client(kPort);
  const Decision other = ftp.Send(Direction::kOriginal, "T 192,0,2,2,4,9\r\n", kPsh, port_seq + 3);
  EXPECT_EQ(PayloadOf(other.packet), "T 192,0,2,2,4,9\r\n");
  EXPECT_EQ(other.payload_delta, 0);
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST(RetransmissionShorterRewriteTest, ResendFromInsideRealignsOrIsLeftAsItIs) {
  // A rewrite that shortens the line (inside 198.51.100.200, public 192.0.2.1: delta -5).
  ControlConnection connection;
  connection.original = {Ep("198.51.100.200", 40000), Ep("203.0.113.5", 21)};
  connection.reply = {Ep("203.0.113.5", 21), Ep("192.0.2.1", 40000)};
  RecordingInstaller installer;
  Engine engine(ReplayConfig(), installer);
  Conversation ftp(engine, connection);
  ftp.Handshake();
  ftp.Login();
  const uint32_t port_seq = ftp.client_seq();
  const Decision first = ftp.Client("PORT 198,51,100,200,4,1\r\n");
  ASSERT_EQ(PayloadOf(first.packet), "PORT 192,0,2,1,4,1\r\n");
  // From the address's eighth byte: lands 5 earlier, on "PORT 192,0,2,1,4,1\r\n" from byte 7.
  const Decision inside = ftp.Send(Direction::kOriginal, "100,200,4,1\r\n", kPsh, port_seq + 12);
  EXPECT_EQ(SeqOf(inside.packet), port_seq + 12 - 5);
  EXPECT_EQ(PayloadOf(inside.packet), "2,0,2,1,4,1\r\n");
  EXPECT_EQ(inside.payload_delta, 0);
  // From the verb's fourth byte: it would land 2 bytes before the address, whose bytes the
  // segment does not carry; it goes out as it came (a receiver holding the first copy drops it).
  const Decision verb =
      ftp.Send(Direction::kOriginal, "T 198,51,100,200,4,1\r\n", kPsh, port_seq + 3);
  EXPECT_EQ(PayloadOf(verb.packet), "T 198,51,100,200,4,1\r\n");
  EXPECT_EQ(verb.payload_delta, 0);
  EXPECT_EQ(installer.installed.size(), 1u);
}

TEST_F(RetransmissionTest, ReorderedSegmentsAfterARewriteAreShiftedConsistently) {
  ftp.Client(kPort);
  const uint32_t noop_seq = ftp.client_seq();
  // LIST overtakes NOOP.
  const Decision list = ftp.Send(Direction::kOriginal, "LIST\r\n", kPsh, noop_seq + 6);
  const Decision noop = ftp.Send(Direction::kOriginal, "NOOP\r\n", kPsh, noop_seq);
  ftp.Advance(Direction::kOriginal, 12);
  EXPECT_EQ(SeqOf(list.packet), noop_seq + 6 + 3);
  EXPECT_EQ(SeqOf(noop.packet), noop_seq + 3);
  ftp.Client("QUIT\r\n");
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nPORT 198,51,100,1,4,1\r\n"
            "NOOP\r\nLIST\r\nQUIT\r\n");
  EXPECT_EQ(engine.counters().Get(Counter::kSegmentsOutOfOrder), 1u);
}

TEST_F(RetransmissionTest, PortArrivingAfterAGapIsNotParsedAsDocumented) {
  // include/ftpalg/line_framer.h: a segment beyond the next expected byte is not framed, the late
  // bytes are not framed either, and framing resumes after the segment (it ends in a LF here).
  const uint32_t noop_seq = ftp.client_seq();
  const std::string noop = "NOOP\r\n";
  const Decision early = ftp.Send(Direction::kOriginal, kPort, kPsh, noop_seq + 6);
  const Decision late = ftp.Send(Direction::kOriginal, noop, kPsh, noop_seq);
  ftp.Advance(Direction::kOriginal, 6 + 20);
  EXPECT_FALSE(early.modified);  // not parsed: passes unrewritten, nothing expected
  EXPECT_FALSE(late.modified);
  EXPECT_TRUE(installer.installed.empty());
  EXPECT_EQ(engine.counters().Get(Counter::kSegmentsOutOfOrder), 1u);
  EXPECT_EQ(engine.counters().Get(Counter::kSegmentsRetransmitted), 1u);
  // The gap's segment ended in a LF, so the next line starts cleanly and is parsed: positive
  // control.
  const Decision resumed = ftp.Client("PORT 192,0,2,2,4,3\r\n");
  ASSERT_TRUE(resumed.modified);
  ASSERT_EQ(installer.installed.size(), 1u);
  EXPECT_EQ(installer.installed[0].destination, Ep("198.51.100.1", 1027));
  ftp.Client("NOOP\r\n");
  const ForwardedStream stream = ClientStream(ftp, first_seq);
  EXPECT_TRUE(stream.conflicts().empty()) << stream.conflicts().front();
  EXPECT_EQ(stream.Contiguous(),
            "USER anonymous\r\nPASS guest@\r\nNOOP\r\nPORT 192,0,2,2,4,1\r\n"
            "PORT 198,51,100,1,4,3\r\nNOOP\r\n");
}

}  // namespace
}  // namespace ftpalg::test
