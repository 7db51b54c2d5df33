// The media-inactivity watchdog of a webrtcbin peer (why: media/media_watchdog.hpp). It ticks
// on the runtime's loop thread, reads only atomics of the peer, and reports through emit_ like
// every other event; the tick holds a weak reference, so it ends with the peer.
#include "media/gst_runtime.hpp"
#include "media/webrtcbin_peer.hpp"

namespace mxcall::media {

void WebrtcbinPeer::schedule_watchdog() {
  std::weak_ptr<WebrtcbinPeer> weak = weak_from_this();
  runtime_.post_after(watchdog_.period(), [weak] {
    auto self = weak.lock();
    if (!self || self->shut_down_.load()) return;
    self->watchdog_tick();
    self->schedule_watchdog();
  });
}

void WebrtcbinPeer::watchdog_tick() {
  if (closing()) return;  // an ICE restart is replacing the pipeline right now
  MediaWatchdog::Inputs in;
  in.packets = transport_in_.packets.load();
  in.ice_up = ice_up_.load();
  in.quiet_expected = sending_blocked() || !remote_sends_.load();
  in.generation = generation_.load();
  switch (watchdog_.update(MediaWatchdog::Clock::now(), in)) {
    case MediaWatchdog::Change::Dead:
      media_timeouts_.fetch_add(1);
      emit_(IceStateChanged{id_, IceState::Disconnected});
      break;
    case MediaWatchdog::Change::Alive:
      emit_(IceStateChanged{id_, IceState::Connected});
      break;
    case MediaWatchdog::Change::None: break;
  }
}

}  // namespace mxcall::media
