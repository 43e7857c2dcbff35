"""Where a webhook may point, and the one function that sends to it.

Server-side request forgery is the risk of a webhook: anyone who may create
one could make the server POST to its own network (a database's HTTP port,
a cloud metadata service at 169.254.169.254). So:

* only `https` URLs unless `--webhook-allow-http`;
* a target whose address is loopback, private, link-local, shared (CGNAT),
  multicast or otherwise not global is refused unless
  `--webhook-allow-private`; checked when the webhook is saved *and* at
  every delivery, against the address actually connected: the name is
  resolved once, the address checked, and the connection made to that very
  address (with the original Host header and TLS server name), so a DNS
  answer that changes between check and connect (rebinding) gains nothing;
* connect and read timeouts, an overall deadline, no redirects followed, no
  proxies from the environment, and at most `MAX_RESPONSE_BYTES` read.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from modelyard.errors import InvalidParameterValue

if TYPE_CHECKING:
    import httpx

# httpx is imported where a webhook is checked or sent, not at import: with the
# optional CLI packages installed, `import httpx` also loads rich and pygments
# (its command line), half a second of a server's cold start.

MAX_RESPONSE_BYTES = 64 * 1024
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(InvalidParameterValue):
    """The URL or the address it resolves to is not allowed (not retried)."""


@dataclass(frozen=True, slots=True)
class TargetPolicy:
    allow_http: bool = False
    allow_private: bool = False
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class SendResult:
    status_code: int
    body: bytes
    latency_ms: int
    retry_after: str | None = None


def _public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, policy: TargetPolicy) -> tuple[str, str, int]:
    """Scheme, host and port of an acceptable URL, or a worded refusal."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidParameterValue(f"Invalid webhook URL {url!r}: {exc}") from None
    schemes = ("https", "http") if policy.allow_http else ("https",)
    if parts.scheme not in schemes:
        hint = "" if policy.allow_http else " (plain http needs --webhook-allow-http on the server)"
        raise InvalidParameterValue(
            f"Invalid webhook URL scheme {parts.scheme!r} in {url!r}: use "
            f"{' or '.join(schemes)}{hint}."
        )
    if not parts.hostname:
        raise InvalidParameterValue(f"Webhook URL must include a hostname: {url!r}")
    if parts.username or parts.password:
        raise InvalidParameterValue(
            f"Webhook URL {url!r} carries credentials; use a secret or an authorization header."
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _refused(url: str, ip: IPAddress) -> TargetRefused:
    return TargetRefused(
        f"Webhook URL {url!r} resolves to {ip}, a loopback, private or link-local address; "
        "such targets are refused unless the server runs with --webhook-allow-private."
    )


def resolve(url: str, host: str, port: int, policy: TargetPolicy) -> IPAddress:
    """The first acceptable address of `host` (refusing when none is)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        import httpx

        raise httpx.ConnectError(f"cannot resolve {host!r}: {exc}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for ip in addresses:
        if policy.allow_private or _public(ip):
            return ip
    raise _refused(url, addresses[0])


def check_target(url: str, policy: TargetPolicy) -> None:
    """At save time: scheme, and the address when the name resolves now
    (a name that does not resolve yet is checked again at delivery)."""
    import httpx

    _scheme, host, port = check_url(url, policy)
    try:
        resolve(url, host, port, policy)
    except httpx.ConnectError:
        return


def send(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    policy: TargetPolicy,
    verify_tls: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> SendResult:
    """POST `body` to `url` through the checks above.

    Raises `TargetRefused` for a refused target and httpx's transport errors
    (timeouts, refused connections) for the caller to retry.
    """
    import httpx

    scheme, host, port = check_url(url, policy)
    ip = resolve(url, host, port, policy)
    parts = urlsplit(url.strip())
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    pinned = urlunsplit((scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    default_port = port == (443 if scheme == "https" else 80)
    sent = {
        **headers,
        "Host": host if default_port else f"{host}:{port}",
        "User-Agent": "modelyard-webhooks",
    }
    extensions = {"sni_hostname": host} if scheme == "https" else {}
    timeout = httpx.Timeout(policy.timeout_s, connect=policy.timeout_s)
    started = time.monotonic()
    deadline = started + 2 * policy.timeout_s
    with (
        httpx.Client(
            verify=verify_tls,
            follow_redirects=False,
            trust_env=False,
            timeout=timeout,
            transport=transport,
        ) as client,
        client.stream("POST", pinned, content=body, headers=sent, extensions=extensions) as resp,
    ):
        received = bytearray()
        for chunk in resp.iter_raw():
            received.extend(chunk)
            if len(received) >= MAX_RESPONSE_BYTES or time.monotonic() > deadline:
                break
        latency = int((time.monotonic() - started) * 1000)
        return SendResult(
            resp.status_code,
            bytes(received[:MAX_RESPONSE_BYTES]),
            latency,
            resp.headers.get("retry-after"),
        )
