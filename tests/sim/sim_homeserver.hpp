// A simulated homeserver: rooms with joined members, a persisted timeline, per-device /sync
// streams (long-poll, several events per batch, unsigned.age), to-device queues deleted once a
// later token acknowledges them, txn-id dedup of retried sends, 429s from a token bucket, and
// restarts that drop parked long-polls and the responses in flight.
//
// Faults that real deployments show and the core must survive: events of different senders
// reach different receivers in different interleavings (federation), and an event can be
// delivered twice (a replayed batch). Events of one sender to one receiver keep their order,
// as the room DAG guarantees.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "mxcall/matrix/http.hpp"
#include "mxcall/matrix/types.hpp"
#include "sim_config.hpp"
#include "sim_world.hpp"

namespace mxcall::sim {

using Json = nlohmann::json;

struct DeviceRef {
  std::string user_id;
  std::string device_id;
  auto operator<=>(const DeviceRef&) const = default;
  std::string name() const { return user_id.substr(1, user_id.find(':') - 1) + "/" + device_id; }
};

namespace req {
struct SendEvent { std::string room_id, type, txn_id; Json content; };
struct SendToDevice { std::string type, txn_id; matrix::ToDeviceMessages messages; };
struct PutState { std::string room_id, type, state_key, txn_id; Json content; };  // txn: for the trace only
struct Sync { std::string since; SimTime timeout = 0; bool full_state = false; };
}  // namespace req
using HsRequest = std::variant<req::SendEvent, req::SendToDevice, req::PutState, req::Sync>;
using Reply = std::function<void(matrix::HttpResponse)>;
std::string describe(const HsRequest& r);

class SimHomeserver {
 public:
  SimHomeserver(World& world, const SimConfig& config, Rng rng) : world_(world), config_(config), rng_(rng) {}

  void add_device(const DeviceRef& d) { devices_[d]; }
  // A room whose members are all joined from the start (their m.room.member events open it).
  std::string create_room(const std::vector<std::string>& users);
  bool is_member(const std::string& room_id, const std::string& user_id) const;
  std::vector<std::string> members(const std::string& room_id) const;
  std::vector<std::string> rooms() const;

  // One request as it reaches the server. `reply` is called once: now, or later for a parked
  // long-poll (or with a connection reset if the server restarts first).
  void handle(const DeviceRef& from, const HsRequest& request, Reply reply);

  bool up() const { return up_; }
  std::uint64_t generation() const { return generation_; }
  void restart(SimTime down_for);

  // A misbehaving server (or a stale membership view) puts an event from a non-member into
  // the room: the clients must ignore it.
  void inject(const std::string& room_id, const std::string& sender, const std::string& type, const Json& content);

  // A to-device message nobody could have sent through the API (a forged sender device, a
  // plaintext message): straight into a device's queue. encrypted_by: the olm device the
  // simulated decryption reports (see send_to_device); empty: plaintext.
  void inject_to_device(const DeviceRef& to, const std::string& sender, const std::string& type, const Json& content,
                        const std::string& encrypted_by);
  // The newest state event content of (room, type, state_key), if any.
  const Json* state(const std::string& room_id, const std::string& type, const std::string& state_key) const;
  std::size_t events_stored() const { return events_.size(); }
  // The wire check failed (a seq repeated or going back per sender device and call id).
  std::function<void(const std::string& who, const std::string& what)> on_violation;

 private:
  struct Event {
    std::string event_id, room_id, sender, type;
    std::optional<std::string> state_key;
    Json content;
    SimTime ts = 0;
  };
  struct ToDevice { std::string type, sender; Json content; };
  struct Seen { std::int64_t seq = -1; };
  struct Parked { std::uint64_t id; req::Sync request; Reply reply; SimTime deadline; bool flushing = false; };
  struct DeviceState {
    std::vector<std::size_t> stream;            // event indices, in the order this device sees them
    std::map<std::string, SimTime> last_from;   // per sender: keeps its events in order here
    std::deque<ToDevice> to_device;             // not yet acknowledged, numbered from td_base
    std::size_t td_base = 0;
    std::size_t td_handed = 0;                  // absolute index: messages below it went out in a response
    std::vector<Parked> parked;
  };
  struct Bucket { double tokens = 0; SimTime at = 0; };

  matrix::HttpResponse send_event(const DeviceRef& from, const req::SendEvent& r);
  matrix::HttpResponse send_to_device(const DeviceRef& from, const req::SendToDevice& r);
  matrix::HttpResponse put_state(const DeviceRef& from, const req::PutState& r);
  void queue_to_device(const DeviceRef& to, ToDevice message);
  void check_wire_seq(const DeviceRef& from, const Json& inner);
  void sync(const DeviceRef& from, const req::Sync& r, Reply reply);
  std::optional<matrix::HttpResponse> rate_limited(const std::string& user);
  std::size_t persist(Event e);
  void deliver_later(std::size_t index);
  void make_visible(const DeviceRef& d, std::size_t index);
  void wake(const DeviceRef& d);
  void flush(const DeviceRef& d, std::uint64_t parked_id);
  bool has_news(const DeviceState& s, const req::Sync& r) const;
  std::string respond(const DeviceRef& d, const req::Sync& r);
  Json event_json(const Event& e) const;

  World& world_;
  const SimConfig& config_;
  Rng rng_;
  bool up_ = true;
  std::uint64_t generation_ = 0;
  std::uint64_t next_parked_ = 1;
  std::vector<Event> events_;
  std::map<std::string, std::vector<std::string>> rooms_;  // room -> joined members
  std::map<std::string, std::vector<std::size_t>> room_events_;
  std::map<DeviceRef, DeviceState> devices_;
  std::map<std::string, std::string> txns_;  // device + endpoint + txn id -> event id ("" for to-device)
  std::map<std::string, Bucket> buckets_;
  std::map<std::string, std::int64_t> wire_seq_;  // sender device + call id -> last seq accepted
};

}  // namespace mxcall::sim
