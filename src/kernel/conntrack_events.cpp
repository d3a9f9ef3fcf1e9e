#include "kernel/conntrack_events.h"

#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include <cstring>

namespace ftpalg::kernel {
namespace {

constexpr uint16_t MessageType(uint8_t message) {
  return static_cast<uint16_t>((NFNL_SUBSYS_CTNETLINK << 8) | message);
}

bool IsU64(const nlattr* attr) { return mnl_attr_get_payload_len(attr) == sizeof(uint64_t); }

uint64_t GetBe64(const nlattr* attr) {
  uint64_t value = 0;
  std::memcpy(&value, mnl_attr_get_payload(attr), sizeof value);
  return be64toh(value);
}

DecodeError ParseCounters(const nlattr* nest, std::optional<ConntrackCounters>* out) {
  if (nest == nullptr) return DecodeError::kNone;
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_COUNTERS_MAX + 1> tb{};
  if (DecodeError e = ParseNested(nest, tb); e != DecodeError::kNone) return e;
  if (tb[CTA_COUNTERS_PACKETS] == nullptr || tb[CTA_COUNTERS_BYTES] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  if (!IsU64(tb[CTA_COUNTERS_PACKETS]) || !IsU64(tb[CTA_COUNTERS_BYTES])) {
    return DecodeError::kBadAttribute;
  }
  *out = ConntrackCounters{GetBe64(tb[CTA_COUNTERS_PACKETS]), GetBe64(tb[CTA_COUNTERS_BYTES])};
  return DecodeError::kNone;
}

}  // namespace

DecodeError ParseConntrackEvent(std::span<const uint8_t> message, ConntrackEvent* out) {
  *out = ConntrackEvent{};
  std::array<const nlattr*, CTA_MAX + 1> tb{};
  DecodeError error = ParseNfnlMessage(message, MessageType(IPCTNL_MSG_CT_DELETE), tb);
  if (error == DecodeError::kWrongMessage) {
    error = ParseNfnlMessage(message, MessageType(IPCTNL_MSG_CT_NEW), tb);
  } else {
    out->destroy = true;
  }
  if (error != DecodeError::kNone) return error;
  if (tb[CTA_TUPLE_ORIG] == nullptr || tb[CTA_TUPLE_REPLY] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  CtTuple original;
  CtTuple reply;
  if (DecodeError e = ParseCtTuple(tb[CTA_TUPLE_ORIG], &original); e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseCtTuple(tb[CTA_TUPLE_REPLY], &reply); e != DecodeError::kNone) return e;
  if (original.tuple.family() != reply.tuple.family()) return DecodeError::kBadValue;
  out->connection.original = original.tuple;
  out->connection.reply = reply.tuple;
  out->protonum = original.protonum;
  if (tb[CTA_ID] != nullptr) {
    if (!IsU32(tb[CTA_ID])) return DecodeError::kBadAttribute;
    out->connection.conntrack_id = GetBe32(tb[CTA_ID]);
  }
  if (tb[CTA_STATUS] != nullptr) {
    if (!IsU32(tb[CTA_STATUS])) return DecodeError::kBadAttribute;
    out->status = GetBe32(tb[CTA_STATUS]);
  }
  if (tb[CTA_ZONE] != nullptr) {
    if (!IsU16(tb[CTA_ZONE])) return DecodeError::kBadAttribute;
    out->connection.zone = GetBe16(tb[CTA_ZONE]);
  }
  if (DecodeError e = ParseCounters(tb[CTA_COUNTERS_ORIG], &out->counters[0]);
      e != DecodeError::kNone) {
    return e;
  }
  return ParseCounters(tb[CTA_COUNTERS_REPLY], &out->counters[1]);
}

}  // namespace ftpalg::kernel
