// The default pickle key: 32 random bytes in `<store>.key`, owner-only. Created through a
// private temporary file that is linked into place, so a crash or a second process never
// leaves a short key file behind (the first complete key wins, the loser reads it).
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxcall/store.hpp"

namespace mxcall::store {

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kKeyBytes = 32;

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

Error key_error(const fs::path& path, std::string_view what, std::string_view detail) {
  return Error::make(ErrorKind::Store, "pickle key " + path.string() + ": " + std::string(what) + ": " +
                                           std::string(detail));
}

Result<std::string> read_key(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return key_error(path, "opening", errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return key_error(path, "opening", "not a regular file");
  }
  if (st.st_size != static_cast<off_t>(kKeyBytes)) {
    ::close(fd);
    return key_error(path, "reading",
                     "it holds " + std::to_string(st.st_size) +
                         " bytes instead of 32; restore the original key file (a new key cannot open the "
                         "stored olm state)");
  }
  std::string key(kKeyBytes, '\0');
  std::size_t got = 0;
  while (got < key.size()) {
    const ssize_t n = ::read(fd, key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != kKeyBytes) {
    OPENSSL_cleanse(key.data(), key.size());
    return key_error(path, "reading", "short read");
  }
  return key;
}

Status write_new_key(const fs::path& path) {
  unsigned char key[kKeyBytes];
  if (RAND_bytes(key, sizeof key) != 1) return key_error(path, "creating", "no randomness available");
  std::string tmp_template = path.string() + ".XXXXXX";
  const int fd = ::mkstemp(tmp_template.data());  // 0600
  if (fd < 0) {
    OPENSSL_cleanse(key, sizeof key);
    return key_error(path, "creating", errno_text(errno));
  }
  const fs::path tmp = tmp_template;
  std::size_t written = 0;
  while (written < sizeof key) {
    const ssize_t n = ::write(fd, key + written, sizeof key - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  OPENSSL_cleanse(key, sizeof key);
  const bool synced = written == sizeof key && ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  if (!synced) {
    ::unlink(tmp.c_str());
    return key_error(path, "writing", errno_text(write_errno));
  }
  // link() fails when the name exists: a concurrent creator's key is then the one.
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked != 0 && link_errno != EEXIST) return key_error(path, "creating", errno_text(link_errno));
  return ok_status();
}

}  // namespace

Result<std::string> load_or_create_pickle_key(const fs::path& store_path) {
  if (store_path.empty()) return Error::make(ErrorKind::Store, "pickle key: the store path is empty");
  std::error_code ec;
  fs::path full = fs::absolute(store_path, ec);
  if (ec) full = store_path;
  const fs::path path = full.string() + ".key";
  if (const fs::path parent = path.parent_path(); !parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) return key_error(path, "creating the directory", ec.message());
  }
  if (!fs::exists(fs::symlink_status(path, ec))) {
    if (auto created = write_new_key(path); !created) return std::move(created).error();
  }
  return read_key(path);
}

}  // namespace mxcall::store
