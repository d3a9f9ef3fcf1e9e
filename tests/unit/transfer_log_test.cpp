#include "ftpalg/transfer_log.h"

#include <gtest/gtest.h>

#include "engine_test_util.h"
#include "ftpalg/event_json.h"

namespace ftpalg::test {
namespace {

// The engine with the transfer log watching, as the daemon and the replay run them: the log sees
// every control line (the engine's observer) and every event of every decision.
class TransferLogTest : public ::testing::Test {
 protected:
  TransferLogTest() : engine(ReplayConfig(), installer), ftp(engine, Masqueraded()) {
    engine.SetLineObserver(&log);
    ftp.Handshake();
  }

  void Client(const std::string& line) { Feed(ftp.Client(line)); }
  void Server(const std::string& line) { Feed(ftp.Server(line)); }
  void Feed(const Decision& decision) {
    for (const Event& event : decision.events) log.OnEvent(event);
  }
  void LoginAs(const std::string& user) {
    Server("220 ready\r\n");
    Client("USER " + user + "\r\n");
    Server("331 password please\r\n");
    Client("PASS secret\r\n");
    Server("230 logged in\r\n");
  }

  // The data connection of the newest expectation as conntrack's destroy event reports it:
  // `original` from its opener to the expectation's destination, `reply` from where NAT sent it.
  DataConnectionEnd EndOfData(uint64_t original_bytes, uint64_t reply_bytes) {
    const Expectation& exp = installer.installed.back();
    DataConnectionEnd end;
    const bool server_opens = exp.cause == ExpectCause::kPort || exp.cause == ExpectCause::kEprt;
    const Endpoint opener{exp.source, static_cast<uint16_t>(server_opens ? 20 : 50123)};
    end.original = Tuple{opener, exp.destination};
    end.reply = Tuple{exp.nat_to.value_or(exp.destination), opener};
    end.time = ftp.now;
    end.counters[0] = FlowCounters{10, original_bytes, std::nullopt};
    end.counters[1] = FlowCounters{8, reply_bytes, std::nullopt};
    return end;
  }

  TransferRecord OnlyRecord() {
    auto records = log.TakeRecords();
    EXPECT_EQ(records.size(), 1u);
    return records.empty() ? TransferRecord{} : records.front();
  }

  RecordingInstaller installer;
  Engine engine;
  Conversation ftp;
  TransferLog log;
};

TEST_F(TransferLogTest, ActiveRetrJoinsReplyAndDataEndInEitherOrder) {
  LoginAs("alice");
  Client("PORT 192,0,2,2,4,1\r\n");
  Server("200 PORT ok\r\n");
  Client("RETR report.pdf\r\n");
  Server("150 Opening BINARY connection\r\n");
  EXPECT_TRUE(log.OnDataEnd(EndOfData(5000, 300)));
  EXPECT_TRUE(log.TakeRecords().empty()) << "written before its final reply";
  Server("226 Transfer complete\r\n");
  const TransferRecord record = OnlyRecord();
  EXPECT_EQ(record.user, "alice");
  EXPECT_EQ(record.command, "RETR");
  EXPECT_EQ(record.name, "report.pdf");
  EXPECT_EQ(record.final_code, 226);
  EXPECT_TRUE(record.Active());
  ASSERT_TRUE(record.data.has_value());
  EXPECT_EQ(record.data->reply.src, Ep("192.0.2.2", 1025)) << "the inside side of the NAT";
  // Active: the server opened it, so the file travelled in the original direction.
  EXPECT_EQ(record.ToClient()->bytes, 5000u);
  EXPECT_EQ(record.ToServer()->bytes, 300u);
  EXPECT_EQ(record.incomplete, "");

  // The other order: the final reply first, then the data connection's end.
  Client("PORT 192,0,2,2,4,2\r\n");
  Server("200 PORT ok\r\n");
  Client("RETR second\r\n");
  Server("150 Opening\r\n");
  Server("226 Transfer complete\r\n");
  EXPECT_TRUE(log.TakeRecords().empty()) << "written before its data connection ended";
  ftp.now += 120 * kNanosPerSecond;  // conntrack reports the end after TIME_WAIT
  EXPECT_TRUE(log.OnDataEnd(EndOfData(77, 1)));
  const TransferRecord late = OnlyRecord();
  EXPECT_EQ(late.ToClient()->bytes, 77u);
  // The duration ends at the final reply (two segments after RETR), not at the destroy event.
  EXPECT_EQ(late.end_time - late.time, 2 * kNanosPerSecond / 100);
}

TEST_F(TransferLogTest, PassiveStorCountsTheClientsDirectionAsUpload) {
  LoginAs("bob");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("STOR up.bin\r\n");
  Server("150 Ok to send data\r\n");
  log.OnDataEnd(EndOfData(9000, 400));
  Server("226 Transfer complete\r\n");
  const TransferRecord record = OnlyRecord();
  EXPECT_FALSE(record.Active());
  EXPECT_EQ(record.command, "STOR");
  EXPECT_EQ(record.ToServer()->bytes, 9000u);
  EXPECT_EQ(record.ToClient()->bytes, 400u);
}

TEST_F(TransferLogTest, RefusedTransferIsWrittenAtOnceWithoutDataConnection) {
  LoginAs("carol");
  Client("PORT 192,0,2,2,4,1\r\n");
  Server("200 PORT ok\r\n");
  Client("RETR missing\r\n");
  Server("550 No such file\r\n");
  const TransferRecord record = OnlyRecord();
  EXPECT_EQ(record.final_code, 550);
  EXPECT_FALSE(record.data.has_value());
  EXPECT_EQ(record.incomplete, "no-data-connection");
  EXPECT_FALSE(record.ToServer().has_value());
}

TEST_F(TransferLogTest, StouTakesTheNameFromThePreliminaryReply) {
  LoginAs("dave");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("STOU\r\n");
  Server("150 FILE: upload.7f3a\r\n");  // RFC 1123 4.1.2.9
  log.OnDataEnd(EndOfData(10, 10));
  Server("226 Transfer complete\r\n");
  EXPECT_EQ(OnlyRecord().name, "upload.7f3a");
}

TEST_F(TransferLogTest, AbortedTransferKeepsTheCodeThatAnsweredIt) {
  LoginAs("erin");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("RETR big.iso\r\n");
  Server("150 Opening\r\n");
  Client("ABOR\r\n");
  Server("426 Connection closed; transfer aborted\r\n");  // answers RETR (RFC 959 4.1.3 ABOR)
  Server("226 Closing data connection\r\n");              // answers ABOR
  log.OnDataEnd(EndOfData(100, 20000));
  const TransferRecord record = OnlyRecord();
  EXPECT_EQ(record.command, "RETR");
  EXPECT_EQ(record.final_code, 426);
}

TEST_F(TransferLogTest, SecondTransferOverOneExpectationHasNoDataConnection) {
  // Not legal FTP (each transfer needs its own PORT/PASV), and the kernel uses an expectation
  // once: the second RETR's data connection is not predicted.
  LoginAs("frank");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("RETR one\r\n");
  Server("150 Opening\r\n");
  log.OnDataEnd(EndOfData(10, 10));
  Server("226 Done\r\n");
  Client("RETR two\r\n");
  Server("425 Use PORT or PASV first\r\n");
  auto records = log.TakeRecords();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[0].data.has_value());
  EXPECT_EQ(records[1].name, "two");
  EXPECT_FALSE(records[1].expectation.has_value());
  EXPECT_EQ(records[1].final_code, 425);
}

TEST_F(TransferLogTest, PipelinedPasvAndRetrGetTheExpectationThatCameLater) {
  LoginAs("gina");
  Client("PASV\r\nRETR a\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Server("150 Opening\r\n");
  EXPECT_TRUE(log.OnDataEnd(EndOfData(10, 10)));
  Server("226 Done\r\n");
  EXPECT_EQ(OnlyRecord().name, "a");
}

TEST_F(TransferLogTest, SessionEndingWithTransferOpenIsFlushedByExpiry) {
  LoginAs("hank");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("RETR stuck\r\n");
  Server("150 Opening\r\n");
  std::vector<Event> ended;
  engine.EndSession(Masqueraded().original, ftp.now, &ended);
  for (const Event& event : ended) log.OnEvent(event);
  log.Expire(ftp.now + kNanosPerSecond);
  EXPECT_TRUE(log.TakeRecords().empty()) << "its data connection may still end";
  log.Expire(ftp.now + TransferLogConfig{}.data_end_wait);
  const TransferRecord record = OnlyRecord();
  EXPECT_EQ(record.final_code, 0);
  EXPECT_EQ(record.incomplete, "no-final-reply");
  EXPECT_EQ(log.open_transfers(), 0u);
}

// After a gap the log's own command/reply pairing is lost too: a reply that comes after it must
// not be taken as the answer to a transfer command sent before it (the 226 of a lost RETR would
// otherwise close the next transfer with the wrong code).
TEST_F(TransferLogTest, AGapForgetsTheCommandsWaitingForReplies) {
  LoginAs("judy");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("RETR first\r\n");
  const std::string lost = "150 Opening\r\n226 done\r\n";
  ftp.Advance(Direction::kReply, static_cast<uint32_t>(lost.size()));  // never seen
  Client("NOOP\r\n");
  Server("200 NOOP ok\r\n");  // reveals the gap: not parsed
  Client("NOOP\r\n");
  Server("200 NOOP ok\r\n");
  log.Expire(ftp.now + TransferLogConfig{}.reply_wait);
  const TransferRecord record = OnlyRecord();
  EXPECT_EQ(record.name, "first");
  EXPECT_EQ(record.final_code, 0) << "the 200 after the gap answers NOOP, not RETR";
}

TEST_F(TransferLogTest, FinalReplyWithoutDataEndIsWrittenAfterTheWait) {
  LoginAs("ivan");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("LIST\r\n");
  Server("150 Here comes the listing\r\n");
  Server("226 Directory send OK\r\n");
  log.Expire(ftp.now + TransferLogConfig{}.data_end_wait);
  const TransferRecord record = OnlyRecord();
  EXPECT_EQ(record.incomplete, "data-end-unseen");
  EXPECT_EQ(record.final_code, 226);
}

TEST_F(TransferLogTest, TransfersPerSessionAreBounded) {
  TransferLogConfig config;
  config.max_transfers_per_session = 2;
  log = TransferLog(config);
  LoginAs("judy");
  for (int i = 0; i < 5; ++i) Client("RETR f" + std::to_string(i) + "\r\n");
  EXPECT_EQ(log.open_transfers(), 2u);
  auto records = log.TakeRecords();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].incomplete, "evicted");
}

TEST_F(TransferLogTest, JsonBoundsAndEscapesTheName) {
  TransferLogConfig config;
  config.max_name_length = 8;
  log = TransferLog(config);
  LoginAs("k\"ate");
  Client("RETR a\"b\\c\x01\xff-very-long-name\r\n");
  Server("550 no\r\n");
  const std::string line = JsonLine(TransferRecordToJson(OnlyRecord()));
  EXPECT_NE(line.find(R"("user":"k\"ate")"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("name_truncated":true)"), std::string::npos) << line;
  EXPECT_EQ(line.find("very"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("reply":550)"), std::string::npos) << line;
  EXPECT_NE(line.find(R"("data":null)"), std::string::npos) << line;
}

TEST_F(TransferLogTest, AccountingOffLeavesCountsNull) {
  LoginAs("leo");
  Client("PASV\r\n");
  Server("227 Entering Passive Mode (198,51,100,2,195,80).\r\n");
  Client("RETR x\r\n");
  Server("150 Opening\r\n");
  DataConnectionEnd end = EndOfData(0, 0);
  end.counters = {};  // net.netfilter.nf_conntrack_acct=0
  log.OnDataEnd(end);
  Server("226 Done\r\n");
  const std::string line = JsonLine(TransferRecordToJson(OnlyRecord()));
  EXPECT_NE(line.find(R"("to_server":null,"to_client":null)"), std::string::npos) << line;
}

TEST_F(TransferLogTest, UnpredictedDataConnectionMatchesNothing) {
  LoginAs("mia");
  DataConnectionEnd end;
  end.original = Tuple{Ep("203.0.113.5", 1234), Ep("198.51.100.1", 5555)};
  EXPECT_FALSE(log.OnDataEnd(end));
}

}  // namespace
}  // namespace ftpalg::test
