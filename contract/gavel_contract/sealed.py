"""Sealing a document with a key of its own: AES-256-GCM (authenticated: a changed byte is refused,
never decrypted into something else), for the task of a large Evaluation, which is stored in
storage while its key stays in the task Secret (TaskRef.key).

A sealed document is MAGIC, a 12-byte random nonce, then the ciphertext and its 16-byte tag; MAGIC
is also the associated data. A key seals one document only (a fresh one per task), so a random
nonce never repeats under it."""

from __future__ import annotations

import base64
import os

MAGIC = b"gavel-sealed-v1\n"
NONCE_BYTES = 12


class SealError(ValueError):
    """Not a document sealed with this key (wrong key, changed, truncated, or not sealed at all)."""


def new_key() -> str:
    """A fresh random 256-bit key, base64 (44 characters)."""
    return base64.b64encode(os.urandom(32)).decode()


def seal(data: bytes, key: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(NONCE_BYTES)
    return MAGIC + nonce + AESGCM(base64.b64decode(key)).encrypt(nonce, data, MAGIC)


def unseal(blob: bytes, key: str) -> bytes:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
        raise SealError("not a sealed document")
    nonce = blob[len(MAGIC):len(MAGIC) + NONCE_BYTES]
    try:
        return AESGCM(base64.b64decode(key, validate=True)).decrypt(nonce, blob[len(MAGIC) + NONCE_BYTES:], MAGIC)
    except (InvalidTag, ValueError):
        raise SealError("the sealed document does not open with this key (changed, or another key)") from None
