// std::visit over a set of lambdas.
#pragma once

namespace mxcall::util {

template <class... Ts>
struct overloaded : Ts... { using Ts::operator()...; };
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace mxcall::util
