"""Webhook safety rules that need no server: secrets at rest, URL and address checks."""

from __future__ import annotations

import ipaddress

import pytest

from modelyard.errors import InvalidParameterValue, InvalidState
from modelyard.service.webhook_secrets import SecretBox
from modelyard.service.webhook_targets import TargetPolicy, TargetRefused, check_url, resolve


def test_no_key_refuses_to_store_a_secret_and_says_how_to_fix_it() -> None:
    box = SecretBox(None)
    assert box.seal(None) is None and box.seal("") is None
    with pytest.raises(InvalidParameterValue, match="--secret-key"):
        box.seal("s3cret")


def test_secrets_are_encrypted_and_survive_a_restart_and_a_rotation() -> None:
    token = SecretBox("old-key").seal("s3cret")
    assert token is not None and "s3cret" not in token
    assert SecretBox("old-key").open(token) == "s3cret"  # same key, new process
    rotating = SecretBox("new-key,old-key")
    rotated = rotating.rotate(token)
    assert SecretBox("new-key").open(rotated) == "s3cret"
    with pytest.raises(InvalidState, match="new,old"):
        SecretBox("new-key").open(token)
    with pytest.raises(InvalidState, match="no key"):
        SecretBox(None).open(token)


def test_only_https_unless_allowed_and_no_credentials_in_urls() -> None:
    strict = TargetPolicy()
    with pytest.raises(InvalidParameterValue, match="--webhook-allow-http"):
        check_url("http://hooks.example.com/x", strict)
    assert check_url("https://hooks.example.com/x", strict) == ("https", "hooks.example.com", 443)
    assert check_url("http://h.example.com:81/", TargetPolicy(allow_http=True))[2] == 81
    with pytest.raises(InvalidParameterValue, match="credentials"):
        check_url("https://user:pw@hooks.example.com/", strict)
    with pytest.raises(InvalidParameterValue, match="hostname"):
        check_url("https:///nohost", strict)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "0.0.0.0",
        "224.0.0.1",
    ],
)
def test_non_public_addresses_are_refused_unless_allowed(address: str) -> None:
    url = f"https://[{address}]/" if ":" in address else f"https://{address}/"
    with pytest.raises(TargetRefused, match="--webhook-allow-private"):
        resolve(url, address, 443, TargetPolicy())
    allowed = resolve(url, address, 443, TargetPolicy(allow_private=True))
    assert allowed == ipaddress.ip_address(address)


def test_a_public_address_is_accepted() -> None:
    assert str(resolve("https://8.8.8.8/", "8.8.8.8", 443, TargetPolicy())) == "8.8.8.8"
