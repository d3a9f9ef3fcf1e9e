#include "ftpalg/session_snapshot.h"

#include <algorithm>

namespace ftpalg {
namespace {

constexpr size_t kVersionByte = 0;
constexpr size_t kLoginByte = 1;
constexpr size_t kStepAsideByte = 2;
constexpr size_t kFlagsByte = 3;
constexpr size_t kFirstReservedByte = 4;
constexpr uint8_t kFlagEpsvAll = 0x01;
constexpr uint8_t kFlagPairingUnsure = 0x02;
constexpr uint8_t kKnownFlags = kFlagEpsvAll | kFlagPairingUnsure;

// Wire values of their own, so that reordering the enums can never change what an older daemon
// wrote into a live conntrack entry.
uint8_t LoginCode(LoginState login) {
  switch (login) {
    case LoginState::kAwaitingGreeting:
      return 1;
    case LoginState::kAwaitingLogin:
      return 2;
    case LoginState::kLoggedIn:
      return 3;
    case LoginState::kUnknown:
      return 4;
  }
  return 0;
}

uint8_t StepAsideCode(StepAside step_aside) {
  switch (step_aside) {
    case StepAside::kNo:
      return 0;
    case StepAside::kTls:
      return 1;
    case StepAside::kNotFtp:
      return 2;
  }
  return 0xff;
}

}  // namespace

SnapshotBytes EncodeSnapshot(const SessionSnapshot& snapshot) {
  SnapshotBytes bytes{};
  bytes[kVersionByte] = SessionSnapshot::kVersion;
  bytes[kLoginByte] = LoginCode(snapshot.login);
  bytes[kStepAsideByte] = StepAsideCode(snapshot.step_aside);
  bytes[kFlagsByte] = static_cast<uint8_t>((snapshot.epsv_all ? kFlagEpsvAll : 0) |
                                           (snapshot.pairing_unsure ? kFlagPairingUnsure : 0));
  return bytes;
}

SnapshotRead DecodeSnapshot(std::span<const uint8_t> bytes) {
  SnapshotRead read;
  if (bytes.size() != SessionSnapshot::kSize) {
    read.status = SnapshotStatus::kWrongSize;
    return read;
  }
  if (std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; })) {
    read.status = SnapshotStatus::kNeverWritten;
    return read;
  }
  if (bytes[kVersionByte] != SessionSnapshot::kVersion) {
    read.status = SnapshotStatus::kUnknownVersion;
    return read;
  }
  const bool reserved_clear = std::all_of(bytes.begin() + kFirstReservedByte, bytes.end(),
                                          [](uint8_t b) { return b == 0; });
  const uint8_t flags = bytes[kFlagsByte];
  SessionSnapshot& snapshot = read.snapshot;
  switch (bytes[kLoginByte]) {
    case 1:
      snapshot.login = LoginState::kAwaitingGreeting;
      break;
    case 2:
      snapshot.login = LoginState::kAwaitingLogin;
      break;
    case 3:
      snapshot.login = LoginState::kLoggedIn;
      break;
    case 4:
      snapshot.login = LoginState::kUnknown;
      break;
    default:
      read.status = SnapshotStatus::kBadField;
      return read;
  }
  switch (bytes[kStepAsideByte]) {
    case 0:
      snapshot.step_aside = StepAside::kNo;
      break;
    case 1:
      snapshot.step_aside = StepAside::kTls;
      break;
    case 2:
      snapshot.step_aside = StepAside::kNotFtp;
      break;
    default:
      read.status = SnapshotStatus::kBadField;
      return read;
  }
  if (!reserved_clear || (flags & ~kKnownFlags) != 0) {
    read.status = SnapshotStatus::kBadField;
    return read;
  }
  snapshot.epsv_all = (flags & kFlagEpsvAll) != 0;
  snapshot.pairing_unsure = (flags & kFlagPairingUnsure) != 0;
  read.status = SnapshotStatus::kOk;
  return read;
}

SessionSnapshot SnapshotOf(const Session& session) {
  SessionSnapshot snapshot;
  snapshot.login = session.login;
  snapshot.step_aside = session.step_aside;
  snapshot.epsv_all = session.epsv_all;
  snapshot.pairing_unsure = session.commands.unsure();
  return snapshot;
}

void ResumeFrom(const SessionSnapshot& snapshot, Session& session) {
  session.login = snapshot.login;
  session.step_aside = snapshot.step_aside;
  session.epsv_all = snapshot.epsv_all;
  // The commands waiting for replies are not kept: whatever the old daemon had waiting may be
  // answered now, so pairing resumes unsure and resynchronises as after a gap (docs/gaps.md).
  session.commands.LoseTrack(true);
}

}  // namespace ftpalg
