"""Server configuration: one frozen object, declared once with help text.

Every setting has a default, a `MODELYARD_...` environment variable and a
command-line flag (MLflow's flag names, so users' habits carry over). The CLI
builds its arguments from `SETTINGS_SPEC`, and a test checks that the README
documents each one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = "./modelyard-data"

# MLflow's `mlflow gc --older-than` format: 1d2h3m4s, any part left out.
_DURATION = re.compile(r"^(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$")


@dataclass(frozen=True)
class Setting:
    name: str
    flag: str
    default: Any
    help: str
    kind: type = str
    choices: tuple[str, ...] | None = None


SETTINGS_SPEC: tuple[Setting, ...] = (
    Setting("host", "--host", "127.0.0.1", "Address to listen on."),
    Setting("port", "--port", 5000, "Port to listen on.", int),
    Setting(
        "backend_store_uri",
        "--backend-store-uri",
        None,
        "Metadata database: sqlite:///path/to/file.db or postgresql://user@host:port/db. "
        f"Default: sqlite under {DEFAULT_DATA_DIR}/modelyard.db.",
    ),
    Setting(
        "artifacts_destination",
        "--artifacts-destination",
        None,
        "Where proxied artifacts are stored: a local path, a file:// URI or "
        "s3://bucket/prefix (credentials from the standard AWS variables, AWS_PROFILE "
        f"or an instance role). Default: {DEFAULT_DATA_DIR}/artifacts.",
    ),
    Setting(
        "default_artifact_root",
        "--default-artifact-root",
        None,
        "Artifact location given to new experiments. Default: mlflow-artifacts:/ when "
        "serving artifacts, else the artifacts destination. Clients write there directly "
        "when --no-serve-artifacts is given.",
    ),
    Setting(
        "serve_artifacts",
        "--serve-artifacts",
        True,
        "Proxy artifact uploads and downloads through the server (MLflow's default). "
        "--no-serve-artifacts turns the /api/2.0/mlflow-artifacts routes off.",
        bool,
    ),
    Setting(
        "s3_endpoint_url",
        "--s3-endpoint-url",
        None,
        "Endpoint of an S3-compatible object store (SeaweedFS, Ceph radosgw, MinIO). "
        "Default: MLFLOW_S3_ENDPOINT_URL, then AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, "
        "else AWS S3 itself.",
    ),
    Setting(
        "s3_addressing_style",
        "--s3-addressing-style",
        None,
        "How buckets appear in S3 URLs: path (host/bucket/key) or virtual "
        "(bucket.host/key). Default: MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE, else path "
        "with a custom endpoint and auto on AWS.",
        choices=("path", "virtual", "auto"),
    ),
    Setting(
        "s3_checksums",
        "--s3-checksums",
        None,
        "When boto3 adds CRC checksums to S3 requests: when_supported (boto3's default "
        "since 1.36) or when_required, for S3-compatible servers that reject the newer "
        "checksum headers. Default: AWS_REQUEST_CHECKSUM_CALCULATION, else boto3's default.",
        choices=("when_required", "when_supported"),
    ),
    Setting(
        "workers", "--workers", 1, "Number of server processes sharing the listening port.", int
    ),
    Setting(
        "log_level",
        "--log-level",
        "info",
        "Log level.",
        choices=("debug", "info", "warning", "error", "critical"),
    ),
    Setting(
        "stage_policy",
        "--stage-policy",
        "exclusive",
        "exclusive: Staging and Production each hold one model version and the replaced "
        "version is archived. mlflow: MLflow's permissive rule (archive only when the "
        "client asks with archive_existing_versions).",
        choices=("exclusive", "mlflow"),
    ),
    # -- authentication (README "Authentication") --
    Setting(
        "auth",
        "--auth",
        False,
        "Require users to sign in (HTTP Basic, Bearer access tokens, the UI's login page) "
        "and enforce permissions. The first admin comes from MODELYARD_ADMIN_USERNAME / "
        "MODELYARD_ADMIN_PASSWORD (or MLflow's MLFLOW_AUTH_ADMIN_USERNAME / _PASSWORD).",
        bool,
    ),
    Setting(
        "app_name",
        "--app-name",
        None,
        "MLflow's spelling: --app-name basic-auth turns authentication on like --auth.",
        choices=("basic-auth",),
    ),
    Setting(
        "auth_default_permission",
        "--auth-default-permission",
        "READ",
        "With auth on: what a signed-in user may do on experiments and models nobody "
        "granted them anything on.",
        choices=("READ", "EDIT", "MANAGE", "NO_PERMISSIONS"),
    ),
    Setting(
        "auth_protected_aliases",
        "--auth-protected-aliases",
        "champion,production",
        "With auth on: model aliases (comma-separated) that only users with the Production "
        "right may set or delete; a model may override the list.",
    ),
    Setting(
        "request_body_timeout",
        "--request-body-timeout",
        60.0,
        "Seconds a request may go without sending any of its body before it is answered "
        "408 (a stalled upload is removed); 0 waits for ever.",
        float,
    ),
    Setting(
        "request_header_timeout",
        "--request-header-timeout",
        30.0,
        "Seconds a connection may take to send a request's line and headers (from when it "
        "opens or its previous response ends) before it is closed, with 408 if part of a "
        "request arrived; bounds slow-loris clients. 0 waits for ever.",
        float,
    ),
    Setting(
        "gc_interval",
        "--gc-interval",
        None,
        "Run garbage collection (as `modelyard gc`) this often, e.g. 6h or 1d. Default: off.",
    ),
    Setting(
        "gc_older_than",
        "--gc-older-than",
        "30d",
        "What the scheduled garbage collection removes: runs, experiments and logged "
        "models deleted longer ago than this.",
    ),
    Setting(
        "abandoned_upload_age",
        "--abandoned-upload-age",
        3600.0,
        "Seconds without a new part after which start-up aborts an S3 multipart upload "
        "under the artifact destination as left by a killed server (local temporary files "
        "need no age: a lock tells live uploads from dead ones).",
        float,
    ),
    Setting(
        "require_approval",
        "--require-approval",
        "",
        "Stages a version may enter only through an approved transition request, comma "
        "separated (Production, Staging or both); a model's own approval policy overrides "
        "it. Someone with the stage right may still move a version directly. Default: none.",
    ),
    Setting(
        "approval_four_eyes",
        "--approval-four-eyes",
        False,
        "Four-eyes rule: the user who requested a transition may not approve it.",
        bool,
    ),
    # -- webhooks (README "Webhooks") --
    Setting(
        "secret_key",
        "--secret-key",
        None,
        "Passphrase that encrypts webhook secrets at rest (Fernet). Without it the server "
        "refuses to store a secret. Rotate with 'new,old': the first encrypts, all decrypt, "
        "and start-up re-encrypts stored secrets under the first.",
    ),
    Setting(
        "webhook_allow_http",
        "--webhook-allow-http",
        False,
        "Allow plain http:// webhook URLs (default: https only).",
        bool,
    ),
    Setting(
        "webhook_allow_private",
        "--webhook-allow-private",
        False,
        "Allow webhook targets on loopback, private or link-local addresses (checked against "
        "the address actually connected at each delivery).",
        bool,
    ),
    Setting(
        "webhook_timeout",
        "--webhook-timeout",
        10,
        "Seconds a webhook delivery may take to connect, and to answer.",
        int,
    ),
    Setting(
        "webhook_retry_base_ms",
        "--webhook-retry-base-ms",
        10_000,
        "First retry delay of a failed delivery in milliseconds; it doubles per attempt "
        "(at most an hour) with random jitter.",
        int,
    ),
    Setting(
        "webhook_retry_hours",
        "--webhook-retry-hours",
        24,
        "How long a delivery is retried after its event before it is marked failed.",
        int,
    ),
    Setting(
        "webhook_poll_ms",
        "--webhook-poll-ms",
        1000,
        "How often each server process looks for due webhook deliveries, in milliseconds.",
        int,
    ),
    Setting(
        "webhook_log_days",
        "--webhook-log-days",
        30,
        "Days finished webhook deliveries stay in the delivery log before they are pruned.",
        int,
    ),
)


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    backend_store_uri: str | None = None
    artifacts_destination: str | None = None
    default_artifact_root: str | None = None
    serve_artifacts: bool = True
    s3_endpoint_url: str | None = None
    s3_addressing_style: str | None = None
    s3_checksums: str | None = None
    workers: int = 1
    log_level: str = "info"
    stage_policy: str = "exclusive"
    auth: bool = False
    app_name: str | None = None
    auth_default_permission: str = "READ"
    auth_protected_aliases: str = "champion,production"

    @property
    def auth_enabled(self) -> bool:
        return self.auth or self.app_name == "basic-auth"

    request_body_timeout: float = 60.0
    request_header_timeout: float = 30.0
    gc_interval: str | None = None
    gc_older_than: str = "30d"
    abandoned_upload_age: float = 3600.0
    require_approval: str = ""
    approval_four_eyes: bool = False

    @property
    def approval_stages(self) -> tuple[str, ...]:
        """--require-approval as canonical stage names."""
        named = {part.strip().lower() for part in self.require_approval.split(",")}
        return tuple(s for s in ("Staging", "Production") if s.lower() in named)

    secret_key: str | None = None
    webhook_allow_http: bool = False
    webhook_allow_private: bool = False
    webhook_timeout: int = 10
    webhook_retry_base_ms: int = 10_000
    webhook_retry_hours: int = 24
    webhook_poll_ms: int = 1000
    webhook_log_days: int = 30

    @property
    def store_uri(self) -> str:
        if self.backend_store_uri:
            return self.backend_store_uri
        return "sqlite:///" + str(Path(DEFAULT_DATA_DIR, "modelyard.db").resolve())

    @property
    def artifacts_root(self) -> str:
        """Filesystem path (or URI) where proxied artifacts live."""
        dest = self.artifacts_destination or str(Path(DEFAULT_DATA_DIR, "artifacts"))
        if dest.startswith("file://"):
            from urllib.parse import unquote, urlparse

            return unquote(urlparse(dest).path)
        if "://" in dest:
            return dest
        return str(Path(dest).resolve())

    @property
    def experiment_artifact_root(self) -> str:
        """The root under which new experiments get their artifact location."""
        if self.default_artifact_root:
            return self.default_artifact_root.rstrip("/")
        if self.serve_artifacts:
            return "mlflow-artifacts:"
        dest = self.artifacts_root
        return dest if "://" in dest else Path(dest).as_uri()


def _coerce(spec: Setting, raw: str) -> Any:
    if spec.kind is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"MODELYARD_{spec.name.upper()} must be true or false, got {raw!r}")
    if spec.kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(
                f"MODELYARD_{spec.name.upper()} must be an integer, got {raw!r}"
            ) from None
    if spec.kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError(
                f"MODELYARD_{spec.name.upper()} must be a number, got {raw!r}"
            ) from None
    return raw


def env_var(spec: Setting) -> str:
    return f"MODELYARD_{spec.name.upper()}"


def settings_from(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then environment variables, then explicit overrides (CLI flags)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for spec in SETTINGS_SPEC:
        raw = env.get(env_var(spec))
        if raw is not None and raw != "":
            values[spec.name] = _coerce(spec, raw)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if settings.stage_policy not in ("exclusive", "mlflow"):
        raise ValueError(
            f"stage policy must be 'exclusive' or 'mlflow', got {settings.stage_policy!r}"
        )
    named = {p.strip().lower() for p in settings.require_approval.split(",") if p.strip()}
    unknown = named - {"staging", "production"}
    if unknown:
        raise ValueError(
            f"--require-approval takes Staging and/or Production, got {settings.require_approval!r}"
        )
    if settings.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {settings.workers}")
    if settings.s3_addressing_style not in (None, "path", "virtual", "auto"):
        raise ValueError(
            "--s3-addressing-style must be path, virtual or auto, "
            f"got {settings.s3_addressing_style!r}"
        )
    if settings.s3_checksums not in (None, "when_required", "when_supported"):
        raise ValueError(
            f"--s3-checksums must be when_required or when_supported, got {settings.s3_checksums!r}"
        )
    if settings.app_name not in (None, "basic-auth"):
        raise ValueError(f"--app-name must be basic-auth, got {settings.app_name!r}")
    if settings.auth_default_permission not in ("READ", "EDIT", "MANAGE", "NO_PERMISSIONS"):
        raise ValueError(
            "--auth-default-permission must be READ, EDIT, MANAGE or NO_PERMISSIONS, "
            f"got {settings.auth_default_permission!r}"
        )
    for flag, duration in (
        ("--gc-interval", settings.gc_interval),
        ("--gc-older-than", settings.gc_older_than),
    ):
        if duration is not None and not _DURATION.match(duration.strip() or "x"):
            raise ValueError(f"{flag} must be a duration such as 6h, 1d or 1d12h, got {duration!r}")
    for name in ("webhook_timeout", "webhook_retry_base_ms", "webhook_poll_ms"):
        if getattr(settings, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("request_body_timeout", "request_header_timeout"):
        seconds = getattr(settings, name)
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(
                f"--{name.replace('_', '-')} must be 0 (wait for ever) or a number of "
                f"seconds, got {seconds}"
            )
    if settings.log_level.lower() not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError(f"unknown log level {settings.log_level!r}")


assert {s.name for s in SETTINGS_SPEC} == {f.name for f in fields(Settings)}
