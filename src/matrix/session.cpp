#include "mxcall/matrix/session.hpp"

#include "mxcall/matrix/api.hpp"
#include "util/logging.hpp"

namespace mxcall::matrix {

namespace {

// "alice" and "@alice:localhost" name the same account on a localhost server.
bool same_user(const std::string& stored, const std::string& given) {
  if (stored == given) return true;
  return stored.size() > given.size() + 1 && stored[0] == '@' &&
         stored.compare(1, given.size(), given) == 0 && stored[given.size() + 1] == ':';
}

}  // namespace

Result<store::Session> login_or_restore(Api& api, store::Store& store, const std::string& user,
                                        const std::string& password,
                                        const std::string& device_display_name) {
  auto saved = store.load_session();
  if (!saved.ok()) return saved.error();
  if (*saved && (*saved)->homeserver == api.base_url() && same_user((*saved)->user_id, user)) {
    const store::Session& s = **saved;
    api.set_access_token(s.access_token);
    auto who = api.whoami();
    if (who.ok() && *who == s.user_id) {
      MXLOG_INFO("session: restored {} device {}", s.user_id, s.device_id);
      return s;
    }
    if (!who.ok() && who.error().kind != ErrorKind::Matrix) return who.error();  // server down: keep it
    MXLOG_WARN("session: the stored token for {} is no longer valid; logging in again", s.user_id);
  }
  auto login = api.login_password(user, password, std::nullopt, device_display_name);
  if (!login.ok()) return login.error();
  store::Session s{api.base_url(), login->user_id, login->device_id, login->access_token};
  if (auto st = store.clear_session(); !st.ok()) return st.error();
  if (auto st = store.save_session(s); !st.ok()) return st.error();
  MXLOG_INFO("session: logged in {} as new device {}", s.user_id, s.device_id);
  return s;
}

}  // namespace mxcall::matrix
