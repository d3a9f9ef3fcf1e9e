// The RAII owner of one NETLINK_NETFILTER socket (libmnl underneath): open and bind, sequence
// numbers, send, receive, and request/acknowledge exchanges with the kernel's errno. One of the
// few places in the project that makes syscalls.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

struct mnl_socket;

namespace ftpalg::kernel {

class NetlinkSocket {
 public:
  NetlinkSocket() = default;
  ~NetlinkSocket();
  NetlinkSocket(NetlinkSocket&& other) noexcept;
  NetlinkSocket& operator=(NetlinkSocket&& other) noexcept;
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;

  // Opens and binds (kernel-assigned port id) a NETLINK_NETFILTER socket, with extended acks on
  // and a receive timeout of `timeout` for Request(). Returns 0 or errno (EPROTONOSUPPORT: the
  // kernel has no nfnetlink).
  int Open(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  void Close();
  bool is_open() const { return socket_ != nullptr; }
  int fd() const;
  uint32_t portid() const;

  // The sequence number for the next request (starts from the clock, as libmnl's examples do, so
  // that answers meant for an earlier process on a reused port id are not taken for ours).
  uint32_t NextSeq() { return seq_++; }

  // setsockopt(SOL_NETLINK, option, value): NETLINK_CAP_ACK, NETLINK_NO_ENOBUFS, ... 0 or errno.
  int SetNetlinkOption(int option, int value);
  // SO_RCVBUFFORCE (needs CAP_NET_ADMIN) and SO_RCVBUF as fallback. 0 or errno.
  int SetReceiveBufferSize(int bytes);
  // SO_RCVTIMEO; zero means block. 0 or errno.
  int SetReceiveTimeout(std::chrono::milliseconds timeout);

  // Sends one message to the kernel. 0 or errno.
  int Send(std::span<const uint8_t> message);
  // Receives one datagram from the kernel into `buffer`. 0 or errno: EAGAIN (nothing ready, or the
  // receive timeout expired), ENOBUFS (the kernel dropped messages for this socket), ENOSPC (the
  // datagram did not fit). Datagrams from user space (any sender port id but the kernel's 0) are
  // dropped unread: another process could otherwise feed the daemon forged packets.
  int Receive(std::span<uint8_t> buffer, bool wait, size_t* received);
  // Receives up to buffers.size() datagrams (at most kMaxReceiveMany) in one system call
  // (recvmmsg): waits for the first when `wait`, takes the rest only if already there. For
  // i < *count, sizes[i] is the length of the datagram in buffers[i], or 0 for one left out: sent
  // from user space (as in Receive) or cut short by its buffer. 0 or errno as Receive.
  static constexpr size_t kMaxReceiveMany = 64;
  int ReceiveMany(std::span<const std::span<uint8_t>> buffers, bool wait, std::span<size_t> sizes,
                  size_t* count);

  struct Answer {
    int error = 0;            // errno from the kernel or from the socket; 0 = acknowledged
    std::string ext_message;  // the kernel's extended-ack text, when it sent one
  };
  // Sends a request that asks for an acknowledgement (NLM_F_ACK) or is a dump, then reads until its
  // ack, error or NLMSG_DONE. Data messages answering it go to `on_data` (valid during the call).
  // ETIMEDOUT when the kernel did not answer in time, EBADMSG when the answer was unreadable.
  Answer Request(std::span<const uint8_t> message,
                 const std::function<void(std::span<const uint8_t>)>& on_data = {});

 private:
  mnl_socket* socket_ = nullptr;
  uint32_t seq_ = 0;
  std::vector<uint8_t> answer_buffer_;
};

}  // namespace ftpalg::kernel
