#include "kernel/netlink_codec.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace ftpalg::kernel {
namespace {

bool Aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % NLMSG_ALIGNTO == 0; }

// The room an attribute with `payload_len` payload bytes takes, padding included.
size_t AttrSpace(size_t payload_len) { return MNL_ALIGN(MNL_ATTR_HDRLEN + payload_len); }

bool HasPorts(uint8_t protonum) {
  return protonum == IPPROTO_TCP || protonum == IPPROTO_UDP || protonum == IPPROTO_SCTP ||
         protonum == IPPROTO_DCCP || protonum == IPPROTO_UDPLITE;
}

}  // namespace

std::string_view BuildErrorName(BuildError error) {
  switch (error) {
    case BuildError::kNone:
      return "none";
    case BuildError::kNoRoom:
      return "no-room";
    case BuildError::kMisaligned:
      return "misaligned";
    case BuildError::kBadInput:
      return "bad-input";
  }
  return "unknown";
}

std::string_view DecodeErrorName(DecodeError error) {
  switch (error) {
    case DecodeError::kNone:
      return "none";
    case DecodeError::kMisaligned:
      return "misaligned";
    case DecodeError::kTruncated:
      return "truncated";
    case DecodeError::kBadAttribute:
      return "bad-attribute";
    case DecodeError::kMissingAttribute:
      return "missing-attribute";
    case DecodeError::kWrongMessage:
      return "wrong-message";
    case DecodeError::kBadValue:
      return "bad-value";
  }
  return "unknown";
}

// --- MessageBuilder
// -------------------------------------------------------------------------------

MessageBuilder::MessageBuilder(std::span<uint8_t> buffer, uint8_t subsystem, uint8_t message,
                               uint16_t flags, uint32_t seq, uint8_t family, uint16_t res_id)
    : buffer_(buffer) {
  constexpr size_t kHeaders = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg));
  if (!Aligned(buffer.data())) {
    error_ = BuildError::kMisaligned;
    return;
  }
  if (buffer.size() < kHeaders) {
    error_ = BuildError::kNoRoom;
    return;
  }
  nlh_ = mnl_nlmsg_put_header(buffer.data());
  nlh_->nlmsg_type = static_cast<uint16_t>((subsystem << 8) | message);
  nlh_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
  nlh_->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(res_id);
}

MessageBuilder MessageBuilder::ForQueue(std::span<uint8_t> buffer, uint8_t message,
                                        uint16_t queue_num, uint16_t flags, uint32_t seq) {
  constexpr size_t kHeaders = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg));
  MessageBuilder builder;
  builder.buffer_ = buffer;
  if (!Aligned(buffer.data())) {
    builder.error_ = BuildError::kMisaligned;
    return builder;
  }
  if (buffer.size() < kHeaders) {
    builder.error_ = BuildError::kNoRoom;
    return builder;
  }
  // nfq_nlmsg_put zeroes and fills both headers (type, NLM_F_REQUEST, AF_UNSPEC, version 0,
  // res_id = queue number in network order); sequence and extra flags are ours to set.
  builder.nlh_ = nfq_nlmsg_put(reinterpret_cast<char*>(buffer.data()), message, queue_num);
  builder.nlh_->nlmsg_flags = static_cast<uint16_t>(builder.nlh_->nlmsg_flags | flags);
  builder.nlh_->nlmsg_seq = seq;
  return builder;
}

size_t MessageBuilder::used() const { return nlh_ == nullptr ? 0 : nlh_->nlmsg_len; }

bool MessageBuilder::Reserve(size_t payload_len) {
  if (!ok()) return false;
  // nla_len is 16 bits: larger payloads cannot be encoded at all.
  if (payload_len > UINT16_MAX - MNL_ATTR_HDRLEN) {
    error_ = BuildError::kBadInput;
    return false;
  }
  size_t space = AttrSpace(payload_len);
  if (space > buffer_.size() - used()) {
    error_ = BuildError::kNoRoom;
    return false;
  }
  std::memset(buffer_.data() + used(), 0, space);
  return true;
}

void MessageBuilder::PutU8(uint16_t type, uint8_t value) {
  if (Reserve(sizeof(value))) mnl_attr_put_u8(nlh_, type, value);
}

void MessageBuilder::PutBe16(uint16_t type, uint16_t host_value) {
  if (Reserve(sizeof(host_value))) mnl_attr_put_u16(nlh_, type, htons(host_value));
}

void MessageBuilder::PutBe32(uint16_t type, uint32_t host_value) {
  if (Reserve(sizeof(host_value))) mnl_attr_put_u32(nlh_, type, htonl(host_value));
}

void MessageBuilder::PutStrz(uint16_t type, const char* nul_terminated) {
  if (Reserve(std::strlen(nul_terminated) + 1)) mnl_attr_put_strz(nlh_, type, nul_terminated);
}

void MessageBuilder::PutBytes(uint16_t type, std::span<const uint8_t> bytes) {
  if (Reserve(bytes.size())) mnl_attr_put(nlh_, type, bytes.size(), bytes.data());
}

nlattr* MessageBuilder::BeginNest(uint16_t type) {
  if (!Reserve(0)) return nullptr;
  return mnl_attr_nest_start(nlh_, type);
}

void MessageBuilder::EndNest(nlattr* nest) {
  if (ok() && nest != nullptr) mnl_attr_nest_end(nlh_, nest);
}

void MessageBuilder::Fail(BuildError error) {
  if (ok()) error_ = error;
}

BuildResult MessageBuilder::Finish() {
  if (!ok()) return BuildResult{{}, error_};
  return BuildResult{buffer_.first(nlh_->nlmsg_len), BuildError::kNone};
}

// --- Reading
// --------------------------------------------------------------------------------------

DecodeError ParseAttributes(const void* data, size_t len, std::span<const nlattr*> table) {
  for (auto& slot : table) slot = nullptr;
  if (!Aligned(data)) return DecodeError::kMisaligned;
  const auto* cursor = static_cast<const uint8_t*>(data);
  size_t remaining = len;
  while (remaining >= sizeof(nlattr)) {
    const auto* attr = reinterpret_cast<const nlattr*>(cursor);
    if (attr->nla_len < sizeof(nlattr) || attr->nla_len > remaining) {
      return DecodeError::kTruncated;
    }
    uint16_t type = mnl_attr_get_type(attr);
    if (type < table.size()) table[type] = attr;
    // The last attribute's padding may be missing in a message that ends right after it.
    size_t step = std::min<size_t>(MNL_ALIGN(attr->nla_len), remaining);
    cursor += step;
    remaining -= step;
  }
  return remaining == 0 ? DecodeError::kNone : DecodeError::kTruncated;
}

DecodeError ParseNested(const nlattr* nest, std::span<const nlattr*> table) {
  return ParseAttributes(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), table);
}

bool IsU8(const nlattr* attr) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_U8) == 0;
}
bool IsU16(const nlattr* attr) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_U16) == 0;
}
bool IsU32(const nlattr* attr) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_U32) == 0;
}
bool IsNested(const nlattr* attr) {
  return attr != nullptr && mnl_attr_validate(attr, MNL_TYPE_NESTED) == 0;
}
bool IsNulString(const nlattr* attr, size_t max_len) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) != 0) return false;
  // mnl checks the last byte only; an embedded NUL would make the string shorter, which is fine.
  return std::strlen(mnl_attr_get_str(attr)) <= max_len;
}
bool IsBinary(const nlattr* attr, size_t exact_len) {
  return attr != nullptr && mnl_attr_get_payload_len(attr) == exact_len;
}

uint16_t GetBe16(const nlattr* attr) { return ntohs(mnl_attr_get_u16(attr)); }
uint32_t GetBe32(const nlattr* attr) { return ntohl(mnl_attr_get_u32(attr)); }
std::string_view GetString(const nlattr* attr) { return mnl_attr_get_str(attr); }

DecodeError CheckMessage(std::span<const uint8_t> bytes, const nlmsghdr** out) {
  *out = nullptr;
  if (!Aligned(bytes.data())) return DecodeError::kMisaligned;
  if (bytes.size() < sizeof(nlmsghdr)) return DecodeError::kTruncated;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(bytes.data());
  if (nlh->nlmsg_len < sizeof(nlmsghdr) || nlh->nlmsg_len > bytes.size()) {
    return DecodeError::kTruncated;
  }
  *out = nlh;
  return DecodeError::kNone;
}

DecodeError ParseNfnlMessage(std::span<const uint8_t> bytes, uint16_t expected_type,
                             std::span<const nlattr*> table, NfGenHeader* nfg) {
  for (auto& slot : table) slot = nullptr;
  const nlmsghdr* nlh = nullptr;
  if (DecodeError e = CheckMessage(bytes, &nlh); e != DecodeError::kNone) return e;
  if (nlh->nlmsg_type != expected_type) return DecodeError::kWrongMessage;
  constexpr size_t kHeaders = MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(nfgenmsg));
  if (nlh->nlmsg_len < kHeaders) return DecodeError::kTruncated;
  if (nfg != nullptr) {
    const auto* raw = static_cast<const nfgenmsg*>(mnl_nlmsg_get_payload(nlh));
    *nfg = NfGenHeader{raw->nfgen_family, raw->version, ntohs(raw->res_id)};
  }
  return ParseAttributes(reinterpret_cast<const uint8_t*>(nlh) + kHeaders,
                         nlh->nlmsg_len - kHeaders, table);
}

// --- Tuples
// ---------------------------------------------------------------------------------------

void PutCtTuple(MessageBuilder& builder, uint16_t type, const Tuple& tuple, uint8_t protonum) {
  if (tuple.src.addr.family != tuple.dst.addr.family) {
    builder.Fail(BuildError::kBadInput);
    return;
  }
  bool v4 = tuple.src.addr.IsV4();
  size_t addr_len = tuple.src.addr.size();
  nlattr* outer = builder.BeginNest(type);
  nlattr* ip = builder.BeginNest(CTA_TUPLE_IP);
  builder.PutBytes(v4 ? CTA_IP_V4_SRC : CTA_IP_V6_SRC,
                   std::span<const uint8_t>(tuple.src.addr.bytes.data(), addr_len));
  builder.PutBytes(v4 ? CTA_IP_V4_DST : CTA_IP_V6_DST,
                   std::span<const uint8_t>(tuple.dst.addr.bytes.data(), addr_len));
  builder.EndNest(ip);
  nlattr* proto = builder.BeginNest(CTA_TUPLE_PROTO);
  builder.PutU8(CTA_PROTO_NUM, protonum);
  builder.PutBe16(CTA_PROTO_SRC_PORT, tuple.src.port);
  builder.PutBe16(CTA_PROTO_DST_PORT, tuple.dst.port);
  builder.EndNest(proto);
  builder.EndNest(outer);
}

DecodeError ParseCtTuplePair(const nlattr* original_nest, const nlattr* reply_nest, Tuple* original,
                             Tuple* reply, uint8_t* protonum) {
  if (original_nest == nullptr || reply_nest == nullptr) return DecodeError::kMissingAttribute;
  CtTuple parsed_original;
  CtTuple parsed_reply;
  if (DecodeError e = ParseCtTuple(original_nest, &parsed_original); e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseCtTuple(reply_nest, &parsed_reply); e != DecodeError::kNone) return e;
  if (parsed_original.tuple.family() != parsed_reply.tuple.family() ||
      parsed_original.protonum != parsed_reply.protonum) {
    return DecodeError::kBadValue;
  }
  *original = parsed_original.tuple;
  *reply = parsed_reply.tuple;
  *protonum = parsed_original.protonum;
  return DecodeError::kNone;
}

DecodeError ParseCtTuple(const nlattr* nest, CtTuple* out) {
  *out = CtTuple{};
  if (!IsNested(nest)) return DecodeError::kBadAttribute;
  std::array<const nlattr*, CTA_TUPLE_MAX + 1> tb{};
  if (DecodeError e = ParseNested(nest, tb); e != DecodeError::kNone) return e;
  if (tb[CTA_TUPLE_IP] == nullptr || tb[CTA_TUPLE_PROTO] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  if (!IsNested(tb[CTA_TUPLE_IP]) || !IsNested(tb[CTA_TUPLE_PROTO])) {
    return DecodeError::kBadAttribute;
  }

  std::array<const nlattr*, CTA_IP_MAX + 1> ip{};
  if (DecodeError e = ParseNested(tb[CTA_TUPLE_IP], ip); e != DecodeError::kNone) return e;
  bool has_v4 = ip[CTA_IP_V4_SRC] != nullptr || ip[CTA_IP_V4_DST] != nullptr;
  bool has_v6 = ip[CTA_IP_V6_SRC] != nullptr || ip[CTA_IP_V6_DST] != nullptr;
  if (has_v4 == has_v6) {
    return has_v4 ? DecodeError::kBadValue : DecodeError::kMissingAttribute;
  }
  const nlattr* src = has_v4 ? ip[CTA_IP_V4_SRC] : ip[CTA_IP_V6_SRC];
  const nlattr* dst = has_v4 ? ip[CTA_IP_V4_DST] : ip[CTA_IP_V6_DST];
  if (src == nullptr || dst == nullptr) return DecodeError::kMissingAttribute;
  size_t addr_len = has_v4 ? 4 : 16;
  if (!IsBinary(src, addr_len) || !IsBinary(dst, addr_len)) return DecodeError::kBadAttribute;
  const auto* src_bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(src));
  const auto* dst_bytes = static_cast<const uint8_t*>(mnl_attr_get_payload(dst));
  out->tuple.src.addr =
      has_v4 ? IpAddress::FromV4Bytes(src_bytes) : IpAddress::FromV6Bytes(src_bytes);
  out->tuple.dst.addr =
      has_v4 ? IpAddress::FromV4Bytes(dst_bytes) : IpAddress::FromV6Bytes(dst_bytes);

  std::array<const nlattr*, CTA_PROTO_MAX + 1> proto{};
  if (DecodeError e = ParseNested(tb[CTA_TUPLE_PROTO], proto); e != DecodeError::kNone) return e;
  if (proto[CTA_PROTO_NUM] == nullptr) return DecodeError::kMissingAttribute;
  if (!IsU8(proto[CTA_PROTO_NUM])) return DecodeError::kBadAttribute;
  out->protonum = mnl_attr_get_u8(proto[CTA_PROTO_NUM]);
  if (HasPorts(out->protonum)) {
    if (proto[CTA_PROTO_SRC_PORT] == nullptr || proto[CTA_PROTO_DST_PORT] == nullptr) {
      return DecodeError::kMissingAttribute;
    }
    if (!IsU16(proto[CTA_PROTO_SRC_PORT]) || !IsU16(proto[CTA_PROTO_DST_PORT])) {
      return DecodeError::kBadAttribute;
    }
    out->tuple.src.port = GetBe16(proto[CTA_PROTO_SRC_PORT]);
    out->tuple.dst.port = GetBe16(proto[CTA_PROTO_DST_PORT]);
  }

  if (tb[CTA_TUPLE_ZONE] != nullptr) {
    if (!IsU16(tb[CTA_TUPLE_ZONE])) return DecodeError::kBadAttribute;
    out->zone = GetBe16(tb[CTA_TUPLE_ZONE]);
  }
  return DecodeError::kNone;
}

}  // namespace ftpalg::kernel
