"""Tokens stored hashed: scrypt from the standard library, salted, with its cost in the string.

A stored hash reads ``scrypt$<log2 N>$<r>$<p>$<salt>$<digest>`` (salt and digest in unpadded
URL-safe base64), so the cost can be raised later without breaking hashes already handed out.
``runbookd users hash-token`` makes one from a token read on stdin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "scrypt"
#: N = 2**14, r = 8: 16 MiB and some tens of milliseconds per check -- slow for a guesser,
#: and paid once per token and process (``Users`` remembers tokens it has verified).
DEFAULT_LOG2_N = 14
DEFAULT_R = 8
DEFAULT_P = 1
_DIGEST_BYTES = 32
_MAXMEM = 256 * 1024 * 1024


class TokenHashError(ValueError):
    """A stored hash that is not of the form above (the message never shows the hash)."""


@dataclass(frozen=True)
class TokenHash:
    log2_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def __str__(self) -> str:
        return "$".join(
            [PREFIX, str(self.log2_n), str(self.r), str(self.p), _b64(self.salt), _b64(self.digest)]
        )

    def matches(self, token: str) -> bool:
        got = _scrypt(token, self.salt, self.log2_n, self.r, self.p, len(self.digest))
        return hmac.compare_digest(got, self.digest)


def hash_token(token: str, *, log2_n: int = DEFAULT_LOG2_N, r: int = DEFAULT_R) -> str:
    """The string to store for ``token`` (a fresh random salt each call)."""
    if not token:
        raise ValueError("an empty token cannot be hashed")
    salt = secrets.token_bytes(16)
    digest = _scrypt(token, salt, log2_n, r, DEFAULT_P, _DIGEST_BYTES)
    return str(TokenHash(log2_n, r, DEFAULT_P, salt, digest))


def parse_hash(text: str) -> TokenHash:
    parts = text.strip().split("$")
    if len(parts) != 6 or parts[0] != PREFIX:
        raise TokenHashError(
            f"not a token hash: expected {PREFIX}$N$r$p$salt$digest "
            "(make one with `runbookd users hash-token`)"
        )
    try:
        log2_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        raise TokenHashError("not a token hash: a number or base64 part is malformed") from None
    if not (1 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16) or len(digest) < 16 or not salt:
        raise TokenHashError("not a token hash: cost or lengths out of range")
    return TokenHash(log2_n, r, p, salt, digest)


def _scrypt(token: str, salt: bytes, log2_n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(
        token.encode(), salt=salt, n=2**log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=size
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None
