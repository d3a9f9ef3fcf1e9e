// Decoding ctnetlink conntrack events (kernel/conntrack_events.h): destroy events with and without
// accounting, as the kernel lays them out (ctnetlink_conntrack_event).
#include <endian.h>
#include <gtest/gtest.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <cstring>

#include "kernel/conntrack_events.h"
#include "netlink_test_util.h"

namespace ftpalg::kernel::test {
namespace {

Tuple Data(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  return Tuple{Endpoint{*IpAddress::Parse(src), sport}, Endpoint{*IpAddress::Parse(dst), dport}};
}

void PutBe64(MessageBuilder& b, uint16_t type, uint64_t value) {
  const uint64_t be = htobe64(value);
  uint8_t bytes[8];
  std::memcpy(bytes, &be, sizeof bytes);
  b.PutBytes(type, bytes);
}

void PutCounters(MessageBuilder& b, uint16_t type, uint64_t packets, uint64_t bytes) {
  nlattr* nest = b.BeginNest(type);
  PutBe64(b, CTA_COUNTERS_PACKETS, packets);
  PutBe64(b, CTA_COUNTERS_BYTES, bytes);
  b.EndNest(nest);
}

// A destroy event of an active-mode data connection through a masquerading gateway: the server
// connects to the gateway's public address, NAT sends it to the inside client.
Bytes DestroyEvent(bool accounting, uint8_t message = IPCTNL_MSG_CT_DELETE) {
  MessageBuilder b(Buffer(), NFNL_SUBSYS_CTNETLINK, message, 0, 0, AF_INET, 0);
  PutCtTuple(b, CTA_TUPLE_ORIG, Data("198.51.100.2", 20, "198.51.100.1", 1025), IPPROTO_TCP);
  PutCtTuple(b, CTA_TUPLE_REPLY, Data("192.0.2.2", 1025, "198.51.100.2", 20), IPPROTO_TCP);
  b.PutBe32(CTA_ID, 77);
  b.PutBe32(CTA_STATUS, IPS_EXPECTED | IPS_CONFIRMED | IPS_DST_NAT);
  if (accounting) {
    PutCounters(b, CTA_COUNTERS_ORIG, 40, 2'100'000);
    PutCounters(b, CTA_COUNTERS_REPLY, 30, 1'600);
  }
  BuildResult r = b.Finish();
  EXPECT_TRUE(r.ok());
  return Bytes(r.message.begin(), r.message.end());
}

TEST(ConntrackEventsTest, DestroyWithCounters) {
  ConntrackEvent event;
  ASSERT_EQ(ParseConntrackEvent(DestroyEvent(true), &event), DecodeError::kNone);
  EXPECT_TRUE(event.destroy);
  EXPECT_EQ(event.connection.original, Data("198.51.100.2", 20, "198.51.100.1", 1025));
  EXPECT_EQ(event.connection.reply.src, (Endpoint{*IpAddress::Parse("192.0.2.2"), 1025}));
  EXPECT_EQ(event.connection.conntrack_id, 77u);
  ASSERT_TRUE(event.status.has_value());
  EXPECT_NE(*event.status & IPS_EXPECTED, 0u);
  ASSERT_TRUE(event.counters[0].has_value());
  EXPECT_EQ(event.counters[0]->packets, 40u);
  EXPECT_EQ(event.counters[0]->bytes, 2'100'000u);
  EXPECT_EQ(event.counters[1]->bytes, 1'600u);
}

TEST(ConntrackEventsTest, WithoutAccountingThereAreNoCounters) {
  ConntrackEvent event;
  ASSERT_EQ(ParseConntrackEvent(DestroyEvent(false), &event), DecodeError::kNone);
  EXPECT_FALSE(event.counters[0].has_value());
  EXPECT_FALSE(event.counters[1].has_value());
}

TEST(ConntrackEventsTest, NewEventIsNotADestroy) {
  ConntrackEvent event;
  ASSERT_EQ(ParseConntrackEvent(DestroyEvent(false, IPCTNL_MSG_CT_NEW), &event),
            DecodeError::kNone);
  EXPECT_FALSE(event.destroy);
}

TEST(ConntrackEventsTest, EveryTruncationIsRefused) {
  const Bytes message = DestroyEvent(true);
  ConntrackEvent event;
  for (size_t n = 0; n < message.size(); ++n) {
    Bytes part(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_NE(ParseConntrackEvent(part, &event), DecodeError::kNone) << n;
  }
}

}  // namespace
}  // namespace ftpalg::kernel::test
