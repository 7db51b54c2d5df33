// Batching of one turn's to-device messages: one request per layer of one message per device.
#include <gtest/gtest.h>

#include "client/to_device_outbox.hpp"

namespace mxcall::client {
namespace {

OutgoingToDevice msg(std::string user, std::string device, std::string type, int n) {
  return {std::move(user), std::move(device), std::move(type), matrix::Json{{"n", n}}};
}

TEST(ToDeviceOutbox, OneMessagePerDeviceIsOneLayer) {
  auto layers = split_one_per_device({msg("@a:s", "A", "m.call.invite", 1), msg("@b:s", "B", "m.call.invite", 2),
                                      msg("@b:s", "B2", "m.call.invite", 3)});
  ASSERT_EQ(layers.size(), 1u);
  EXPECT_EQ(layers[0].size(), 3u);
}

TEST(ToDeviceOutbox, SecondMessageToADeviceGoesToTheNextLayerInOrder) {
  auto layers = split_one_per_device({msg("@a:s", "A", "x", 1), msg("@a:s", "A", "x", 2), msg("@b:s", "B", "x", 3),
                                      msg("@a:s", "A", "x", 4)});
  ASSERT_EQ(layers.size(), 3u);
  ASSERT_EQ(layers[0].size(), 2u);
  EXPECT_EQ(layers[0][0].content["n"], 1);
  EXPECT_EQ(layers[0][1].content["n"], 3);
  EXPECT_EQ(layers[1][0].content["n"], 2);
  EXPECT_EQ(layers[2][0].content["n"], 4);
  EXPECT_TRUE(split_one_per_device({}).empty());
}

}  // namespace
}  // namespace mxcall::client
