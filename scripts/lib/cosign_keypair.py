#!/usr/bin/env python3
"""Writes a signing key pair in cosign's format, as `cosign generate-key-pair` does, without cosign.

Usage: cosign_keypair.py DIRECTORY
Writes DIRECTORY/cosign.key (PEM "ENCRYPTED SIGSTORE PRIVATE KEY"), DIRECTORY/cosign.pub (PEM "PUBLIC KEY")
and DIRECTORY/cosign.password, all readable by the owner only. The password is $COSIGN_PASSWORD when set,
else 32 random hexadecimal characters.

The private key is an ECDSA P-256 key in PKCS#8 DER (made by `openssl genpkey`), encrypted like cosign:
key = scrypt(password, 32-byte salt, N=32768, r=8, p=1, 32 bytes) (Python's hashlib), then NaCl secretbox
(XSalsa20-Poly1305, 24-byte nonce) from libsodium through ctypes; the PEM body is the JSON
{"kdf":{"name":"scrypt","params":{"N","r","p"},"salt"},"cipher":{"name":"nacl/secretbox","nonce"},"ciphertext"}.
Needs python3, openssl and libsodium (Debian libsodium23 or libsodium-dev).
"""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import secrets
import subprocess
import sys

SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1


def load_sodium():
    name = ctypes.util.find_library("sodium")
    if name is None:
        sys.exit("cosign_keypair: libsodium not found; apt-get install libsodium-dev")
    sodium = ctypes.CDLL(name)
    if sodium.sodium_init() < 0:
        sys.exit("cosign_keypair: sodium_init failed")
    return sodium


def secretbox(sodium, message, nonce, key):
    sodium.crypto_secretbox_macbytes.restype = ctypes.c_size_t
    sealed = ctypes.create_string_buffer(len(message) + sodium.crypto_secretbox_macbytes())
    status = sodium.crypto_secretbox_easy(
        sealed, message, ctypes.c_ulonglong(len(message)), nonce, key)
    if status != 0:
        sys.exit("cosign_keypair: crypto_secretbox_easy failed")
    return sealed.raw


def pem(kind, data):
    body = base64.b64encode(data).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (kind, "\n".join(lines), kind)


def openssl(arguments, data=None):
    return subprocess.run(["openssl"] + arguments, input=data, stdout=subprocess.PIPE, check=True).stdout


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directory = sys.argv[1]
    password = os.environ.get("COSIGN_PASSWORD") or secrets.token_hex(16)
    private_pem = openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])
    pkcs8 = openssl(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER"], private_pem)
    public_pem = openssl(["pkey", "-pubout"], private_pem)

    salt = secrets.token_bytes(32)
    nonce = secrets.token_bytes(24)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P,
                         maxmem=256 * SCRYPT_N * SCRYPT_R, dklen=32)
    ciphertext = secretbox(load_sodium(), pkcs8, nonce, key)
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
                "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    encrypted = pem("ENCRYPTED SIGSTORE PRIVATE KEY", json.dumps(envelope, separators=(",", ":")).encode())

    os.makedirs(directory, mode=0o700, exist_ok=True)
    old_umask = os.umask(0o077)
    try:
        for name, text in (("cosign.key", encrypted), ("cosign.pub", public_pem.decode()), ("cosign.password", password)):
            with open(os.path.join(directory, name), "w") as handle:
                handle.write(text)
    finally:
        os.umask(old_umask)


if __name__ == "__main__":
    main()
