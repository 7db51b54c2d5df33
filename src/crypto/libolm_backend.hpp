// CryptoBackend over libolm 3.2 (Debian's libolm-dev). Randomness comes from OpenSSL's
// RAND_bytes in exactly the sizes libolm asks for; input buffers libolm decodes in place are
// copies; objects, randomness and plaintexts are wiped before their memory is released.
#pragma once

#include <memory>

#include "crypto/olm_backend.hpp"

namespace mxcall::crypto {

std::shared_ptr<CryptoBackend> make_libolm_backend();

}  // namespace mxcall::crypto
