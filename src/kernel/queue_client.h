// The daemon's netfilter queue: binds it (with the conntrack attached to every packet), reads
// batches of queued packets, and sends verdicts that may carry a rewritten packet.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernel/kernel_status.h"
#include "kernel/netlink_socket.h"
#include "kernel/queue_messages.h"

namespace ftpalg::kernel {

struct QueueOptions {
  uint16_t queue_num = 0;
  uint32_t copy_range = 0xffff;  // whole packets: the engine rewrites them
  uint32_t max_len = 1024;       // packets waiting in the kernel for a verdict
  // NFQA_CFG_F_CONNTRACK: NFQA_CT with every packet, naming the connection whose expectations and
  // sequence adjustment (set over ctnetlink after a length-changing rewrite) the daemon changes.
  bool conntrack = true;
  // Without conntrack glue the daemon cannot rewrite lengths safely: refuse to run unless the
  // caller accepts a degraded queue.
  bool require_conntrack = true;
  // NFQA_CFG_F_FAIL_OPEN: when the queue (or the socket buffer) is full, packets pass unhelped
  // instead of being dropped.
  bool fail_open = true;
  int receive_buffer_bytes = 4 << 20;
  // NFQA_CFG_F_GSO is deliberately not requested: without it the kernel segments GSO/GRO
  // aggregates before queueing (nfqnl_enqueue_packet), so every packet the engine sees is one real
  // segment it can rewrite and checksum; control connections carry too little for that to cost.
};

struct QueueStats {
  uint64_t packets = 0;
  uint64_t undecodable = 0;     // messages that were not readable queued packets
  uint64_t verdict_errors = 0;  // NLMSG_ERROR answers to verdicts (ENOENT: unknown packet id)
  int last_verdict_error = 0;
  uint64_t overruns = 0;  // ENOBUFS: the kernel could not deliver (fail-open let them pass)
  uint64_t verdict_datagrams = 0;      // sendto calls carrying verdicts (a batch each)
  uint64_t verdict_send_failures = 0;  // of those, the ones the socket refused
};

class QueueClient {
 public:
  QueueClient() = default;
  ~QueueClient();
  QueueClient(const QueueClient&) = delete;
  QueueClient& operator=(const QueueClient&) = delete;

  // Binds the queue, sets copy mode, length and flags. Errors name the cause in one line: another
  // process holding the queue, missing CAP_NET_ADMIN, a kernel without nfnetlink_queue or without
  // its conntrack glue.
  KernelStatus Open(const QueueOptions& options);
  // Closes the socket, which unbinds the queue. Packets still waiting for a verdict are dropped
  // by the kernel (the queue instance is destroyed and flushed with NF_DROP: nfqnl_flush); later
  // packets bypass the queue (the helper hook's verdict carries the bypass flag) until a process
  // binds it again. TCP resends what was dropped.
  void Close();

  bool is_open() const { return socket_.is_open(); }
  int fd() const { return socket_.fd(); }  // for poll/epoll
  bool conntrack_enabled() const { return conntrack_enabled_; }
  const QueueStats& stats() const { return stats_; }

  using PacketHandler = std::function<void(const QueuedPacket& packet, DecodeError error)>;
  // Reads up to `max_datagrams` datagrams: waits for the first when `wait`, takes the rest only if
  // already there. Calls `on_packet` for every queued packet (the views in it are valid during the
  // call); a packet that failed to decode still arrives, with the error, so that its verdict can
  // be sent when has_id is set. Returns ok with nothing read when nothing was ready.
  KernelStatus ReceiveBatch(size_t max_datagrams, const PacketHandler& on_packet, bool wait = true);

  // Adds the verdict for `packet_id` to the batch FlushVerdicts sends (sending the batch first
  // when it is full). A non-empty `new_packet` replaces the packet. The verdict carries no NFQA_CT:
  // the kernel's sequence adjustment on that path is wrong for IPv6 (conntrack_messages.h), so a
  // caller whose rewrite changed a length sets the adjustment over ctnetlink before this. An error
  // means the verdict could not be encoded and was not added (the caller must still answer).
  // `help` (non-null) writes the conntrack's helper private data with the verdict; see
  // BuildVerdict for `original_length`.
  KernelStatus DeferVerdict(uint32_t packet_id, QueueVerdict verdict,
                            std::span<const uint8_t> new_packet = {},
                            const HelpInfoUpdate* help = nullptr, size_t original_length = 0);
  // Sends the deferred verdicts, in the order given, in one datagram. Call it after every
  // ReceiveBatch: a packet waits in the kernel until its verdict arrives. Also reports a send that
  // failed when DeferVerdict had to send a full batch early.
  KernelStatus FlushVerdicts();
  // DeferVerdict and FlushVerdicts for a single packet.
  KernelStatus SendVerdict(uint32_t packet_id, QueueVerdict verdict,
                           std::span<const uint8_t> new_packet = {});

 private:
  KernelStatus Configure(const std::string& what, const BuildResult& built);
  void HandleDatagram(std::span<const uint8_t> datagram, const PacketHandler& on_packet);

  NetlinkSocket socket_;
  QueueOptions options_;
  bool conntrack_enabled_ = false;
  QueueStats stats_;
  KernelStatus pending_send_error_ = KernelStatus::Ok();
  // ReceiveBatch reads up to kReceiveSlots datagrams per recvmmsg (Open reads its answers into
  // the first). The storage is left uninitialised, so a slot's pages become resident only when a
  // large packet fills them.
  static constexpr size_t kReceiveSlots = 16;
  std::unique_ptr<uint8_t[]> slot_storage_;
  std::array<std::span<uint8_t>, kReceiveSlots> slots_{};
  std::array<size_t, kReceiveSlots> slot_sizes_{};
  std::vector<uint8_t> send_buffer_;  // configuration messages
  VerdictBatch verdicts_;
  // Datagrams with packets that arrived while Open() waited for the kernel's ack.
  std::vector<std::vector<uint8_t>> pending_;
};

}  // namespace ftpalg::kernel
