// ctnetlink conntrack events (the multicast groups NFNLGRP_CONNTRACK_NEW / _DESTROY): the decoder
// of one event message into plain values, and the socket that subscribes to them. The decoder is
// pure and golden-byte tested; the socket is a thin adapter over NetlinkSocket.
//
// Kernel semantics these follow (net/netfilter/nf_conntrack_netlink.c, ctnetlink_conntrack_event,
// 6.1 to 6.18):
// - A new conntrack is reported as IPCTNL_MSG_CT_NEW with NLM_F_CREATE | NLM_F_EXCL to group
//   NFNLGRP_CONNTRACK_NEW; a change of an existing one as IPCTNL_MSG_CT_NEW without those flags to
//   NFNLGRP_CONNTRACK_UPDATE; its end as IPCTNL_MSG_CT_DELETE to NFNLGRP_CONNTRACK_DESTROY.
// - Every event carries CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_ID and CTA_STATUS, and CTA_ZONE when
//   the zone is not 0. A NEW or UPDATE event also carries CTA_HELP {CTA_HELP_NAME} whenever the
//   conntrack has a helper ("events & IPCT_HELPER || nfct_help(ct)").
// - A DESTROY event carries CTA_COUNTERS_ORIG / _REPLY {CTA_COUNTERS_PACKETS, _BYTES: be64} when
//   accounting is on (net.netfilter.nf_conntrack_acct=1) and CTA_TIMESTAMP {CTA_TIMESTAMP_START,
//   _STOP: be64 nanoseconds, CLOCK_REALTIME} when timestamps are on
//   (net.netfilter.nf_conntrack_timestamp=1). be64 attributes may be preceded by a *_PAD attribute
//   (nla_put_be64 aligns them), which the decoder skips.
//
// Is the helper attached before the NEW event goes out? Yes, for both ways the project's rules
// attach it. The NEW event is cached when the conntrack is created and delivered when it is
// confirmed (__nf_conntrack_confirm -> nf_ct_deliver_cached_events, at the end of POSTROUTING or
// INPUT), which is after every prerouting hook ran: iptables' `-j CT --helper` in the raw table
// attaches a template whose helper init_conntrack() copies at creation, and nft's `ct helper set`
// (nft_ct_helper_obj_eval) adds the helper extension to the still unconfirmed conntrack (it does
// nothing to a confirmed one). So a NEW event without CTA_HELP means no rule attached a helper to
// that connection's first packet.
#pragma once

#include <cerrno>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ftpalg/expectation.h"
#include "kernel/netlink_codec.h"
#include "kernel/netlink_socket.h"

namespace ftpalg::kernel {

enum class ConntrackEventKind : uint8_t {
  kNew,      // IPCTNL_MSG_CT_NEW with NLM_F_CREATE (group NFNLGRP_CONNTRACK_NEW)
  kUpdate,   // IPCTNL_MSG_CT_NEW without it (group NFNLGRP_CONNTRACK_UPDATE)
  kDestroy,  // IPCTNL_MSG_CT_DELETE (group NFNLGRP_CONNTRACK_DESTROY)
};

// CTA_COUNTERS_ORIG / CTA_COUNTERS_REPLY: one direction's traffic.
struct ConntrackCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  bool operator==(const ConntrackCounters&) const = default;
};

// One conntrack event, decoded. Owns its strings: it outlives the receive buffer.
struct ConntrackEvent {
  ConntrackEventKind kind = ConntrackEventKind::kNew;
  uint8_t family = 0;              // nfgen_family: AF_INET / AF_INET6
  uint8_t protonum = 0;            // IPPROTO_TCP, ...
  Tuple original;                  // CTA_TUPLE_ORIG: as the connection's first packet arrived
  Tuple reply;                     // CTA_TUPLE_REPLY: what the answer looks like (after NAT)
  std::optional<uint32_t> id;      // CTA_ID
  uint16_t zone = 0;               // CTA_ZONE (0 when absent: the default zone)
  std::optional<uint32_t> status;  // CTA_STATUS: IPS_* bits
  std::optional<uint32_t> mark;    // CTA_MARK
  std::string helper_name;         // CTA_HELP/CTA_HELP_NAME; empty: no helper
  std::optional<ConntrackCounters> counters_original;  // CTA_COUNTERS_ORIG (DESTROY)
  std::optional<ConntrackCounters> counters_reply;     // CTA_COUNTERS_REPLY (DESTROY)
  std::optional<uint64_t> start_ns;                    // CTA_TIMESTAMP_START (DESTROY)
  std::optional<uint64_t> stop_ns;                     // CTA_TIMESTAMP_STOP (DESTROY)
};

// Reads one event message (IPCTNL_MSG_CT_NEW or IPCTNL_MSG_CT_DELETE of NFNL_SUBSYS_CTNETLINK).
// Wire data never throws: a malformed message is an error value, `out` is then unspecified.
DecodeError ParseConntrackEvent(std::span<const uint8_t> message, ConntrackEvent* out);

// Which groups to join.
struct ConntrackEventGroups {
  bool new_connections = false;  // NFNLGRP_CONNTRACK_NEW
  bool destroyed = false;        // NFNLGRP_CONNTRACK_DESTROY
};

// A socket subscribed to conntrack events, for a poll loop: its own fd, never blocking. The
// kernel drops events when the receive buffer is full and says so with ENOBUFS on the next
// receive; those are counted, the socket stays usable.
class ConntrackEventSocket {
 public:
  // Opens, joins the groups and sets the receive buffer to `receive_buffer_bytes` (bounded: a
  // burst of new connections costs dropped events, never memory or time on the packet path).
  // 0 or errno (EPERM without CAP_NET_ADMIN for the groups; EPROTONOSUPPORT without nfnetlink).
  int Open(ConntrackEventGroups groups, int receive_buffer_bytes);
  int fd() const { return socket_.fd(); }
  bool is_open() const { return socket_.is_open(); }

  // Reads what is ready without waiting and hands each decoded event to `on_event`; at most
  // `max_datagrams` datagrams per call so that a flood cannot hold the caller. Returns the number
  // of datagrams read. Undecodable messages are counted in decode_errors().
  template <typename OnEvent>
  size_t Drain(size_t max_datagrams, OnEvent&& on_event);

  uint64_t overruns() const { return overruns_; }  // ENOBUFS: events the kernel dropped
  uint64_t decode_errors() const { return decode_errors_; }

 private:
  // One datagram into buffer_; 0, EAGAIN, ENOBUFS or another errno.
  int ReceiveOne(size_t* received);
  // Every message in the datagram, decoded.
  template <typename OnEvent>
  void Dispatch(std::span<const uint8_t> datagram, OnEvent& on_event);

  NetlinkSocket socket_;
  std::vector<uint8_t> buffer_;
  uint64_t overruns_ = 0;
  uint64_t decode_errors_ = 0;
};

// Splits a datagram into its netlink messages (a datagram may hold several events) and calls
// `each(message)` for every whole nfnetlink message; netlink control messages (NLMSG_NOOP,
// NLMSG_ERROR, NLMSG_DONE) are skipped; stops at the first malformed header.
void ForEachNetlinkMessage(std::span<const uint8_t> datagram,
                           const std::function<void(std::span<const uint8_t>)>& each);

template <typename OnEvent>
size_t ConntrackEventSocket::Drain(size_t max_datagrams, OnEvent&& on_event) {
  size_t count = 0;
  for (size_t attempts = 0; attempts < max_datagrams; ++attempts) {
    size_t received = 0;
    int error = ReceiveOne(&received);
    if (error == ENOBUFS) {
      ++overruns_;
      continue;
    }
    if (error != 0) break;
    ++count;
    Dispatch(std::span<const uint8_t>(buffer_.data(), received), on_event);
  }
  return count;
}

template <typename OnEvent>
void ConntrackEventSocket::Dispatch(std::span<const uint8_t> datagram, OnEvent& on_event) {
  ForEachNetlinkMessage(datagram, [&](std::span<const uint8_t> message) {
    ConntrackEvent event;
    if (ParseConntrackEvent(message, &event) == DecodeError::kNone) {
      on_event(event);
    } else {
      ++decode_errors_;
    }
  });
}

}  // namespace ftpalg::kernel
