"""How modelyard reaches an S3-compatible object store: its settings, one shared boto3
client, and the `s3://bucket/prefix` locations it serves.

boto3 is imported lazily, on the first request that needs a client, so that
`import modelyard` and servers without S3 do not pay for it. One client per
connection settings is shared by every thread (boto3 clients are thread-safe).
"""

from __future__ import annotations

import builtins
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

from modelyard.errors import InvalidParameterValue
from modelyard.store.artifacts.paths import clean_artifact_path

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3 refuses parts below 5 MiB (except the last). 8 MiB keeps one upload's
# memory small while a 5 GB model is ~640 parts, far below the 10,000 limit;
# the largest object this part size allows is 10,000 × 8 MiB ≈ 78 GiB.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024

ADDRESSING_STYLES = ("path", "virtual", "auto")
CHECKSUM_MODES = ("when_required", "when_supported")

T = TypeVar("T")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class S3Options:
    """How to reach the object store; everything else (credentials) is boto3's usual chain.

    Credentials are deliberately not settings: boto3 already reads
    AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE,
    ~/.aws and instance or pod roles, and secrets do not belong on a command line.
    """

    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: str = "auto"
    checksums: str | None = None
    verify_tls: bool = True
    part_size: int = DEFAULT_PART_SIZE

    def __post_init__(self) -> None:
        if self.addressing_style not in ADDRESSING_STYLES:
            raise ValueError(
                f"S3 addressing style must be one of {', '.join(ADDRESSING_STYLES)}, "
                f"got {self.addressing_style!r}"
            )
        if self.checksums is not None and self.checksums not in CHECKSUM_MODES:
            raise ValueError(
                f"S3 checksum mode must be one of {', '.join(CHECKSUM_MODES)}, "
                f"got {self.checksums!r}"
            )
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 part size must be at least {MIN_PART_SIZE} bytes")

    @classmethod
    def resolve(
        cls,
        *,
        endpoint_url: str | None = None,
        addressing_style: str | None = None,
        checksums: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> S3Options:
        """Explicit settings first, then the variables existing deployments already set.

        Endpoint: `--s3-endpoint-url`, MLflow's MLFLOW_S3_ENDPOINT_URL, then the
        AWS SDKs' AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL. Addressing style:
        the setting, MLflow's MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE, else `path`
        for a custom endpoint (S3-compatible servers rarely have wildcard DNS
        for virtual-hosted buckets) and boto3's `auto` for AWS itself.
        Checksums: the setting, else botocore's own default, which honours
        AWS_REQUEST_CHECKSUM_CALCULATION.
        """
        env = os.environ if environ is None else environ
        endpoint = (
            endpoint_url
            or env.get("MLFLOW_S3_ENDPOINT_URL")
            or env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
            or None
        )
        style = addressing_style or env.get("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE") or None
        if style is None:
            style = "path" if endpoint else "auto"
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        if region is None and endpoint:
            # SigV4 signs with a region; S3-compatible servers accept us-east-1.
            region = "us-east-1"
        return cls(
            endpoint_url=endpoint,
            region=region,
            addressing_style=style,
            checksums=checksums or None,
            verify_tls=not _truthy(env.get("MLFLOW_S3_IGNORE_TLS")),
        )


class S3Connection:
    """A lazily created boto3 client for one set of options, shared by every store.

    Stores for different buckets (the destination, experiments whose
    artifact_location is another s3:// URI) share it, since creating a client
    costs tens of milliseconds and a connection pool.
    """

    def __init__(self, options: S3Options | None = None, *, client: S3Client | None = None) -> None:
        """`client` replaces the one built from `options` (tests inject credentials so)."""
        self.options = options or S3Options.resolve()
        self._client: S3Client | None = client
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"S3Connection({self.options!r})"

    @property
    def client(self) -> S3Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._create_client()
        return self._client

    def _create_client(self) -> S3Client:
        import boto3
        from botocore.config import Config

        opts = self.options
        config_args: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": opts.addressing_style},
            # Enough for every thread-pool worker to hold a connection.
            "max_pool_connections": 64,
            "retries": {"mode": "standard", "max_attempts": 3},
        }
        if opts.checksums is not None:
            config_args["request_checksum_calculation"] = opts.checksums
            config_args["response_checksum_validation"] = opts.checksums
        return boto3.session.Session().client(
            "s3",
            endpoint_url=opts.endpoint_url,
            region_name=opts.region,
            verify=None if opts.verify_tls else False,
            config=Config(**config_args),
        )

    def run_concurrently(self, calls: builtins.list[Callable[[], T]]) -> builtins.list[T]:
        """Run independent S3 calls in parallel (the tree checks before an upload)."""
        if len(calls) == 1:
            return [calls[0]()]
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(16, thread_name_prefix="modelyard-s3")
        futures = [self._pool.submit(call) for call in calls]
        return [future.result() for future in futures]


def parse_s3_uri(location: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`; the prefix in normal form ('' for none)."""
    parsed = urlparse(location)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidParameterValue(
            f"Invalid S3 location {location!r}: expected s3://bucket or s3://bucket/prefix."
        )
    if parsed.query or parsed.fragment:
        raise InvalidParameterValue(
            f"Invalid S3 location {location!r}: it must not have a query or fragment."
        )
    return parsed.netloc, clean_artifact_path(parsed.path.strip("/"))
