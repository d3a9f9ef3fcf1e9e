#include "kernel/help_info.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <string>

#include "kernel/cthelper_messages.h"

namespace ftpalg::kernel {

void PutHelpInfo(MessageBuilder& b, const HelpInfoUpdate& update) {
  if (update.helper_name.empty() || update.helper_name.size() > kHelperNameMax ||
      update.info.size() > kHelperPrivateDataLength) {
    b.Fail(BuildError::kBadInput);
    return;
  }
  nlattr* nest = b.BeginNest(CTA_HELP);
  b.PutStrz(CTA_HELP_NAME, std::string(update.helper_name).c_str());
  b.PutBytes(CTA_HELP_INFO, update.info);
  b.EndNest(nest);
}

size_t MaxHelpInfoSize() {
  return MNL_ATTR_HDRLEN + MNL_ALIGN(MNL_ATTR_HDRLEN + kHelperNameMax + 1) +
         MNL_ALIGN(MNL_ATTR_HDRLEN + kHelperPrivateDataLength);
}

}  // namespace ftpalg::kernel
