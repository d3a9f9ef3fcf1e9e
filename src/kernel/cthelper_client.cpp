#include "kernel/cthelper_client.h"

#include <linux/netfilter.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

namespace ftpalg::kernel {
namespace {

std::string FamilyText(uint16_t l3num) {
  switch (l3num) {
    case NFPROTO_IPV4:
      return "ipv4";
    case NFPROTO_IPV6:
      return "ipv6";
    default:
      return "l3 " + std::to_string(l3num);
  }
}

std::string WithKernelText(std::string text, const NetlinkSocket::Answer& answer) {
  text += ": ";
  text += ErrnoText(answer.error);
  if (!answer.ext_message.empty()) text += ": " + answer.ext_message;
  return text;
}

// The common refusals get the explanation the operator needs; the rest get the kernel's words.
KernelStatus Failure(const std::string& what, const NetlinkSocket::Answer& answer) {
  if (answer.error == EPERM) {
    return KernelStatus::Error(EPERM, what + ": " + std::string(kNeedsNetAdmin));
  }
  return KernelStatus::Error(answer.error, WithKernelText(what, answer));
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= kHelperNameMax && name.find('\0') == std::string::npos;
}

HelperSpec SpecFor(const HelperRegistration& registration, uint16_t l3num) {
  HelperSpec spec;
  spec.key = HelperKey{registration.name, l3num, IPPROTO_TCP};
  spec.queue_num = registration.queue_num;
  spec.policy = registration.policy;
  if (spec.policy.name.empty()) spec.policy.name = registration.name;
  spec.enabled = true;
  spec.priv_data_len = registration.priv_data_len;
  return spec;
}

std::string PolicyNames(const HelperInfo& info) {
  std::string names;
  for (const auto& policy : info.policies) {
    if (!names.empty()) names += ", ";
    names += "'" + policy.name + "'";
  }
  return names.empty() ? "none" : names;
}

}  // namespace

std::string DescribeHelper(const HelperKey& key) {
  std::string text = "conntrack helper '" + key.name + "' (" + FamilyText(key.l3num) + "/";
  text += key.l4proto == IPPROTO_TCP ? "tcp" : std::to_string(key.l4proto);
  return text + ")";
}

KernelStatus CthelperClient::Open() {
  if (int error = socket_.Open(); error != 0) {
    if (error == EPROTONOSUPPORT) return KernelStatus::Error(error, std::string(kLacksNfnetlink));
    return KernelStatus::Error(error,
                               "cannot open a netfilter netlink socket: " + ErrnoText(error));
  }
  return KernelStatus::Ok();
}

NetlinkSocket::Answer CthelperClient::Send(const BuildResult& built) {
  // Every message here is small and its names were checked: a build failure is a bug, not input.
  if (!built.ok()) {
    return {EINVAL, "message not encodable: " + std::string(BuildErrorName(built.error))};
  }
  return socket_.Request(built.message);
}

KernelStatus CthelperClient::Get(const HelperKey& key, HelperInfo* out) {
  if (!ValidName(key.name)) {
    return KernelStatus::Error(
        EINVAL, "helper names need 1 to " + std::to_string(kHelperNameMax) + " characters");
  }
  bool found = false;
  bool unreadable = false;
  BuildResult built = BuildHelperGet(buffer_, socket_.NextSeq(), key);
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode a helper lookup");
  NetlinkSocket::Answer answer =
      socket_.Request(built.message, [&](std::span<const uint8_t> message) {
        HelperInfo info;
        if (ParseHelper(message, &info) != DecodeError::kNone) {
          unreadable = true;
        } else if (!found) {
          *out = info;
          found = true;
        }
      });
  std::string what = "looking up " + DescribeHelper(key);
  // A missing nfnetlink subsystem answers EINVAL (nfnetlink_rcv_msg, verified on 6.18); a
  // well-formed GET has no other reason to.
  if (answer.error == EINVAL || answer.error == EOPNOTSUPP || answer.error == EPROTONOSUPPORT) {
    return KernelStatus::Error(answer.error, what + ": " + std::string(kLacksCthelper));
  }
  // Kernels up to 6.1 at least acknowledge a lookup that matched nothing with success and no
  // data (nfnl_cthelper_get's ret stays 0; observed on Debian's 6.1); newer ones say ENOENT.
  if (answer.error == ENOENT || (answer.error == 0 && !found && !unreadable)) {
    return KernelStatus::Error(ENOENT, DescribeHelper(key) + " is not registered");
  }
  if (answer.error != 0) return Failure(what, answer);
  if (unreadable) return KernelStatus::Error(EBADMSG, what + ": unreadable answer");
  return KernelStatus::Ok();
}

KernelStatus CthelperClient::List(std::vector<HelperInfo>* out) {
  out->clear();
  bool unreadable = false;
  BuildResult built = BuildHelperDump(buffer_, socket_.NextSeq());
  if (!built.ok()) return KernelStatus::Error(EINVAL, "cannot encode a helper dump");
  NetlinkSocket::Answer answer =
      socket_.Request(built.message, [&](std::span<const uint8_t> message) {
        HelperInfo info;
        if (ParseHelper(message, &info) == DecodeError::kNone) {
          out->push_back(std::move(info));
        } else {
          unreadable = true;
        }
      });
  if (answer.error == EINVAL || answer.error == EOPNOTSUPP || answer.error == EPROTONOSUPPORT) {
    return KernelStatus::Error(answer.error,
                               "listing conntrack helpers: " + std::string(kLacksCthelper));
  }
  if (answer.error != 0) return Failure("listing conntrack helpers", answer);
  if (unreadable) {
    return KernelStatus::Error(EBADMSG, "listing conntrack helpers: unreadable answer");
  }
  return KernelStatus::Ok();
}

KernelStatus CthelperClient::Create(const HelperSpec& spec) {
  NetlinkSocket::Answer answer = Send(BuildHelperCreate(buffer_, socket_.NextSeq(), spec));
  if (answer.error == 0) return KernelStatus::Ok();
  if (answer.error == EEXIST || answer.error == EBUSY) {
    // Either another process registered the same helper since our lookup (then it is in the
    // cthelper list now: update it), or the name belongs to a helper built into the kernel, which
    // the cthelper list does not show (__nf_conntrack_helper_register refuses the duplicate).
    HelperInfo info;
    if (Get(spec.key, &info).ok()) {
      NetlinkSocket::Answer update = Send(BuildHelperUpdate(buffer_, socket_.NextSeq(), spec));
      if (update.error == 0) return KernelStatus::Ok();
      return Failure("updating " + DescribeHelper(spec.key), update);
    }
    return KernelStatus::Error(
        answer.error, DescribeHelper(spec.key) +
                          ": the name is taken by a conntrack helper inside the kernel (e.g. "
                          "nf_conntrack_ftp's 'ftp'); choose another helper name");
  }
  return Failure("registering " + DescribeHelper(spec.key), answer);
}

KernelStatus CthelperClient::RegisterOne(const HelperSpec& spec) {
  HelperInfo existing;
  KernelStatus got = Get(spec.key, &existing);
  if (got.error == ENOENT) {
    KernelStatus created = Create(spec);
    if (created.ok()) private_data_length_ = std::min(private_data_length_, spec.priv_data_len);
    return created;
  }
  if (!got.ok()) return got;
  // Taken over in place below: its private data length stays what it was created with.
  private_data_length_ = std::min(private_data_length_, existing.priv_data_len);

  if (existing.queue_num != spec.queue_num && existing.queue_num <= UINT16_MAX) {
    auto owner = QueueOwnerPortid(static_cast<uint16_t>(existing.queue_num));
    if (owner.has_value()) {
      return KernelStatus::Error(
          EBUSY, DescribeHelper(spec.key) + " sends to queue " +
                     std::to_string(existing.queue_num) + ", which netlink port " +
                     std::to_string(*owner) +
                     " has bound: another instance serves it; stop it or choose another name");
    }
  }

  // A stale registration (ours from an earlier run, or nfct's): take it over in place, so that
  // conntracks and rules that already reference it keep working.
  NetlinkSocket::Answer update = Send(BuildHelperUpdate(buffer_, socket_.NextSeq(), spec));
  if (update.error == 0) return KernelStatus::Ok();
  if (update.error != EBUSY) return Failure("updating " + DescribeHelper(spec.key), update);

  // EBUSY: its policies differ in number or name (nfnl_cthelper_update_policy), which an update
  // cannot change. Replace it, if nothing references it.
  NetlinkSocket::Answer removed = Send(BuildHelperDelete(buffer_, socket_.NextSeq(), spec.key));
  if (removed.error == 0) return Create(spec);
  if (removed.error == EBUSY) {
    return KernelStatus::Error(
        EBUSY, DescribeHelper(spec.key) + " exists with other expectation policies (" +
                   PolicyNames(existing) +
                   ") and rules still reference it; delete those rules, or the helper (nfct del "
                   "helper " +
                   spec.key.name + (spec.key.l3num == NFPROTO_IPV6 ? " inet6" : " inet") +
                   " tcp), or choose another name");
  }
  return Failure("replacing " + DescribeHelper(spec.key), removed);
}

KernelStatus CthelperClient::Register(const HelperRegistration& registration) {
  if (!ValidName(registration.name) ||
      (!registration.policy.name.empty() && !ValidName(registration.policy.name))) {
    return KernelStatus::Error(EINVAL, "helper and policy names need 1 to " +
                                           std::to_string(kHelperNameMax) + " characters");
  }
  private_data_length_ = UINT32_MAX;
  for (uint16_t l3num : registration.families) {
    KernelStatus status = RegisterOne(SpecFor(registration, l3num));
    if (!status.ok()) return status;
  }
  return KernelStatus::Ok();
}

KernelStatus CthelperClient::SetEnabled(const HelperRegistration& registration, bool enabled) {
  for (uint16_t l3num : registration.families) {
    HelperKey key{registration.name, l3num, IPPROTO_TCP};
    NetlinkSocket::Answer answer =
        Send(BuildHelperSetStatus(buffer_, socket_.NextSeq(), key, enabled));
    // SetStatus on a missing helper would create one without a policy: the kernel refuses that
    // with EINVAL (nfnl_cthelper_create needs NFCTH_POLICY), so EINVAL here means "not there".
    if (answer.error == EINVAL) {
      return KernelStatus::Error(ENOENT, DescribeHelper(key) + " is not registered");
    }
    if (answer.error != 0) {
      return Failure(std::string(enabled ? "enabling " : "disabling ") + DescribeHelper(key),
                     answer);
    }
  }
  return KernelStatus::Ok();
}

KernelStatus CthelperClient::Unregister(const HelperRegistration& registration) {
  for (uint16_t l3num : registration.families) {
    HelperKey key{registration.name, l3num, IPPROTO_TCP};
    NetlinkSocket::Answer answer = Send(BuildHelperDelete(buffer_, socket_.NextSeq(), key));
    if (answer.error == 0 || answer.error == ENOENT) continue;
    if (answer.error == EBUSY) {
      return KernelStatus::Error(
          EBUSY, DescribeHelper(key) + " is still referenced by rules and stays registered");
    }
    return Failure("deleting " + DescribeHelper(key), answer);
  }
  return KernelStatus::Ok();
}

}  // namespace ftpalg::kernel
