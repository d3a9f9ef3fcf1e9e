#include "kernel/netlink_socket.h"

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "kernel/netlink_ack.h"

namespace ftpalg::kernel {
namespace {

// Netlink dumps come in datagrams of up to 32 KiB (the kernel caps max_recvmsg_len there); twice
// that leaves room without ever truncating.
constexpr size_t kAnswerBufferSize = 65536;

}  // namespace

NetlinkSocket::~NetlinkSocket() { Close(); }

NetlinkSocket::NetlinkSocket(NetlinkSocket&& other) noexcept
    : socket_(std::exchange(other.socket_, nullptr)),
      seq_(other.seq_),
      answer_buffer_(std::move(other.answer_buffer_)) {}

NetlinkSocket& NetlinkSocket::operator=(NetlinkSocket&& other) noexcept {
  if (this != &other) {
    Close();
    socket_ = std::exchange(other.socket_, nullptr);
    seq_ = other.seq_;
    answer_buffer_ = std::move(other.answer_buffer_);
  }
  return *this;
}

int NetlinkSocket::Open(std::chrono::milliseconds timeout) {
  Close();
  mnl_socket* sock = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
  if (sock == nullptr) return errno;
  if (mnl_socket_bind(sock, 0, MNL_SOCKET_AUTOPID) < 0) {
    int error = errno;
    mnl_socket_close(sock);
    return error;
  }
  socket_ = sock;
  seq_ = static_cast<uint32_t>(::time(nullptr));
  // Extended acks give the kernel's reason for EINVAL and friends; older kernels refuse the
  // option, which only costs the text.
  SetNetlinkOption(NETLINK_EXT_ACK, 1);
  return SetReceiveTimeout(timeout);
}

void NetlinkSocket::Close() {
  if (socket_ != nullptr) {
    mnl_socket_close(socket_);
    socket_ = nullptr;
  }
}

int NetlinkSocket::fd() const { return socket_ == nullptr ? -1 : mnl_socket_get_fd(socket_); }

uint32_t NetlinkSocket::portid() const {
  return socket_ == nullptr ? 0 : mnl_socket_get_portid(socket_);
}

int NetlinkSocket::SetNetlinkOption(int option, int value) {
  if (socket_ == nullptr) return EBADF;
  if (mnl_socket_setsockopt(socket_, option, &value, sizeof(value)) < 0) return errno;
  return 0;
}

int NetlinkSocket::SetReceiveBufferSize(int bytes) {
  if (socket_ == nullptr) return EBADF;
  // SO_RCVBUFFORCE goes past net.core.rmem_max; it needs CAP_NET_ADMIN, which the daemon has.
  if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return 0;
  if (setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) == 0) return 0;
  return errno;
}

int NetlinkSocket::SetReceiveTimeout(std::chrono::milliseconds timeout) {
  if (socket_ == nullptr) return EBADF;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  if (setsockopt(fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) return errno;
  return 0;
}

int NetlinkSocket::Send(std::span<const uint8_t> message) {
  if (socket_ == nullptr) return EBADF;
  while (true) {
    ssize_t sent = mnl_socket_sendto(socket_, message.data(), message.size());
    if (sent >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

int NetlinkSocket::Receive(std::span<uint8_t> buffer, bool wait, size_t* received) {
  *received = 0;
  if (socket_ == nullptr) return EBADF;
  while (true) {
    sockaddr_nl from{};
    iovec iov{buffer.data(), buffer.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(fd(), &msg, wait ? 0 : MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0) return ENOSPC;
    if (from.nl_pid != 0) continue;  // not from the kernel
    *received = static_cast<size_t>(n);
    return 0;
  }
}

int NetlinkSocket::ReceiveMany(std::span<const std::span<uint8_t>> buffers, bool wait,
                               std::span<size_t> sizes, size_t* count) {
  *count = 0;
  if (socket_ == nullptr) return EBADF;
  const size_t slots = std::min({buffers.size(), sizes.size(), kMaxReceiveMany});
  if (slots == 0) return 0;
  std::array<mmsghdr, kMaxReceiveMany> messages{};
  std::array<iovec, kMaxReceiveMany> vectors{};
  std::array<sockaddr_nl, kMaxReceiveMany> senders{};
  for (size_t i = 0; i < slots; ++i) {
    vectors[i] = iovec{buffers[i].data(), buffers[i].size()};
    messages[i].msg_hdr.msg_name = &senders[i];
    messages[i].msg_hdr.msg_namelen = sizeof(sockaddr_nl);
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int received = 0;
  do {
    received = recvmmsg(fd(), messages.data(), static_cast<unsigned>(slots),
                        wait ? MSG_WAITFORONE : MSG_DONTWAIT, nullptr);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return errno;
  for (size_t i = 0; i < static_cast<size_t>(received); ++i) {
    const bool whole = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) == 0;
    const bool from_kernel = senders[i].nl_pid == 0;
    sizes[i] = whole && from_kernel ? messages[i].msg_len : 0;
  }
  *count = static_cast<size_t>(received);
  return 0;
}

NetlinkSocket::Answer NetlinkSocket::Request(
    std::span<const uint8_t> message,
    const std::function<void(std::span<const uint8_t>)>& on_data) {
  if (socket_ == nullptr) return {EBADF, {}};
  if (message.size() < sizeof(nlmsghdr)) return {EINVAL, {}};
  uint32_t seq = reinterpret_cast<const nlmsghdr*>(message.data())->nlmsg_seq;
  if (int error = Send(message); error != 0) return {error, {}};
  if (answer_buffer_.size() < kAnswerBufferSize) answer_buffer_.resize(kAnswerBufferSize);
  auto ignore = [](std::span<const uint8_t>) {};
  while (true) {
    size_t received = 0;
    int error = Receive(answer_buffer_, true, &received);
    if (error == EAGAIN) return {ETIMEDOUT, {}};
    if (error != 0) return {error, {}};
    ReplyProgress progress = ScanReply(std::span<const uint8_t>(answer_buffer_.data(), received),
                                       seq, on_data ? on_data : ignore);
    if (progress.malformed != DecodeError::kNone) return {EBADMSG, {}};
    if (progress.finished) return {progress.error, std::string(progress.ext_message)};
  }
}

}  // namespace ftpalg::kernel
