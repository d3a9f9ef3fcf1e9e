#include "kernel/kernel_status.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace ftpalg::kernel {

std::string ErrnoText(int error) {
  const char* name = strerrorname_np(error);
  std::string text = name != nullptr ? name : "errno " + std::to_string(error);
  text += " (";
  text += std::strerror(error);
  text += ")";
  return text;
}

bool HasNetAdmin() {
  __user_cap_header_struct header{};
  header.version = _LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  // glibc has no capget wrapper; libcap is not worth a dependency for one bit.
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

std::optional<uint32_t> QueueOwnerPortidFromText(std::string_view proc_text, uint16_t queue_num) {
  std::istringstream in{std::string(proc_text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint64_t queue = 0;
    uint64_t portid = 0;
    if (!(fields >> queue >> portid)) continue;
    if (queue == queue_num && portid <= UINT32_MAX) return static_cast<uint32_t>(portid);
  }
  return std::nullopt;
}

std::optional<uint32_t> QueueOwnerPortid(uint16_t queue_num) {
  std::ifstream file("/proc/net/netfilter/nfnetlink_queue");
  if (!file) return std::nullopt;
  std::stringstream text;
  text << file.rdbuf();
  return QueueOwnerPortidFromText(text.str(), queue_num);
}

}  // namespace ftpalg::kernel
