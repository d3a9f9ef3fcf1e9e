// Shared by the live netlink tests (run against the running kernel in a private network
// namespace): conntracks made directly with ctnetlink, so that no traffic is needed.
#pragma once

#include <gtest/gtest.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <string>

#include "ftpalg/ip_address.h"
#include "kernel/netlink_codec.h"
#include "kernel/netlink_socket.h"

namespace ftpalg::kernel::test {

// Runs `scenario` in a forked child (it may unshare namespaces, which a threaded test binary must
// not do in itself) and expects it to return no error text; the text is printed on failure.
inline void ExpectScenarioPasses(std::string (*scenario)()) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        std::string error = scenario();
        if (!error.empty()) std::fprintf(stderr, "%s\n", error.c_str());
        _exit(error.empty() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// A TCP conntrack made with ctnetlink (IPCTNL_MSG_CT_NEW): both tuples, a timeout, state
// ESTABLISHED and, unless `helper` is empty, a helper. Returns 0 or the kernel's errno.
inline int CreateConntrack(NetlinkSocket& socket, const Tuple& original, const Tuple& reply,
                           const char* helper) {
  alignas(8) std::array<uint8_t, 512> buffer{};
  MessageBuilder b(buffer, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW,
                   NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, socket.NextSeq(),
                   original.family() == Family::kIpv4 ? AF_INET : AF_INET6, 0);
  PutCtTuple(b, CTA_TUPLE_ORIG, original, IPPROTO_TCP);
  PutCtTuple(b, CTA_TUPLE_REPLY, reply, IPPROTO_TCP);
  b.PutBe32(CTA_TIMEOUT, 120);
  nlattr* protoinfo = b.BeginNest(CTA_PROTOINFO);
  nlattr* tcp = b.BeginNest(CTA_PROTOINFO_TCP);
  b.PutU8(CTA_PROTOINFO_TCP_STATE, 3);  // TCP_CONNTRACK_ESTABLISHED
  b.EndNest(tcp);
  b.EndNest(protoinfo);
  if (helper[0] != '\0') {
    nlattr* help = b.BeginNest(CTA_HELP);
    b.PutStrz(CTA_HELP_NAME, helper);
    b.EndNest(help);
  }
  BuildResult built = b.Finish();
  if (!built.ok()) return EINVAL;
  return socket.Request(built.message).error;
}

// Deletes the TCP conntrack with that original tuple (IPCTNL_MSG_CT_DELETE). Returns 0 or errno.
inline int DeleteConntrack(NetlinkSocket& socket, const Tuple& original) {
  alignas(8) std::array<uint8_t, 256> buffer{};
  MessageBuilder b(buffer, NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE, NLM_F_ACK, socket.NextSeq(),
                   original.family() == Family::kIpv4 ? AF_INET : AF_INET6, 0);
  PutCtTuple(b, CTA_TUPLE_ORIG, original, IPPROTO_TCP);
  BuildResult built = b.Finish();
  if (!built.ok()) return EINVAL;
  return socket.Request(built.message).error;
}

}  // namespace ftpalg::kernel::test
