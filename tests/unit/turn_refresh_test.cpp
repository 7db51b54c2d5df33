#include <gtest/gtest.h>

#include "client/turn_refresh.hpp"

namespace mxcall::client {
namespace {

TEST(TurnRefresh, TenMinutesBeforeExpiryOrATenthOfShortTtls) {
  EXPECT_EQ(turn_refresh_after(86'400), std::chrono::milliseconds((86'400 - 600) * 1000));
  EXPECT_EQ(turn_refresh_after(3'600), std::chrono::milliseconds(3'240'000));
  EXPECT_EQ(turn_refresh_after(600), std::chrono::milliseconds(540'000));
  EXPECT_EQ(turn_refresh_after(0), std::chrono::milliseconds(1000));       // never a busy loop
  EXPECT_EQ(turn_refresh_after(-5), std::chrono::milliseconds(1000));
}

}  // namespace
}  // namespace mxcall::client
