#include "kernel/conntrack_events.h"

#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>

#include <array>
#include <cstring>

namespace ftpalg::kernel {
namespace {

// Events are one conntrack each, well under a page; a datagram may batch a few. 64 KiB is what
// NetlinkSocket uses for dumps too, so nothing is ever cut short.
constexpr size_t kEventBufferSize = 65536;

bool IsBe64(const nlattr* attr) { return IsBinary(attr, sizeof(uint64_t)); }

uint64_t GetBe64(const nlattr* attr) {
  uint64_t value = 0;
  std::memcpy(&value, mnl_attr_get_payload(attr), sizeof(value));
  return be64toh(value);
}

DecodeError ParseCounters(const nlattr* nest, std::optional<ConntrackCounters>* out) {
  if (nest == nullptr) return DecodeError::kNone;
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_COUNTERS_MAX + 1> tb{};
  if (DecodeError e = ParseNested(nest, tb); e != DecodeError::kNone) return e;
  // The 32-bit forms (CTA_COUNTERS32_*) are from kernels before 2.6.27; only be64 is read.
  if (tb[CTA_COUNTERS_PACKETS] == nullptr || tb[CTA_COUNTERS_BYTES] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  if (!IsBe64(tb[CTA_COUNTERS_PACKETS]) || !IsBe64(tb[CTA_COUNTERS_BYTES])) {
    return DecodeError::kBadAttribute;
  }
  *out = ConntrackCounters{GetBe64(tb[CTA_COUNTERS_PACKETS]), GetBe64(tb[CTA_COUNTERS_BYTES])};
  return DecodeError::kNone;
}

DecodeError ParseTimestamp(const nlattr* nest, ConntrackEvent* out) {
  if (nest == nullptr) return DecodeError::kNone;
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_TIMESTAMP_MAX + 1> tb{};
  if (DecodeError e = ParseNested(nest, tb); e != DecodeError::kNone) return e;
  // ctnetlink_dump_timestamp sends START always and STOP only once the conntrack has ended.
  for (auto [type, field] : {std::pair{CTA_TIMESTAMP_START, &out->start_ns},
                             std::pair{CTA_TIMESTAMP_STOP, &out->stop_ns}}) {
    if (tb[type] == nullptr) continue;
    if (!IsBe64(tb[type])) return DecodeError::kBadAttribute;
    *field = GetBe64(tb[type]);
  }
  return DecodeError::kNone;
}

DecodeError ParseHelperName(const nlattr* nest, std::string* out) {
  if (nest == nullptr) return DecodeError::kNone;
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_HELP_MAX + 1> help{};
  if (DecodeError e = ParseNested(nest, help); e != DecodeError::kNone) return e;
  if (help[CTA_HELP_NAME] == nullptr) return DecodeError::kMissingAttribute;
  // NF_CT_HELPER_NAME_LEN - 1.
  if (!IsNulString(help[CTA_HELP_NAME], 15)) return DecodeError::kBadAttribute;
  *out = std::string(GetString(help[CTA_HELP_NAME]));
  return DecodeError::kNone;
}

DecodeError ParseOptionalU32(const nlattr* attr, std::optional<uint32_t>* out) {
  if (attr == nullptr) return DecodeError::kNone;
  if (!IsU32(attr)) return DecodeError::kBadAttribute;
  *out = GetBe32(attr);
  return DecodeError::kNone;
}

}  // namespace

DecodeError ParseConntrackEvent(std::span<const uint8_t> message, ConntrackEvent* out) {
  *out = ConntrackEvent{};
  const nlmsghdr* nlh = nullptr;
  if (DecodeError e = CheckMessage(message, &nlh); e != DecodeError::kNone) return e;
  const uint16_t new_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
  const uint16_t delete_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  if (nlh->nlmsg_type != new_type && nlh->nlmsg_type != delete_type) {
    return DecodeError::kWrongMessage;
  }
  std::array<const nlattr*, CTA_MAX + 1> tb{};
  NfGenHeader nfg;
  if (DecodeError e = ParseNfnlMessage(message, nlh->nlmsg_type, tb, &nfg);
      e != DecodeError::kNone) {
    return e;
  }
  if (nlh->nlmsg_type == delete_type) {
    out->kind = ConntrackEventKind::kDestroy;
  } else {
    out->kind = (nlh->nlmsg_flags & NLM_F_CREATE) != 0 ? ConntrackEventKind::kNew
                                                       : ConntrackEventKind::kUpdate;
  }
  out->family = nfg.family;

  if (DecodeError e = ParseCtTuplePair(tb[CTA_TUPLE_ORIG], tb[CTA_TUPLE_REPLY], &out->original,
                                       &out->reply, &out->protonum);
      e != DecodeError::kNone) {
    return e;
  }

  if (tb[CTA_ZONE] != nullptr) {
    if (!IsU16(tb[CTA_ZONE])) return DecodeError::kBadAttribute;
    out->zone = GetBe16(tb[CTA_ZONE]);
  }
  for (auto [type, field] : {std::pair{CTA_ID, &out->id}, std::pair{CTA_STATUS, &out->status},
                             std::pair{CTA_MARK, &out->mark}}) {
    if (DecodeError e = ParseOptionalU32(tb[type], field); e != DecodeError::kNone) return e;
  }
  if (DecodeError e = ParseHelperName(tb[CTA_HELP], &out->helper_name); e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseCounters(tb[CTA_COUNTERS_ORIG], &out->counters_original);
      e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseCounters(tb[CTA_COUNTERS_REPLY], &out->counters_reply);
      e != DecodeError::kNone) {
    return e;
  }
  return ParseTimestamp(tb[CTA_TIMESTAMP], out);
}

void ForEachNetlinkMessage(std::span<const uint8_t> datagram,
                           const std::function<void(std::span<const uint8_t>)>& each) {
  size_t offset = 0;
  while (datagram.size() - offset >= sizeof(nlmsghdr)) {
    nlmsghdr header;
    std::memcpy(&header, datagram.data() + offset, sizeof(header));
    if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > datagram.size() - offset) {
      return;
    }
    if (header.nlmsg_type >= NLMSG_MIN_TYPE) each(datagram.subspan(offset, header.nlmsg_len));
    offset += NLMSG_ALIGN(header.nlmsg_len);
    if (offset > datagram.size()) return;
  }
}

int ConntrackEventSocket::Open(ConntrackEventGroups groups, int receive_buffer_bytes) {
  buffer_.resize(kEventBufferSize);
  overruns_ = 0;
  decode_errors_ = 0;
  if (int error = socket_.Open(); error != 0) return error;
  std::array<std::pair<bool, int>, 2> wanted = {
      std::pair{groups.new_connections, int{NFNLGRP_CONNTRACK_NEW}},
      std::pair{groups.destroyed, int{NFNLGRP_CONNTRACK_DESTROY}}};
  for (auto [join, group] : wanted) {
    if (!join) continue;
    if (int error = socket_.SetNetlinkOption(NETLINK_ADD_MEMBERSHIP, group); error != 0) {
      socket_.Close();
      return error;
    }
  }
  return socket_.SetReceiveBufferSize(receive_buffer_bytes);
}

int ConntrackEventSocket::ReceiveOne(size_t* received) {
  return socket_.Receive(buffer_, /*wait=*/false, received);
}

}  // namespace ftpalg::kernel
