// The shared pieces of every netlink message this project builds or reads: a bounds-checked builder
// over a caller's buffer (libmnl underneath), an attribute table parser that refuses malformed
// input instead of reading past it, and the conntrack tuple (CTA_TUPLE_*) encoding that ctnetlink,
// expectations and the queue's NFQA_CT share.
//
// Pure code: no sockets, no syscalls. Everything here is golden-byte tested.
#pragma once

#include <linux/netlink.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "ftpalg/ip_address.h"

namespace ftpalg::kernel {

// --- Building
// -------------------------------------------------------------------------------------

enum class BuildError : uint8_t {
  kNone = 0,
  kNoRoom,      // the caller's buffer is too small for the message
  kMisaligned,  // the caller's buffer does not start on a 4-byte boundary (netlink needs it)
  kBadInput,    // the request cannot be encoded (name too long, families that disagree, ...)
};
std::string_view BuildErrorName(BuildError error);

struct BuildResult {
  std::span<uint8_t> message;  // the finished message, inside the caller's buffer
  BuildError error = BuildError::kNone;
  bool ok() const { return error == BuildError::kNone; }
  const nlmsghdr* header() const { return reinterpret_cast<const nlmsghdr*>(message.data()); }
};

// Builds one nfnetlink message (nlmsghdr + nfgenmsg + attributes) into a caller-provided buffer.
// Every write is checked against the buffer first; after the first failure the builder ignores
// further writes and Finish() reports the error, so callers write straight-line code. The room for
// each attribute is zeroed before libmnl writes it: libmnl 1.0.4 leaves alignment padding as it
// found it, and stale bytes would both leak memory contents to the kernel and break golden tests.
class MessageBuilder {
 public:
  // nlmsg_type = subsystem << 8 | message; NLM_F_REQUEST is always set.
  MessageBuilder(std::span<uint8_t> buffer, uint8_t subsystem, uint8_t message, uint16_t flags,
                 uint32_t seq, uint8_t family, uint16_t res_id);

  // For nfnetlink_queue messages: the header comes from libnetfilter_queue's nfq_nlmsg_put().
  static MessageBuilder ForQueue(std::span<uint8_t> buffer, uint8_t message, uint16_t queue_num,
                                 uint16_t flags, uint32_t seq);

  bool ok() const { return error_ == BuildError::kNone; }
  nlmsghdr* nlh() { return nlh_; }

  // True when an attribute with `payload_len` bytes of payload fits; zeroes its room. Callers that
  // hand the header to another library's put function (libnetfilter_queue) call this first.
  bool Reserve(size_t payload_len);

  void PutU8(uint16_t type, uint8_t value);
  void PutBe16(uint16_t type, uint16_t host_value);
  void PutBe32(uint16_t type, uint32_t host_value);
  void PutStrz(uint16_t type, const char* nul_terminated);
  void PutBytes(uint16_t type, std::span<const uint8_t> bytes);
  nlattr* BeginNest(uint16_t type);  // nullptr after a failure; EndNest(nullptr) is a no-op
  void EndNest(nlattr* nest);

  void Fail(BuildError error);
  BuildResult Finish();

 private:
  MessageBuilder() = default;
  size_t used() const;

  std::span<uint8_t> buffer_;
  nlmsghdr* nlh_ = nullptr;
  BuildError error_ = BuildError::kNone;
};

// --- Reading
// --------------------------------------------------------------------------------------

enum class DecodeError : uint8_t {
  kNone = 0,
  kMisaligned,        // the bytes do not start on a 4-byte boundary
  kTruncated,         // a header or attribute claims more bytes than there are
  kBadAttribute,      // an attribute of the wrong kind or length for its type
  kMissingAttribute,  // an attribute the message cannot do without is absent
  kWrongMessage,      // the message is not of the type the parser reads
  kBadValue,          // a well-formed value the kernel never sends (family, ctinfo, ...)
};
std::string_view DecodeErrorName(DecodeError error);

// Fills `table` (indexed by attribute type, NLA_F_NESTED and NLA_F_NET_BYTEORDER masked off) with
// the attributes in [data, data + len). Types beyond the table are skipped, as the kernel's
// nla_parse skips them; a later duplicate replaces an earlier one, as there too. Returns kTruncated
// when the region is not an exact sequence of attributes (a length below 4, or past the end, or
// 1-3 stray bytes at the end), kMisaligned when `data` is not 4-byte aligned.
DecodeError ParseAttributes(const void* data, size_t len, std::span<const nlattr*> table);
// The same over a nested attribute's payload.
DecodeError ParseNested(const nlattr* nest, std::span<const nlattr*> table);

// Exact-size checks on top of mnl_attr_validate (which only knows the libmnl types).
bool IsU8(const nlattr* attr);
bool IsU16(const nlattr* attr);
bool IsU32(const nlattr* attr);
bool IsNested(const nlattr* attr);
// A NUL-terminated string of at most max_len characters before the NUL (the kernel's
// NLA_NUL_STRING with .len = max_len).
bool IsNulString(const nlattr* attr, size_t max_len);
bool IsBinary(const nlattr* attr, size_t exact_len);

uint16_t GetBe16(const nlattr* attr);  // host order; callers validated the size first
uint32_t GetBe32(const nlattr* attr);
std::string_view GetString(const nlattr* attr);  // without the NUL

// Checks that [data, data + len) holds one whole netlink message starting at data and returns its
// header, or an error: kMisaligned, kTruncated (shorter than its header or than nlmsg_len says).
DecodeError CheckMessage(std::span<const uint8_t> bytes, const nlmsghdr** out);

// Checks an nfnetlink message of type `expected_type` (subsystem << 8 | message) and fills `table`
// with its top-level attributes. `nfg` (optional) receives the nfgenmsg header.
struct NfGenHeader {
  uint8_t family = 0;
  uint8_t version = 0;
  uint16_t res_id = 0;  // host order
};
DecodeError ParseNfnlMessage(std::span<const uint8_t> bytes, uint16_t expected_type,
                             std::span<const nlattr*> table, NfGenHeader* nfg = nullptr);

// --- Conntrack tuples (CTA_TUPLE_ORIG, CTA_EXPECT_TUPLE, ...)
// -------------------------------------

// A conntrack tuple as ctnetlink spells it: addresses, L4 protocol and ports, and an optional zone.
struct CtTuple {
  Tuple tuple;
  uint8_t protonum = 0;
  std::optional<uint16_t> zone;  // CTA_TUPLE_ZONE, only when the kernel sent one
};

// Appends `type` as a nest holding CTA_TUPLE_IP {CTA_IP_V4/V6_SRC, _DST} and CTA_TUPLE_PROTO
// {CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT}: the kernel's ctnetlink_parse_tuple
// requires all five (CTA_FILTER_FLAG(ALL)). The family comes from tuple.src.
void PutCtTuple(MessageBuilder& builder, uint16_t type, const Tuple& tuple, uint8_t protonum);

// Reads such a nest. Both addresses must be of one family (V4 or V6 attributes, not mixed); ports
// are required for TCP, UDP, SCTP and DCCP and left 0 otherwise (ICMP tuples carry no ports).
DecodeError ParseCtTuple(const nlattr* nest, CtTuple* out);

// A conntrack's two tuples (CTA_TUPLE_ORIG and CTA_TUPLE_REPLY of one message): both required,
// of one family and one L4 protocol.
DecodeError ParseCtTuplePair(const nlattr* original_nest, const nlattr* reply_nest, Tuple* original,
                             Tuple* reply, uint8_t* protonum);

}  // namespace ftpalg::kernel
