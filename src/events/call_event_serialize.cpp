// to_content: the content mxcall sends for each m.call.* event (always version "1").
#include "events/call_event_detail.hpp"

namespace mxcall::events {
namespace {

Json common_content(const CallCommon& common) {
  Json out = Json::object();
  out["call_id"] = common.call_id;
  if (common.party_id) out["party_id"] = *common.party_id;
  out["version"] = "1";
  return out;
}

Json description_json(const media::SessionDescription& d) {
  return Json{{"type", media::to_string(d.type)}, {"sdp", d.sdp}};
}

Json capabilities_json(const Capabilities& caps) {
  // mxcall cannot be transferred, whatever the value says.
  return Json{{"m.call.transferee", false}, {"m.call.dtmf", caps.dtmf}};
}

void put_metadata(Json& out, const std::optional<SdpStreamMetadata>& metadata) {
  if (!metadata) return;
  Json m = detail::stream_metadata_to_json(*metadata);
  out[detail::kMetadataKeyUnstable] = m;  // Hydrogen reads only this one
  out[detail::kMetadataKey] = std::move(m);
}

Json candidate_json(const media::IceCandidate& c) {
  Json out = Json::object();
  out["candidate"] = c.candidate;
  if (c.sdp_mid) out["sdpMid"] = *c.sdp_mid;
  if (c.sdp_mline_index) out["sdpMLineIndex"] = *c.sdp_mline_index;
  return out;
}

struct Writer {
  Json operator()(const CallInvite& e) const {
    Json out = common_content(e.common);
    out["offer"] = description_json(media::SessionDescription{media::SdpType::Offer, e.offer.sdp});
    out["lifetime"] = e.lifetime_ms;
    if (e.invitee) out["invitee"] = *e.invitee;
    put_metadata(out, e.metadata);
    out["capabilities"] = capabilities_json(e.capabilities);
    return out;
  }
  Json operator()(const CallCandidates& e) const {
    Json out = common_content(e.common);
    Json list = Json::array();
    for (const auto& c : e.candidates) list.push_back(candidate_json(c));
    out["candidates"] = std::move(list);
    return out;
  }
  Json operator()(const CallAnswer& e) const {
    Json out = common_content(e.common);
    out["answer"] = description_json(media::SessionDescription{media::SdpType::Answer, e.answer.sdp});
    put_metadata(out, e.metadata);
    out["capabilities"] = capabilities_json(e.capabilities);
    return out;
  }
  Json operator()(const CallSelectAnswer& e) const {
    Json out = common_content(e.common);
    out["selected_party_id"] = e.selected_party_id;
    return out;
  }
  Json operator()(const CallReject& e) const { return common_content(e.common); }
  Json operator()(const CallNegotiate& e) const {
    Json out = common_content(e.common);
    out["description"] = description_json(e.description);
    out["lifetime"] = e.lifetime_ms;
    put_metadata(out, e.metadata);
    return out;
  }
  Json operator()(const CallHangup& e) const {
    Json out = common_content(e.common);
    out["reason"] = e.reason;
    return out;
  }
  Json operator()(const CallMetadataChanged& e) const {
    Json out = common_content(e.common);
    put_metadata(out, e.metadata);
    return out;
  }
};

}  // namespace

Json to_content(const CallEvent& e) { return std::visit(Writer{}, e); }

}  // namespace mxcall::events
