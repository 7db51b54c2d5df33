#include "mxcall/matrix/types.hpp"

namespace mxcall::matrix {

std::size_t ToDeviceBatch::device_count() const {
  std::size_t n = 0;
  for (const auto& [user, devices] : messages) n += devices.size();
  return n;
}

}  // namespace mxcall::matrix
