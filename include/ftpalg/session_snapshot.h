// What a control connection's session needs to go on after the daemon restarts, kept in the
// conntrack entry itself: a userspace conntrack helper has a private data area per connection
// (nfnetlink_cthelper, NFCTH_PRIV_DATA_LEN at registration; at most 32 bytes, the size of
// nf_conn_help's data in 6.x). The kernel zeroes the area when it attaches the helper and hands it
// back with every queued packet (CTA_HELP_INFO), so a restarted daemon reads each session's state
// from the next packet instead of trusting it as logged in.
//
// Only state that changes a few times per session goes in, so that the area is written rarely
// (each write rides on a verdict or a ctnetlink update the daemon sends anyway):
// - the login state (RFC 959 5.4: greeting, then USER/PASS/ACCT answered by 230; REIN undoes it),
// - whether the session stepped aside (TLS after AUTH + 234, or not FTP: NAT slipstreaming),
// - EPSV ALL accepted (RFC 2428 4: no PORT/EPRT/LPRT after it),
// - whether the command/reply pairing was unsure (after a gap, docs/gaps.md).
// The commands waiting for their replies are not kept: a resumed session starts with none, so a
// reply to a command sent before the restart is paired as after a gap: nothing is opened on it.
//
// Encoding (version 1), kSize bytes:
//   [0] version (1); an all-zero area was never written (a fresh entry, or one synced from a
//       backup gateway, whose private data conntrackd does not carry)
//   [1] login: 1 awaiting greeting, 2 awaiting login, 3 logged in, 4 unknown (docs/gaps.md)
//   [2] step aside: 0 no, 1 TLS, 2 not FTP
//   [3] flags: bit 0 EPSV ALL, bit 1 pairing unsure (informational: a resumed session's pairing
//       is always unsure, its waiting commands are not kept); other bits 0
//   [4..31] 0 (reserved for later versions, which take a new version number)
// Decoding never throws: a malformed area is a value (SnapshotStatus), and the session is then
// picked up as if the area had never been written.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "ftpalg/login_state.h"
#include "ftpalg/session.h"

namespace ftpalg {

struct SessionSnapshot {
  static constexpr size_t kSize = 32;  // the kernel's nf_conn_help data area (6.x)
  static constexpr uint8_t kVersion = 1;

  LoginState login = LoginState::kLoggedIn;
  StepAside step_aside = StepAside::kNo;
  bool epsv_all = false;
  bool pairing_unsure = false;
  bool operator==(const SessionSnapshot&) const = default;
};

using SnapshotBytes = std::array<uint8_t, SessionSnapshot::kSize>;

enum class SnapshotStatus : uint8_t {
  kOk,
  kNeverWritten,    // all zero
  kWrongSize,       // not kSize bytes (a helper registered with another private data length)
  kUnknownVersion,  // written by another version of the daemon
  kBadField,        // a field out of range, or a reserved bit or byte set
};

struct SnapshotRead {
  SnapshotStatus status = SnapshotStatus::kNeverWritten;
  SessionSnapshot snapshot;  // valid when status is kOk
  bool ok() const { return status == SnapshotStatus::kOk; }
};

SnapshotBytes EncodeSnapshot(const SessionSnapshot& snapshot);
SnapshotRead DecodeSnapshot(std::span<const uint8_t> bytes);

// The snapshot of a session, and a new session set up from one (the rest of its state starts as
// for a session picked up mid-stream).
SessionSnapshot SnapshotOf(const Session& session);
void ResumeFrom(const SessionSnapshot& snapshot, Session& session);

}  // namespace ftpalg
