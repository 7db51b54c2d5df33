// Builds against an installed mxcall and uses its transport's pure parts (no server needed).
#include <iostream>

#include <mxcall/error.hpp>
#include <mxcall/matrix/sync.hpp>
#include <mxcall/store.hpp>

int main() {
  auto batch = mxcall::matrix::parse_sync_response(
      R"({"next_batch":"s1","to_device":{"events":[{"type":"m.call.invite","sender":"@a:x","content":{}}]}})");
  if (!batch.ok() || batch->to_device.size() != 1) {
    std::cerr << "unexpected parse result\n";
    return 1;
  }
  auto store = mxcall::store::Store::open_in_memory();
  if (!store.ok()) {
    std::cerr << store.error() << "\n";
    return 1;
  }
  std::cout << "mxcall consumer ok: next_batch=" << batch->next_batch
            << " schema=" << (*store)->schema_version() << "\n";
  return 0;
}
