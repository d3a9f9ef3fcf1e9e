// ProbeKernel() against the running kernel: a well-formed answer as root, agreeing with the
// kernel's own configuration when /proc/config.gz tells it; and "needs root / CAP_NET_ADMIN"
// once the capability is gone.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include "kernel/kernel_probe.h"
#include "kernel/kernel_status.h"

namespace ftpalg::kernel {
namespace {

// "y", "m" or "" (not set) for CONFIG_<name>; nullopt when the configuration is not readable.
std::optional<std::string> KernelConfig(const std::string& name) {
  FILE* pipe = popen("zcat /proc/config.gz 2>/dev/null", "r");
  if (pipe == nullptr) return std::nullopt;
  std::string text;
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), pipe)) > 0) text.append(chunk, n);
  if (pclose(pipe) != 0 || text.empty()) return std::nullopt;
  std::string key = "\nCONFIG_" + name + "=";
  size_t at = text.find(key);
  if (at == std::string::npos) return std::string();
  return text.substr(at + key.size(), 1);
}

bool Mentions(const KernelSupport& support, std::string_view line) {
  for (const std::string& missing : support.missing) {
    if (missing == line) return true;
  }
  return false;
}

TEST(KernelProbeTest, WellFormedAnswer) {
  if (!HasNetAdmin()) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  KernelSupport support = ProbeKernel();
  for (const std::string& line : support.missing) std::printf("missing: %s\n", line.c_str());
  EXPECT_TRUE(support.netlink);
  EXPECT_TRUE(support.permitted);
  // Each flag and its explanation agree.
  EXPECT_EQ(support.cthelper, !Mentions(support, kLacksCthelper));
  EXPECT_EQ(support.ctnetlink, !Mentions(support, kLacksCtnetlink));
  EXPECT_EQ(support.queue, !Mentions(support, kLacksQueue));
  if (support.queue) {
    EXPECT_EQ(support.queue_conntrack, !Mentions(support, kLacksQueueConntrack));
  }
  EXPECT_EQ(support.ok(),
            support.cthelper && support.ctnetlink && support.queue && support.queue_conntrack);
  for (const std::string& line : support.missing) {
    EXPECT_EQ(line.find('\n'), std::string::npos) << "one line each";
  }

  // Where the configuration is readable the probe must agree with it (with modules, "m" counts:
  // nfnetlink loads them on demand).
  if (auto cthelper = KernelConfig("NF_CT_NETLINK_HELPER")) {
    EXPECT_EQ(support.cthelper, !cthelper->empty()) << "CONFIG_NF_CT_NETLINK_HELPER=" << *cthelper;
  }
  if (auto glue = KernelConfig("NETFILTER_NETLINK_GLUE_CT")) {
    EXPECT_EQ(support.queue_conntrack, !glue->empty())
        << "CONFIG_NETFILTER_NETLINK_GLUE_CT=" << *glue;
  }
  if (auto ctnetlink = KernelConfig("NF_CT_NETLINK")) {
    EXPECT_EQ(support.ctnetlink, !ctnetlink->empty());
  }
}

TEST(KernelProbeTest, WithoutCapabilitySaysSo) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to drop to another user";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        // Leaving uid 0 without PR_SET_KEEPCAPS clears every capability.
        if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
        KernelSupport support = ProbeKernel();
        bool ok = support.netlink && !support.permitted && support.missing.size() == 1 &&
                  support.missing[0] == kNeedsNetAdmin && !HasNetAdmin();
        if (!ok) {
          for (const std::string& line : support.missing)
            std::fprintf(stderr, "%s\n", line.c_str());
        }
        _exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace ftpalg::kernel
