#include "media/dtls_cert.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <memory>

namespace mxcall::media {

namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const { Free(p); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using CertPtr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;

Error failure(const char* what) {
  return Error::make(ErrorKind::InvalidArgument, std::string("DTLS certificate: ") + what + " failed");
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

Result<DtlsCertificate> generate_dtls_certificate() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return failure("EC key generation");
  CertPtr cert(X509_new());
  if (!cert) return failure("X509_new");
  unsigned char serial[8];
  if (RAND_bytes(serial, sizeof serial) != 1) return failure("RAND_bytes");
  long serial_value = 0;
  for (unsigned char b : serial) serial_value = (serial_value << 8) | (b & 0x7F);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial_value);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mxcall"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  if (X509_set_pubkey(cert.get(), key.get()) != 1) return failure("X509_set_pubkey");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return failure("X509_sign");

  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return failure("PEM encoding");

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1) return failure("X509_digest");
  static const char* hex = "0123456789ABCDEF";
  std::string fp = "sha-256 ";
  for (unsigned int i = 0; i < md_len; ++i) {
    if (i > 0) fp += ':';
    fp += hex[md[i] >> 4];
    fp += hex[md[i] & 0xF];
  }
  return DtlsCertificate{bio_text(bio.get()), fp};
}

}  // namespace mxcall::media
