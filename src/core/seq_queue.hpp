// Inbound ordering of one peer link's to-device messages by `seq` (MSC3401 §4.7 of our digest).
// Senders disagree on the counter's scope, so both are accepted:
//   - js-sdk: one counter per call id, starting at 0;
//   - Hydrogen: one counter per remote device, starting at 0 and continuing across call ids.
// Messages are kept per call id (a "stream"). A stream opens at seq 0, or at the link's highest
// released seq + 1 when the message can open a call (an invite, or anything on a call we
// placed): that is Hydrogen's continuing counter, and the link is then known to share one
// counter, so a stream may also skip numbers that other call ids used. Messages without seq
// bypass ordering; a seq at or below what a stream released is a duplicate and dropped.
// Neither js-sdk nor Hydrogen ever gives up on a gap; we do: a message that waited gap_timeout
// releases its whole stream in seq order, so a lost message never stalls a call for good.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "util/logging.hpp"

namespace mxcall::core {

template <typename T>
class SeqQueue {
 public:
  struct Released {
    std::string call_id;
    std::optional<std::int64_t> seq;
    T item;
  };

  // A normal call sends a few dozen messages; the bounds keep a hostile peer's buffered SDP small.
  explicit SeqQueue(Duration gap_timeout, std::size_t max_waiting_per_stream = 32, std::size_t max_streams = 8)
      : gap_timeout_(gap_timeout), max_waiting_(max_waiting_per_stream), max_streams_(max_streams) {}

  // may_open: this message may be the first of its call id (see above).
  void push(const std::string& call_id, std::optional<std::int64_t> seq, bool may_open, T item, TimePoint now) {
    if (!seq) {
      ready_.push_back(Released{call_id, std::nullopt, std::move(item)});
      return;
    }
    auto it = streams_.find(call_id);
    if (it == streams_.end()) {
      evict_if_full();
      it = streams_.emplace(call_id, Stream{}).first;
      it->second.created = ++created_;
    }
    Stream& s = it->second;
    if ((s.last && *seq <= *s.last) || s.waiting.count(*seq)) {
      MXLOG_DEBUG("seq: duplicate {} for call {} dropped", *seq, call_id);
      return;
    }
    if (s.waiting.size() >= max_waiting_) {
      MXLOG_WARN("seq: call {} has {} messages waiting for a gap; {} dropped", call_id, s.waiting.size(), *seq);
      return;
    }
    s.waiting.emplace(*seq, Entry{std::move(item), may_open, now});
    drain();
  }

  std::optional<Released> pop() {
    if (ready_.empty()) return std::nullopt;
    Released r = std::move(ready_.front());
    ready_.pop_front();
    return r;
  }

  // Releases the streams whose oldest waiting message has waited gap_timeout.
  void tick(TimePoint now) {
    bool forced = false;
    for (auto& [id, s] : streams_) {
      auto oldest = oldest_waiting(s);
      if (!oldest || *oldest + gap_timeout_ > now) continue;
      MXLOG_INFO("seq: call {} waited {} ms for seq {}; releasing {} buffered message(s) from {}", id,
                 gap_timeout_.count(), s.next ? std::to_string(*s.next) : std::string("0"), s.waiting.size(),
                 s.waiting.begin()->first);
      while (!s.waiting.empty()) release(id, s);
      forced = true;
    }
    if (forced) drain();
  }

  std::optional<TimePoint> next_deadline() const {
    std::optional<TimePoint> best;
    for (const auto& [id, s] : streams_)
      if (auto o = oldest_waiting(s); o && (!best || *o + gap_timeout_ < *best)) best = *o + gap_timeout_;
    return best;
  }

  std::size_t waiting() const {
    std::size_t n = 0;
    for (const auto& [id, s] : streams_) n += s.waiting.size();
    return n;
  }
  bool shared_counter() const { return shared_; }

 private:
  struct Entry {
    T item;
    bool may_open = false;
    TimePoint received;
  };
  struct Stream {
    std::optional<std::int64_t> next;  // unset until the stream opened
    std::optional<std::int64_t> last;  // the last released seq
    std::map<std::int64_t, Entry> waiting;
    std::uint64_t created = 0;
  };

  bool continues_link(std::int64_t seq) const { return link_last_ && seq == *link_last_ + 1; }
  bool within_shared(std::int64_t seq) const { return shared_ && link_last_ && seq <= *link_last_ + 1; }

  bool ready(const Stream& s, std::int64_t seq, const Entry& e) const {
    if (s.next) return seq == *s.next || within_shared(seq);
    if (seq == 0) return true;
    return e.may_open && (continues_link(seq) || within_shared(seq));
  }

  void release(const std::string& id, Stream& s) {
    auto first = s.waiting.begin();
    const std::int64_t seq = first->first;
    if (!s.next && seq > 0 && continues_link(seq)) shared_ = true;  // Hydrogen's counter continued
    s.last = seq;
    s.next = seq + 1;
    link_last_ = link_last_ ? std::max(*link_last_, seq) : seq;
    ready_.push_back(Released{id, seq, std::move(first->second.item)});
    s.waiting.erase(first);
  }

  // Releasing one stream can let another proceed (a shared counter), so loop until still.
  void drain() {
    for (bool moved = true; moved;) {
      moved = false;
      for (auto& [id, s] : streams_) {
        while (!s.waiting.empty() && ready(s, s.waiting.begin()->first, s.waiting.begin()->second)) {
          release(id, s);
          moved = true;
        }
      }
    }
  }

  static std::optional<TimePoint> oldest_waiting(const Stream& s) {
    std::optional<TimePoint> o;
    for (const auto& [seq, e] : s.waiting)
      if (!o || e.received < *o) o = e.received;
    return o;
  }

  void evict_if_full() {
    if (streams_.size() < max_streams_) return;
    auto victim = std::min_element(streams_.begin(), streams_.end(),
                                   [](const auto& a, const auto& b) { return a.second.created < b.second.created; });
    if (!victim->second.waiting.empty())
      MXLOG_WARN("seq: forgetting call {} with {} waiting message(s)", victim->first, victim->second.waiting.size());
    streams_.erase(victim);
  }

  Duration gap_timeout_;
  std::size_t max_waiting_;
  std::size_t max_streams_;
  std::map<std::string, Stream> streams_;
  std::deque<Released> ready_;
  std::optional<std::int64_t> link_last_;  // highest seq released on this link, any call id
  bool shared_ = false;
  std::uint64_t created_ = 0;
};

}  // namespace mxcall::core
