// NetlinkSocket::ReceiveMany against the running kernel: several datagrams in one recvmmsg, the
// sender check (a datagram from user space is left out, as Receive drops it), nothing ready.
#include "kernel/netlink_socket.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace ftpalg::kernel {
namespace {

// NLMSG_NOOP with NLM_F_ACK: netlink_rcv_skb acknowledges control types without handing them to
// nfnetlink, so every kernel with netlink answers it with one datagram (an ack, error 0).
std::array<uint8_t, sizeof(nlmsghdr)> NoopRequest(uint32_t seq) {
  nlmsghdr header{};
  header.nlmsg_len = sizeof(nlmsghdr);
  header.nlmsg_type = NLMSG_NOOP;
  header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  header.nlmsg_seq = seq;
  std::array<uint8_t, sizeof(nlmsghdr)> bytes{};
  std::memcpy(bytes.data(), &header, sizeof header);
  return bytes;
}

class ReceiveManyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (int error = socket.Open(); error != 0) {
      GTEST_SKIP() << "no NETLINK_NETFILTER socket here: " << std::strerror(error);
    }
    for (auto& buffer : storage) buffer.assign(256, 0);
    for (size_t i = 0; i < storage.size(); ++i) views[i] = storage[i];
  }
  NetlinkSocket socket;
  std::array<std::vector<uint8_t>, 8> storage;
  std::array<std::span<uint8_t>, 8> views;
  std::array<size_t, 8> sizes{};
};

TEST_F(ReceiveManyTest, TakesEveryDatagramThatIsThereInOneCall) {
  for (uint32_t seq = 1; seq <= 3; ++seq) ASSERT_EQ(socket.Send(NoopRequest(seq)), 0);
  size_t count = 0;
  ASSERT_EQ(socket.ReceiveMany(views, /*wait=*/true, sizes, &count), 0);
  ASSERT_EQ(count, 3u);
  for (size_t i = 0; i < count; ++i) {
    ASSERT_EQ(sizes[i], sizeof(nlmsghdr) + sizeof(nlmsgerr)) << i;
    nlmsghdr answer{};
    std::memcpy(&answer, storage[i].data(), sizeof answer);
    EXPECT_EQ(answer.nlmsg_type, NLMSG_ERROR);
    EXPECT_EQ(answer.nlmsg_seq, i + 1);  // in the order sent
  }
  EXPECT_EQ(socket.ReceiveMany(views, /*wait=*/false, sizes, &count), EAGAIN);
  EXPECT_EQ(count, 0u);
}

TEST_F(ReceiveManyTest, TakesNoMoreThanItsSlots) {
  for (uint32_t seq = 1; seq <= 3; ++seq) ASSERT_EQ(socket.Send(NoopRequest(seq)), 0);
  size_t count = 0;
  ASSERT_EQ(socket.ReceiveMany(std::span(views).first(2), /*wait=*/true, sizes, &count), 0);
  EXPECT_EQ(count, 2u);
  ASSERT_EQ(socket.ReceiveMany(views, /*wait=*/false, sizes, &count), 0);
  EXPECT_EQ(count, 1u);  // the third, left for the next call
}

TEST_F(ReceiveManyTest, LeavesOutDatagramsFromUserSpaceAndCutShortOnes) {
  NetlinkSocket other;
  ASSERT_EQ(other.Open(), 0);
  // Another process's socket writes straight to ours: that must never pass for the kernel.
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  to.nl_pid = socket.portid();
  const auto forged = NoopRequest(99);
  ASSERT_EQ(sendto(other.fd(), forged.data(), forged.size(), 0,
                   reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(forged.size()));
  // And a kernel answer too long for its slot.
  ASSERT_EQ(socket.Send(NoopRequest(7)), 0);
  std::array<uint8_t, 8> tiny{};
  std::array<std::span<uint8_t>, 2> slots = {std::span<uint8_t>(tiny), std::span<uint8_t>(tiny)};
  size_t count = 0;
  ASSERT_EQ(socket.ReceiveMany(slots, /*wait=*/true, sizes, &count), 0);
  ASSERT_EQ(count, 2u);
  EXPECT_EQ(sizes[0], 0u);  // from user space
  EXPECT_EQ(sizes[1], 0u);  // cut short
}

}  // namespace
}  // namespace ftpalg::kernel
