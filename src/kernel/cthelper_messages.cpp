#include "kernel/cthelper_messages.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_cthelper.h>
#include <sys/socket.h>

#include <array>
#include <utility>

namespace ftpalg::kernel {
namespace {

// Names travel as NUL-terminated strings; they are copied into a fixed array so that a
// std::string_view (not NUL-terminated) can be encoded and overlong names are refused here, not
// by the kernel.
bool CopyName(std::string_view name, std::array<char, kHelperNameMax + 1>* out) {
  if (name.empty() || name.size() > kHelperNameMax) return false;
  if (name.find('\0') != std::string_view::npos) return false;
  out->fill('\0');
  name.copy(out->data(), name.size());
  return true;
}

// Every cthelper message puts AF_UNSPEC in nfgenmsg (the kernel reads the family from
// NFCTH_TUPLE), as libnetfilter_cthelper does.
MessageBuilder Start(std::span<uint8_t> buffer, uint8_t message, uint16_t flags, uint32_t seq) {
  return MessageBuilder(buffer, NFNL_SUBSYS_CTHELPER, message, flags, seq, AF_UNSPEC, 0);
}

void PutNameAndTuple(MessageBuilder& b, const HelperKey& key) {
  std::array<char, kHelperNameMax + 1> name{};
  if (!CopyName(key.name, &name)) {
    b.Fail(BuildError::kBadInput);
    return;
  }
  b.PutStrz(NFCTH_NAME, name.data());
  nlattr* tuple = b.BeginNest(NFCTH_TUPLE);
  b.PutBe16(NFCTH_TUPLE_L3PROTONUM, key.l3num);
  b.PutU8(NFCTH_TUPLE_L4PROTONUM, key.l4proto);
  b.EndNest(tuple);
}

void PutPolicySet(MessageBuilder& b, const HelperPolicy& policy) {
  std::array<char, kHelperNameMax + 1> name{};
  if (!CopyName(policy.name, &name)) {
    b.Fail(BuildError::kBadInput);
    return;
  }
  nlattr* set = b.BeginNest(NFCTH_POLICY);
  b.PutBe32(NFCTH_POLICY_SET_NUM, 1);
  nlattr* one = b.BeginNest(NFCTH_POLICY_SET);  // NFCTH_POLICY_SET1: class 0
  b.PutStrz(NFCTH_POLICY_NAME, name.data());
  b.PutBe32(NFCTH_POLICY_EXPECT_MAX, policy.expect_max);
  b.PutBe32(NFCTH_POLICY_EXPECT_TIMEOUT, policy.expect_timeout_s);
  b.EndNest(one);
  b.EndNest(set);
}

uint32_t StatusValue(bool enabled) {
  return enabled ? NFCT_HELPER_STATUS_ENABLED : NFCT_HELPER_STATUS_DISABLED;
}

}  // namespace

BuildResult BuildHelperCreate(std::span<uint8_t> buffer, uint32_t seq, const HelperSpec& spec) {
  MessageBuilder b =
      Start(buffer, NFNL_MSG_CTHELPER_NEW, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, seq);
  PutNameAndTuple(b, spec.key);
  b.PutBe32(NFCTH_QUEUE_NUM, spec.queue_num);
  PutPolicySet(b, spec.policy);
  // Mandatory on creation (nfnl_cthelper_create answers EINVAL without it; ENOMEM above the 32
  // bytes of nf_conn_help's data).
  b.PutBe32(NFCTH_PRIV_DATA_LEN, spec.priv_data_len);
  b.PutBe32(NFCTH_STATUS, StatusValue(spec.enabled));
  return b.Finish();
}

BuildResult BuildHelperUpdate(std::span<uint8_t> buffer, uint32_t seq, const HelperSpec& spec) {
  MessageBuilder b = Start(buffer, NFNL_MSG_CTHELPER_NEW, NLM_F_ACK, seq);
  PutNameAndTuple(b, spec.key);
  b.PutBe32(NFCTH_QUEUE_NUM, spec.queue_num);
  PutPolicySet(b, spec.policy);
  // No NFCTH_PRIV_DATA_LEN: an update that names a length other than the registered one is
  // refused with EBUSY, and a helper created by another tool may have one.
  b.PutBe32(NFCTH_STATUS, StatusValue(spec.enabled));
  return b.Finish();
}

BuildResult BuildHelperSetStatus(std::span<uint8_t> buffer, uint32_t seq, const HelperKey& key,
                                 bool enabled) {
  MessageBuilder b = Start(buffer, NFNL_MSG_CTHELPER_NEW, NLM_F_ACK, seq);
  PutNameAndTuple(b, key);
  b.PutBe32(NFCTH_STATUS, StatusValue(enabled));
  return b.Finish();
}

BuildResult BuildHelperGet(std::span<uint8_t> buffer, uint32_t seq, const HelperKey& key) {
  MessageBuilder b = Start(buffer, NFNL_MSG_CTHELPER_GET, NLM_F_ACK, seq);
  PutNameAndTuple(b, key);
  return b.Finish();
}

BuildResult BuildHelperDump(std::span<uint8_t> buffer, uint32_t seq) {
  MessageBuilder b = Start(buffer, NFNL_MSG_CTHELPER_GET, NLM_F_ACK | NLM_F_DUMP, seq);
  return b.Finish();
}

BuildResult BuildHelperDelete(std::span<uint8_t> buffer, uint32_t seq, const HelperKey& key) {
  MessageBuilder b = Start(buffer, NFNL_MSG_CTHELPER_DEL, NLM_F_ACK, seq);
  PutNameAndTuple(b, key);
  return b.Finish();
}

DecodeError ParseHelper(std::span<const uint8_t> message, HelperInfo* out) {
  *out = HelperInfo{};
  std::array<const nlattr*, NFCTH_MAX + 1> tb{};
  if (DecodeError e =
          ParseNfnlMessage(message, (NFNL_SUBSYS_CTHELPER << 8) | NFNL_MSG_CTHELPER_NEW, tb);
      e != DecodeError::kNone) {
    return e;
  }
  if (tb[NFCTH_NAME] == nullptr || tb[NFCTH_TUPLE] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  if (!IsNulString(tb[NFCTH_NAME], kHelperNameMax)) return DecodeError::kBadAttribute;
  out->key.name = GetString(tb[NFCTH_NAME]);

  if (!IsNested(tb[NFCTH_TUPLE])) return DecodeError::kBadAttribute;
  std::array<const nlattr*, NFCTH_TUPLE_MAX + 1> tuple{};
  if (DecodeError e = ParseNested(tb[NFCTH_TUPLE], tuple); e != DecodeError::kNone) return e;
  if (tuple[NFCTH_TUPLE_L3PROTONUM] == nullptr || tuple[NFCTH_TUPLE_L4PROTONUM] == nullptr) {
    return DecodeError::kMissingAttribute;
  }
  if (!IsU16(tuple[NFCTH_TUPLE_L3PROTONUM]) || !IsU8(tuple[NFCTH_TUPLE_L4PROTONUM])) {
    return DecodeError::kBadAttribute;
  }
  out->key.l3num = GetBe16(tuple[NFCTH_TUPLE_L3PROTONUM]);
  out->key.l4proto = mnl_attr_get_u8(tuple[NFCTH_TUPLE_L4PROTONUM]);

  if (tb[NFCTH_QUEUE_NUM] != nullptr) {
    if (!IsU32(tb[NFCTH_QUEUE_NUM])) return DecodeError::kBadAttribute;
    out->queue_num = GetBe32(tb[NFCTH_QUEUE_NUM]);
  }
  if (tb[NFCTH_PRIV_DATA_LEN] != nullptr) {
    if (!IsU32(tb[NFCTH_PRIV_DATA_LEN])) return DecodeError::kBadAttribute;
    out->priv_data_len = GetBe32(tb[NFCTH_PRIV_DATA_LEN]);
  }
  if (tb[NFCTH_STATUS] != nullptr) {
    if (!IsU32(tb[NFCTH_STATUS])) return DecodeError::kBadAttribute;
    uint32_t status = GetBe32(tb[NFCTH_STATUS]);
    if (status > NFCT_HELPER_STATUS_ENABLED) return DecodeError::kBadValue;
    out->enabled = status == NFCT_HELPER_STATUS_ENABLED;
  }

  if (tb[NFCTH_POLICY] != nullptr) {
    if (!IsNested(tb[NFCTH_POLICY])) return DecodeError::kBadAttribute;
    std::array<const nlattr*, NFCTH_POLICY_SET_MAX + 1> sets{};
    if (DecodeError e = ParseNested(tb[NFCTH_POLICY], sets); e != DecodeError::kNone) return e;
    if (sets[NFCTH_POLICY_SET_NUM] == nullptr) return DecodeError::kMissingAttribute;
    if (!IsU32(sets[NFCTH_POLICY_SET_NUM])) return DecodeError::kBadAttribute;
    uint32_t count = GetBe32(sets[NFCTH_POLICY_SET_NUM]);
    // NF_CT_MAX_EXPECT_CLASSES is 4: NFCTH_POLICY_SET1..4.
    if (count > NFCTH_POLICY_SET_MAX - NFCTH_POLICY_SET + 1) return DecodeError::kBadValue;
    for (uint32_t i = 0; i < count; ++i) {
      const nlattr* set = sets[NFCTH_POLICY_SET + i];
      if (set == nullptr) return DecodeError::kMissingAttribute;
      if (!IsNested(set)) return DecodeError::kBadAttribute;
      std::array<const nlattr*, NFCTH_POLICY_MAX + 1> pol{};
      if (DecodeError e = ParseNested(set, pol); e != DecodeError::kNone) return e;
      if (pol[NFCTH_POLICY_NAME] == nullptr || pol[NFCTH_POLICY_EXPECT_MAX] == nullptr ||
          pol[NFCTH_POLICY_EXPECT_TIMEOUT] == nullptr) {
        return DecodeError::kMissingAttribute;
      }
      if (!IsNulString(pol[NFCTH_POLICY_NAME], kHelperNameMax) ||
          !IsU32(pol[NFCTH_POLICY_EXPECT_MAX]) || !IsU32(pol[NFCTH_POLICY_EXPECT_TIMEOUT])) {
        return DecodeError::kBadAttribute;
      }
      out->policies.push_back(HelperPolicy{std::string(GetString(pol[NFCTH_POLICY_NAME])),
                                           GetBe32(pol[NFCTH_POLICY_EXPECT_MAX]),
                                           GetBe32(pol[NFCTH_POLICY_EXPECT_TIMEOUT])});
    }
  }
  return DecodeError::kNone;
}

}  // namespace ftpalg::kernel
