#include "kernel/queue_client.h"

#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "kernel/netlink_ack.h"

namespace ftpalg::kernel {
namespace {

constexpr uint16_t kPacketType = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
// Room for the packet plus everything the kernel puts around it (headers, NFQA_CT, L2 header).
constexpr size_t kReceiveOverhead = 8192;

uint16_t MessageType(std::span<const uint8_t> message) {
  return reinterpret_cast<const nlmsghdr*>(message.data())->nlmsg_type;
}

}  // namespace

QueueClient::~QueueClient() { Close(); }

KernelStatus QueueClient::Open(const QueueOptions& options) {
  Close();
  options_ = options;
  std::string what = "binding netfilter queue " + std::to_string(options.queue_num);
  if (int error = socket_.Open(); error != 0) {
    if (error == EPROTONOSUPPORT) return KernelStatus::Error(error, std::string(kLacksNfnetlink));
    return KernelStatus::Error(error, what + ": cannot open a netlink socket: " + ErrnoText(error));
  }
  // Errors answering verdicts then echo only the header, not the whole rewritten packet.
  socket_.SetNetlinkOption(NETLINK_CAP_ACK, 1);
  socket_.SetReceiveBufferSize(options.receive_buffer_bytes);
  // Each slot starts on an 8-byte boundary: netlink messages are read in place (NLMSG_ALIGNTO).
  const size_t datagram_size =
      (std::min<uint32_t>(options.copy_range, 0xffff) + kReceiveOverhead + 7) & ~size_t{7};
  slot_storage_ = std::make_unique_for_overwrite<uint8_t[]>(datagram_size * kReceiveSlots);
  for (size_t i = 0; i < kReceiveSlots; ++i) {
    slots_[i] = std::span<uint8_t>(slot_storage_.get() + i * datagram_size, datagram_size);
  }
  send_buffer_.assign(VerdictMessageSize(0xffff), 0);

  uint32_t mask = NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN;
  uint32_t flags = (options.conntrack ? NFQA_CFG_F_CONNTRACK : 0u) |
                   (options.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0u);
  KernelStatus status =
      Configure(what, BuildQueueOpen(send_buffer_, socket_.NextSeq(), options.queue_num,
                                     options.copy_range, options.max_len, flags, mask));
  if (status.error == EOPNOTSUPP && options.conntrack && !options.require_conntrack) {
    // Degraded mode, on request: packets without their conntrack.
    flags &= ~static_cast<uint32_t>(NFQA_CFG_F_CONNTRACK);
    status = Configure(what, BuildQueueOpen(send_buffer_, socket_.NextSeq(), options.queue_num,
                                            options.copy_range, options.max_len, flags, mask));
  }
  if (!status.ok()) {
    socket_.Close();
    return status;
  }
  conntrack_enabled_ = (flags & NFQA_CFG_F_CONNTRACK) != 0;
  // From here on reads wait for packets (the daemon polls the descriptor).
  socket_.SetReceiveTimeout(std::chrono::milliseconds(0));
  return KernelStatus::Ok();
}

KernelStatus QueueClient::Configure(const std::string& what, const BuildResult& built) {
  if (!built.ok()) {
    return KernelStatus::Error(
        EINVAL, what + ": cannot encode: " + std::string(BuildErrorName(built.error)));
  }
  uint32_t seq = built.header()->nlmsg_seq;
  if (int error = socket_.Send(built.message); error != 0) {
    return KernelStatus::Error(error, what + ": " + ErrnoText(error));
  }
  // The queue is live as soon as the kernel has bound it, possibly before its ack reaches us:
  // packets read while waiting are kept for the first ReceiveBatch instead of being skipped (a
  // skipped packet would wait for a verdict until the queue is unbound).
  while (true) {
    size_t received = 0;
    int error = socket_.Receive(slots_[0], true, &received);
    if (error == EAGAIN) {
      return KernelStatus::Error(ETIMEDOUT, what + ": no answer from the kernel");
    }
    if (error == ENOBUFS) {
      ++stats_.overruns;
      continue;
    }
    if (error != 0) return KernelStatus::Error(error, what + ": " + ErrnoText(error));
    std::span<const uint8_t> datagram(slots_[0].data(), received);
    bool has_packets = false;
    ForEachMessage(datagram, [&](std::span<const uint8_t> message) {
      if (MessageType(message) == kPacketType) has_packets = true;
    });
    if (has_packets) pending_.emplace_back(datagram.begin(), datagram.end());
    ReplyProgress progress = ScanReply(datagram, seq, [](std::span<const uint8_t>) {});
    if (progress.malformed != DecodeError::kNone) {
      return KernelStatus::Error(EBADMSG, what + ": unreadable answer");
    }
    if (!progress.finished) continue;
    switch (progress.error) {
      case 0:
        return KernelStatus::Ok();
      case EPERM:
        // nfnetlink refuses callers without CAP_NET_ADMIN with EPERM, and so does the queue when
        // another socket holds it (nfqnl_recv_config checks the owner before BIND's EBUSY).
        if (HasNetAdmin()) {
          auto owner = QueueOwnerPortid(options_.queue_num);
          return KernelStatus::Error(
              EPERM, what + ": the queue is bound by another process" +
                         (owner ? " (netlink port " + std::to_string(*owner) + ")" : "") +
                         "; is another instance running?");
        }
        return KernelStatus::Error(EPERM, what + ": " + std::string(kNeedsNetAdmin));
      case EOPNOTSUPP:
        return KernelStatus::Error(EOPNOTSUPP, what + ": " + std::string(kLacksQueueConntrack));
      case EINVAL:
        if (progress.ext_message.empty()) {
          return KernelStatus::Error(EINVAL, what + ": " + std::string(kLacksQueue));
        }
        [[fallthrough]];
      default: {
        std::string text = what + ": " + ErrnoText(progress.error);
        if (!progress.ext_message.empty()) text += ": " + std::string(progress.ext_message);
        return KernelStatus::Error(progress.error, text);
      }
    }
  }
}

void QueueClient::Close() {
  // Closing the socket unbinds the queue (the kernel destroys a departing port id's queues on
  // NETLINK_URELEASE); packets still waiting are dropped by that, new ones bypass the queue.
  socket_.Close();
  pending_.clear();
  verdicts_.Clear();
  conntrack_enabled_ = false;
}

void QueueClient::HandleDatagram(std::span<const uint8_t> datagram,
                                 const PacketHandler& on_packet) {
  DecodeError walk = ForEachMessage(datagram, [&](std::span<const uint8_t> message) {
    uint16_t type = MessageType(message);
    if (type == kPacketType) {
      QueuedPacket packet;
      DecodeError error = ParseQueuedPacket(message, &packet);
      if (error == DecodeError::kNone) {
        ++stats_.packets;
      } else {
        ++stats_.undecodable;
      }
      on_packet(packet, error);
    } else if (type == NLMSG_ERROR) {
      NetlinkAck ack;
      if (ParseAck(message, &ack) != DecodeError::kNone) {
        ++stats_.undecodable;
      } else if (ack.error != 0) {
        ++stats_.verdict_errors;
        stats_.last_verdict_error = ack.error;
      }
    }
  });
  if (walk != DecodeError::kNone) ++stats_.undecodable;
}

KernelStatus QueueClient::ReceiveBatch(size_t max_datagrams, const PacketHandler& on_packet,
                                       bool wait) {
  if (!socket_.is_open()) return KernelStatus::Error(EBADF, "netfilter queue is not open");
  std::vector<std::vector<uint8_t>> pending;
  pending.swap(pending_);
  for (const auto& datagram : pending) HandleDatagram(datagram, on_packet);
  bool first = pending.empty();
  size_t taken = 0;
  while (taken < max_datagrams) {
    // One recvmmsg for up to kReceiveSlots datagrams: one packet each (the queue sends every
    // packet on its own), so per packet this was a system call of its own.
    const size_t want = std::min(max_datagrams - taken, kReceiveSlots);
    size_t count = 0;
    int error =
        socket_.ReceiveMany(std::span(slots_).first(want), wait && first, slot_sizes_, &count);
    first = false;
    if (error == EAGAIN) break;
    if (error == ENOBUFS) {
      // The kernel could not queue packets to us; with fail-open it let them through.
      ++stats_.overruns;
      ++taken;
      continue;
    }
    if (error != 0) {
      return KernelStatus::Error(error, "reading netfilter queue " +
                                            std::to_string(options_.queue_num) + ": " +
                                            ErrnoText(error));
    }
    for (size_t i = 0; i < count; ++i) {
      if (slot_sizes_[i] == 0) {
        ++stats_.undecodable;  // cut short, or not from the kernel: nothing to answer
        continue;
      }
      HandleDatagram(slots_[i].first(slot_sizes_[i]), on_packet);
    }
    taken += count;
    if (count < want) break;  // nothing more was ready
  }
  return KernelStatus::Ok();
}

KernelStatus QueueClient::DeferVerdict(uint32_t packet_id, QueueVerdict verdict,
                                       std::span<const uint8_t> new_packet,
                                       const HelpInfoUpdate* help, size_t original_length) {
  if (!socket_.is_open()) return KernelStatus::Error(EBADF, "netfilter queue is not open");
  if (verdicts_.WouldOverflow(new_packet.size(), help != nullptr)) {
    // The verdicts already batched go now; if that fails, FlushVerdicts() reports it next time.
    if (KernelStatus sent = FlushVerdicts(); !sent.ok()) pending_send_error_ = sent;
  }
  BuildError error =
      verdicts_.Append(socket_.NextSeq(), options_.queue_num, packet_id, verdict, new_packet,
                       /*attach_conntrack=*/false, help, original_length);
  if (error != BuildError::kNone) {
    return KernelStatus::Error(EINVAL,
                               "verdict for packet " + std::to_string(packet_id) +
                                   ": cannot encode: " + std::string(BuildErrorName(error)));
  }
  return KernelStatus::Ok();
}

KernelStatus QueueClient::FlushVerdicts() {
  KernelStatus earlier = std::exchange(pending_send_error_, KernelStatus::Ok());
  if (verdicts_.empty()) return earlier;
  const size_t count = verdicts_.count();
  const int error = socket_.is_open() ? socket_.Send(verdicts_.bytes()) : EBADF;
  verdicts_.Clear();
  ++stats_.verdict_datagrams;
  if (error != 0) {
    ++stats_.verdict_send_failures;
    // Those packets stay in the kernel's queue (counted against its length) until it is
    // closed; TCP resends their data, and each resend gets a verdict of its own.
    return KernelStatus::Error(
        error, "sending " + std::to_string(count) + " verdicts: " + ErrnoText(error));
  }
  return earlier;
}

KernelStatus QueueClient::SendVerdict(uint32_t packet_id, QueueVerdict verdict,
                                      std::span<const uint8_t> new_packet) {
  if (KernelStatus status = DeferVerdict(packet_id, verdict, new_packet); !status.ok()) {
    return status;
  }
  return FlushVerdicts();
}

}  // namespace ftpalg::kernel
