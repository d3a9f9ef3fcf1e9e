// Installs and withdraws the expectations for FTP data connections over ctnetlink. The engine
// tries one outside port after another while the kernel reports the port taken, so "taken" is
// told apart from every other failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ftpalg/expectation.h"
#include "kernel/expect_messages.h"
#include "kernel/kernel_status.h"
#include "kernel/netlink_socket.h"

namespace ftpalg::kernel {

enum class ExpectOutcome : uint8_t {
  kCreated,
  kExists,          // EEXIST: an expectation matching this tuple is already there (maybe our own)
  kClash,           // EBUSY: an expectation overlapping this tuple is there (another master's)
  kNoMaster,        // ENOENT: the control connection's conntrack is gone
  kMasterUnhelped,  // EOPNOTSUPP / ESHUTDOWN: the master carries no helper (rules not applied?)
  kTableFull,       // EMFILE: nf_conntrack_expect_max reached (or the policy's limit)
  kFailed,          // anything else; see error and message
};
std::string_view ExpectOutcomeName(ExpectOutcome outcome);

struct ExpectResult {
  ExpectOutcome outcome = ExpectOutcome::kFailed;
  int error = 0;
  std::string message;  // empty when created
  // The port cannot be used now: the engine moves on to the next one (nf_nat_ftp does the same
  // on EBUSY).
  bool PortTaken() const {
    return outcome == ExpectOutcome::kExists || outcome == ExpectOutcome::kClash;
  }
};

class ExpectationClient {
 public:
  KernelStatus Open();

  // IPCTNL_MSG_EXP_NEW (create only). `zone`: the master's conntrack zone.
  ExpectResult Create(const Expectation& expectation, uint16_t zone = 0);
  // IPCTNL_MSG_EXP_DELETE by tuple. Error ENOENT when it is gone already (used, or expired).
  KernelStatus Delete(const Expectation& expectation, uint16_t zone = 0);
  // Deletes every expectation whose master carries helper `helper_name` (start-up and shutdown
  // clean-up: ours are exactly those).
  KernelStatus FlushHelper(std::string_view helper_name);
  // The expectations of one master conntrack.
  KernelStatus ListForMaster(const Tuple& master, uint16_t zone,
                             std::vector<ParsedExpectation>* out);

 private:
  NetlinkSocket socket_;
  std::vector<uint8_t> buffer_ = std::vector<uint8_t>(1024);
};

}  // namespace ftpalg::kernel
