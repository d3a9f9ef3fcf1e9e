#include "kernel/expect_messages.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernel/cthelper_messages.h"

namespace ftpalg::kernel {
namespace {

uint8_t AddressFamily(Family family) { return family == Family::kIpv4 ? AF_INET : AF_INET6; }

IpAddress Zeros(Family family) { return IpAddress{family, {}}; }

IpAddress Ones(Family family) {
  IpAddress address{family, {}};
  std::fill_n(address.bytes.begin(), address.size(), uint8_t{0xff});
  return address;
}

bool FamiliesAgree(const Expectation& e) {
  Family f = e.destination.addr.family;
  return e.master.src.addr.family == f && e.master.dst.addr.family == f && e.source.family == f &&
         (!e.nat_to.has_value() || e.nat_to->addr.family == f);
}

// The expectation's tuple: from `source` (any port) to `destination`; a wildcard source address
// is written as zeros, as the kernel's own helpers do (nf_ct_expect_init with saddr NULL).
Tuple ExpectTuple(const Expectation& e) {
  Family f = e.destination.addr.family;
  return Tuple{Endpoint{e.source_any_address ? Zeros(f) : e.source, 0}, e.destination};
}

// The mask: source address exact unless widened, source port any. The destination half is not
// used by the kernel; it is all ones, as ctnetlink_exp_dump_mask reports it.
Tuple ExpectMask(const Expectation& e) {
  Family f = e.destination.addr.family;
  return Tuple{Endpoint{e.source_any_address ? Zeros(f) : Ones(f), 0}, Endpoint{Ones(f), 0xffff}};
}

MessageBuilder Start(std::span<uint8_t> buffer, uint8_t message, uint16_t flags, uint32_t seq,
                     uint8_t family) {
  return MessageBuilder(buffer, NFNL_SUBSYS_CTNETLINK_EXP, message, flags, seq, family, 0);
}

DecodeError ParseOptionalU32(const nlattr* attr, std::optional<uint32_t>* out) {
  if (attr == nullptr) return DecodeError::kNone;
  if (!IsU32(attr)) return DecodeError::kBadAttribute;
  *out = GetBe32(attr);
  return DecodeError::kNone;
}

}  // namespace

BuildResult BuildExpectCreate(std::span<uint8_t> buffer, uint32_t seq,
                              const Expectation& expectation, uint16_t zone) {
  Family f = expectation.destination.addr.family;
  MessageBuilder b = Start(buffer, IPCTNL_MSG_EXP_NEW, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq,
                           AddressFamily(f));
  if (!FamiliesAgree(expectation)) b.Fail(BuildError::kBadInput);
  PutCtTuple(b, CTA_EXPECT_MASTER, expectation.master, IPPROTO_TCP);
  PutCtTuple(b, CTA_EXPECT_TUPLE, ExpectTuple(expectation), IPPROTO_TCP);
  PutCtTuple(b, CTA_EXPECT_MASK, ExpectMask(expectation), IPPROTO_TCP);
  if (zone != 0) b.PutBe16(CTA_EXPECT_ZONE, zone);
  if (expectation.nat_to.has_value()) {
    nlattr* nat = b.BeginNest(CTA_EXPECT_NAT);
    b.PutBe32(CTA_EXPECT_NAT_DIR, static_cast<uint32_t>(expectation.nat_direction));
    // Only the source half is used (saved_addr/saved_proto), but the kernel parses a full tuple
    // and answers EINVAL when any part is missing: the destination half is zeros.
    PutCtTuple(b, CTA_EXPECT_NAT_TUPLE, Tuple{*expectation.nat_to, Endpoint{Zeros(f), 0}},
               IPPROTO_TCP);
    b.EndNest(nat);
    b.PutStrz(CTA_EXPECT_FN, kNatFollowMaster);
  }
  return b.Finish();
}

BuildResult BuildExpectDelete(std::span<uint8_t> buffer, uint32_t seq,
                              const Expectation& expectation, uint16_t zone) {
  Family f = expectation.destination.addr.family;
  MessageBuilder b = Start(buffer, IPCTNL_MSG_EXP_DELETE, NLM_F_ACK, seq, AddressFamily(f));
  if (!FamiliesAgree(expectation)) b.Fail(BuildError::kBadInput);
  PutCtTuple(b, CTA_EXPECT_TUPLE, ExpectTuple(expectation), IPPROTO_TCP);
  if (zone != 0) b.PutBe16(CTA_EXPECT_ZONE, zone);
  return b.Finish();
}

BuildResult BuildExpectFlushHelper(std::span<uint8_t> buffer, uint32_t seq,
                                   std::string_view helper_name) {
  // The family is not used when deleting by helper name; AF_UNSPEC says so.
  MessageBuilder b = Start(buffer, IPCTNL_MSG_EXP_DELETE, NLM_F_ACK, seq, AF_UNSPEC);
  std::array<char, kHelperNameMax + 1> name{};
  if (helper_name.empty() || helper_name.size() > kHelperNameMax ||
      helper_name.find('\0') != std::string_view::npos) {
    b.Fail(BuildError::kBadInput);
  } else {
    helper_name.copy(name.data(), helper_name.size());
    b.PutStrz(CTA_EXPECT_HELP_NAME, name.data());
  }
  return b.Finish();
}

BuildResult BuildExpectDumpMaster(std::span<uint8_t> buffer, uint32_t seq, const Tuple& master,
                                  uint16_t zone) {
  MessageBuilder b = Start(buffer, IPCTNL_MSG_EXP_GET, NLM_F_ACK | NLM_F_DUMP, seq,
                           AddressFamily(master.family()));
  PutCtTuple(b, CTA_EXPECT_MASTER, master, IPPROTO_TCP);
  if (zone != 0) b.PutBe16(CTA_EXPECT_ZONE, zone);
  return b.Finish();
}

DecodeError ParseExpectation(std::span<const uint8_t> message, ParsedExpectation* out) {
  *out = ParsedExpectation{};
  std::array<const nlattr*, CTA_EXPECT_MAX + 1> tb{};
  NfGenHeader nfg;
  if (DecodeError e = ParseNfnlMessage(
          message, (NFNL_SUBSYS_CTNETLINK_EXP << 8) | IPCTNL_MSG_EXP_NEW, tb, &nfg);
      e != DecodeError::kNone) {
    return e;
  }
  if (nfg.family != AF_INET && nfg.family != AF_INET6) return DecodeError::kBadValue;
  out->family = nfg.family;
  if (tb[CTA_EXPECT_MASTER] == nullptr || tb[CTA_EXPECT_TUPLE] == nullptr ||
      tb[CTA_EXPECT_MASK] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  if (DecodeError e = ParseCtTuple(tb[CTA_EXPECT_MASTER], &out->master); e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseCtTuple(tb[CTA_EXPECT_TUPLE], &out->tuple); e != DecodeError::kNone) {
    return e;
  }
  if (DecodeError e = ParseCtTuple(tb[CTA_EXPECT_MASK], &out->mask); e != DecodeError::kNone) {
    return e;
  }
  Family family = nfg.family == AF_INET ? Family::kIpv4 : Family::kIpv6;
  if (out->master.tuple.family() != family || out->tuple.tuple.family() != family ||
      out->mask.tuple.family() != family) {
    return DecodeError::kBadValue;
  }

  for (auto [type, slot] :
       {std::pair{CTA_EXPECT_TIMEOUT, &out->timeout_s}, std::pair{CTA_EXPECT_ID, &out->id},
        std::pair{CTA_EXPECT_FLAGS, &out->flags},
        std::pair{CTA_EXPECT_CLASS, &out->expect_class}}) {
    if (DecodeError e = ParseOptionalU32(tb[type], slot); e != DecodeError::kNone) return e;
  }
  if (tb[CTA_EXPECT_ZONE] != nullptr) {
    if (!IsU16(tb[CTA_EXPECT_ZONE])) return DecodeError::kBadAttribute;
    out->zone = GetBe16(tb[CTA_EXPECT_ZONE]);
  }
  if (tb[CTA_EXPECT_HELP_NAME] != nullptr) {
    if (!IsNulString(tb[CTA_EXPECT_HELP_NAME], kHelperNameMax)) return DecodeError::kBadAttribute;
    out->helper_name = GetString(tb[CTA_EXPECT_HELP_NAME]);
  }
  if (tb[CTA_EXPECT_FN] != nullptr) {
    // The kernel's expectfn names are short; 63 bounds what a well-formed message may carry.
    if (!IsNulString(tb[CTA_EXPECT_FN], 63)) return DecodeError::kBadAttribute;
    out->function = GetString(tb[CTA_EXPECT_FN]);
  }
  if (tb[CTA_EXPECT_NAT] != nullptr) {
    if (!IsNested(tb[CTA_EXPECT_NAT])) return DecodeError::kBadAttribute;
    std::array<const nlattr*, CTA_EXPECT_NAT_MAX + 1> nat{};
    if (DecodeError e = ParseNested(tb[CTA_EXPECT_NAT], nat); e != DecodeError::kNone) return e;
    if (nat[CTA_EXPECT_NAT_DIR] == nullptr || nat[CTA_EXPECT_NAT_TUPLE] == nullptr) {
      return DecodeError::kMissingAttribute;
    }
    if (!IsU32(nat[CTA_EXPECT_NAT_DIR])) return DecodeError::kBadAttribute;
    ParsedExpectation::Nat parsed_nat;
    parsed_nat.direction = GetBe32(nat[CTA_EXPECT_NAT_DIR]);
    if (parsed_nat.direction > 1) return DecodeError::kBadValue;
    if (DecodeError e = ParseCtTuple(nat[CTA_EXPECT_NAT_TUPLE], &parsed_nat.tuple);
        e != DecodeError::kNone) {
      return e;
    }
    if (parsed_nat.tuple.tuple.family() != family) return DecodeError::kBadValue;
    out->nat = parsed_nat;
  }
  return DecodeError::kNone;
}

Expectation ToExpectation(const ParsedExpectation& parsed) {
  Expectation e;
  e.master = parsed.master.tuple;
  e.source = parsed.tuple.tuple.src.addr;
  e.source_any_address = parsed.mask.tuple.src.addr == Zeros(parsed.mask.tuple.src.addr.family);
  e.destination = parsed.tuple.tuple.dst;
  if (parsed.nat.has_value()) {
    e.nat_to = parsed.nat->tuple.tuple.src;
    e.nat_direction = parsed.nat->direction == 0 ? Direction::kOriginal : Direction::kReply;
  }
  return e;
}

}  // namespace ftpalg::kernel
