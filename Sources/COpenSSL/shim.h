#ifndef STOCKOPS_COPENSSL_SHIM_H
#define STOCKOPS_COPENSSL_SHIM_H
// The system's libcrypto (OpenSSL 3): ECDSA P-256 and SHA-256. SHA256_Init/Update/Final are deprecated in OpenSSL 3
// in favour of EVP_MD_CTX, but their context is a plain struct, which gives `Digest.Hasher` value semantics.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#endif
