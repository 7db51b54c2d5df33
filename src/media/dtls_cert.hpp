// A per-peer DTLS identity: EC P-256 self-signed certificate + key as one PEM (what
// dtlssrtpdec's `pem` property takes) and its SHA-256 fingerprint for a=fingerprint.
#pragma once

#include <string>

#include "mxcall/error.hpp"

namespace mxcall::media {

struct DtlsCertificate {
  std::string pem;          // certificate then private key
  std::string fingerprint;  // "sha-256 AB:CD:..."
};

Result<DtlsCertificate> generate_dtls_certificate();

}  // namespace mxcall::media
