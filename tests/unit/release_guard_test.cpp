// The guard's wait for a dead daemon's queue socket to go (release_guard.h).
#include "daemon/release_guard.h"

#include <gtest/gtest.h>

#include <chrono>

namespace ftpalg::daemon {
namespace {

using std::chrono::milliseconds;

TEST(ReleaseGuard, WaitsForTheDeadDaemonsQueueSocketToGo) {
  // The socket of the dead daemon is still listed for the first three looks.
  int looks = 0;
  const auto bound = [&looks] { return ++looks <= 3; };
  EXPECT_TRUE(WaitForQueueRelease(bound, 100, milliseconds(1)));
  EXPECT_EQ(looks, 4);
}

TEST(ReleaseGuard, AQueueBoundThroughTheGraceIsServedByAnotherInstance) {
  int looks = 0;
  const auto bound = [&looks] {
    ++looks;
    return true;
  };
  EXPECT_FALSE(WaitForQueueRelease(bound, 5, milliseconds(1)));
  EXPECT_EQ(looks, 5);
}

TEST(ReleaseGuard, WithoutGraceTheQueueIsLookedAtOnce) {
  int looks = 0;
  const auto bound = [&looks] {
    ++looks;
    return true;
  };
  EXPECT_FALSE(WaitForQueueRelease(bound, 1, milliseconds(1000)));
  EXPECT_EQ(looks, 1);  // and no sleep after the last look
}

}  // namespace
}  // namespace ftpalg::daemon
