"""Webhook secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`.

The key comes from `--secret-key` / `MODELYARD_SECRET_KEY`. Any passphrase
works: each comma-separated entry is stretched to a Fernet key with
SHA-256, so the same setting always yields the same key and a restart never
makes stored secrets unreadable. Rotation: put the new key first and keep
the old one after it (`new,old`); the first key encrypts, every key
decrypts, and start-up re-encrypts every stored secret under the first key
(`rotate`). Once that has run, the old key can be dropped.

Without a key the server still runs, but refuses to store a secret (saying
so), and refuses to start if secrets are already stored.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING

from modelyard.errors import InvalidParameterValue, InvalidState

if TYPE_CHECKING:
    from cryptography.fernet import Fernet, MultiFernet

# cryptography is imported where a key is used, not at import: a server without
# --secret-key never needs it, and it costs a tenth of the cold start.

KEY_HELP = (
    "Set --secret-key (or MODELYARD_SECRET_KEY) on the server to a long random passphrase "
    "so that webhook secrets can be stored encrypted."
)


def _fernet(passphrase: str) -> Fernet:
    from cryptography.fernet import Fernet

    digest = hashlib.sha256(b"modelyard-webhook-secrets\x00" + passphrase.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class SecretBox:
    """Encrypts and decrypts webhook secrets; `enabled` is False without a key."""

    def __init__(self, secret_key: str | None) -> None:
        keys = [k.strip() for k in (secret_key or "").split(",") if k.strip()]
        self._box: MultiFernet | None = None
        if keys:
            from cryptography.fernet import MultiFernet

            self._box = MultiFernet([_fernet(k) for k in keys])

    @property
    def enabled(self) -> bool:
        return self._box is not None

    def seal(self, plaintext: str | None, what: str = "a webhook secret") -> str | None:
        """Ciphertext to store; None stays None. Refuses without a key."""
        if plaintext is None or plaintext == "":
            return None
        if self._box is None:
            raise InvalidParameterValue(
                f"The server has no secret key, so it cannot store {what}. {KEY_HELP}"
            )
        return self._box.encrypt(plaintext.encode()).decode()

    def open(self, token: str | None) -> str | None:
        if token is None:
            return None
        if self._box is None:
            raise InvalidState(f"A webhook secret is stored but the server has no key. {KEY_HELP}")
        from cryptography.fernet import InvalidToken

        try:
            return self._box.decrypt(token.encode()).decode()
        except InvalidToken:
            raise InvalidState(
                "A stored webhook secret cannot be decrypted with the configured secret key: "
                "the key changed. Start the server with the new key first and the old one "
                "after it (--secret-key 'new,old'), which re-encrypts the stored secrets."
            ) from None

    def rotate(self, token: str | None) -> str | None:
        """Re-encrypt under the first key (decrypting with any)."""
        if token is None:
            return None
        self.open(token)  # the worded error when no key fits
        assert self._box is not None
        return self._box.rotate(token.encode()).decode()
