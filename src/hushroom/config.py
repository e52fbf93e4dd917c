"""Typed settings from HUSHROOM_* environment variables (or a TOML file in HUSHROOM_CONFIG)."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

FACEBOOK_GRAPH_VERSION = "v23.0"


class SignInProvider(BaseModel):
    """One sign-in provider the operator configured (docs/operations.md § Sign-in providers).

    `oidc`: any OpenID Connect issuer, found by discovery at
    `{issuer}/.well-known/openid-configuration` (Google: `https://accounts.google.com`).
    `facebook`: Facebook Login's OAuth 2 dialog and the Graph API's `/me`.
    """

    model_config = {"extra": "forbid", "frozen": True}

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    kind: Literal["oidc", "facebook"] = "oidc"
    # The button says "Continue with {name}".
    name: str = Field(min_length=1, max_length=40)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    issuer: str | None = None
    scopes: str = "openid email profile"
    # Accept the provider's email without an `email_verified: true` claim (only for an issuer
    # that verifies every address and omits the claim). Facebook returns confirmed emails only.
    trust_email: bool = False
    # Facebook's endpoints (overridable for a test double).
    dialog_url: str = f"https://www.facebook.com/{FACEBOOK_GRAPH_VERSION}/dialog/oauth"
    graph_url: str = f"https://graph.facebook.com/{FACEBOOK_GRAPH_VERSION}"

    @model_validator(mode="after")
    def _oidc_needs_issuer(self) -> SignInProvider:
        if self.kind == "oidc" and not self.issuer:
            raise ValueError(f"sign-in provider {self.id!r}: an OpenID Connect issuer is required")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUSHROOM_", extra="ignore")

    @model_validator(mode="after")
    def _default_database_in_data_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'hushroom.db'}"
        return self

    data_dir: Path = Path("./data")
    # Unset: the embedded SQLite file `hushroom.db` inside data_dir.
    database_url: str = ""
    redis_url: str | None = None
    # Prefix of every Redis key and channel (several deployments or test runs can share a Redis).
    redis_prefix: str = "hushroom:"
    host: str = "127.0.0.1"
    port: int = 8000
    # HTTPS for a single node without a reverse proxy (src/hushroom/tls.py, docs/operations.md
    # § TLS): PEM certificate chain (leaf first) and its private key. Unset: plain HTTP.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # With TLS on: a second, plain-HTTP listener on this port that answers every request with
    # a 308 redirect to https on `port` (e.g. 80 next to 443). Unset: no plain listener.
    http_redirect_port: int | None = Field(default=None, ge=1, le=65535)
    # Origins allowed to open WebSockets; the server's own origin is always allowed.
    allowed_origins: list[str] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"]
    )
    # Secret for HS256 access tokens; generated into data_dir on first run when unset.
    jwt_secret: SecretStr | None = None
    # Key-encryption key of the data stored at rest (docs/decisions/0008): 32 bytes, base64url.
    # Unset: `at_rest.key` in data_dir, generated on first run (mode 0600). Back it up apart
    # from the database: without it the sealed names, topics and public messages are lost.
    at_rest_key: SecretStr | None = None
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # A rotated refresh token presented again this soon returns the same successor (tabs racing).
    refresh_reuse_grace_s: float = Field(default=10.0, ge=0, le=60)
    ws_ticket_ttl_s: int = 30
    # Server-side Argon2id over the client's auth secret: at least m = 19 MiB, t = 2, p = 1
    # (docs/decisions/0004).
    auth_hash_memory_kib: int = 19 * 1024
    auth_hash_time_cost: int = 2
    # Abuse limits (services/rate_limits.py, docs/security.md § Abuse limits): rule name ->
    # "N/period" items joined by ";" (the `limits` library's notation, e.g. "10/15minutes").
    # Given rules replace the defaults of the same name; the others keep theirs.
    rate_limits: dict[str, str] = Field(default_factory=dict)
    # Multiplies every limit. For test and benchmark rigs that log in from one address; keep 1.
    rate_limit_scale: float = Field(default=1.0, gt=0)
    # Addresses or networks of the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
    # are believed (e.g. ["127.0.0.1"] with nginx on the same host). Empty: no proxy is
    # trusted, and the client address is the socket peer.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Limits, documented in docs/protocol.md.
    max_text_chars: int = 8000
    max_ciphertext_bytes: int = 64 * 1024
    max_vault_bytes: int = 256 * 1024
    max_ws_frame_bytes: int = 128 * 1024
    # Largest HTTP request body, refused with 413 before it is read (api/edges.py). The largest
    # legitimate one is a key set for a 1,000-member group (≈ 1.6 MB of JSON, ≤ 1.9 MB by
    # schema); keep it above that and above max_vault_bytes × 4/3 if you raise those.
    max_request_body_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)
    ws_frames_per_second: float = 30.0
    ws_frame_burst: int = 60
    ws_send_queue: int = 1000
    # Sends one socket may have in flight (read on while earlier ones wait for their commit);
    # at the bound the server stops reading that socket until one is acknowledged.
    ws_sends_in_flight: int = Field(default=32, ge=1, le=1024)
    ws_max_errors: int = 10
    # Whole seconds: sent to clients as the integer `heartbeat_s` in `ready`.
    ws_ping_interval_s: int = Field(default=20, ge=1)
    resume_max_messages: int = 500
    # Most sends stored in one transaction: concurrent sends share a commit (group commit).
    send_batch_max: int = Field(default=256, ge=1, le=1000)
    # Send batches in flight at once per process: a second one runs while the first waits for
    # its commit (measured: p99 at 2,000 DMs/s 2.7 s → 0.36 s, saturation 2,130 → 2,490/s).
    send_batch_workers: int = Field(default=2, ge=1, le=8)
    # A batch beyond the first starts only while at least this many sends wait: under light
    # load one batch at a time gathers more sends per commit (less CPU per message).
    send_batch_spill: int = Field(default=16, ge=1, le=1000)
    # `hushroom serve` keeps start-up objects out of full GC collections (gc_pauses.py).
    gc_freeze: bool = True
    max_connections_per_user: int = 20
    log_level: str = "INFO"
    log_json: bool = True
    web_dist: Path | None = None
    # Operator-only endpoints (docs/security.md). `/metrics` answers only a request with
    # `Authorization: Bearer <metrics_token>`; unset, it answers 404.
    metrics_token: SecretStr | None = None
    # `/openapi.json` (the machine-readable API); off by default. No Swagger UI or ReDoc page.
    api_docs: bool = False
    # Strict-Transport-Security on HTTPS requests (TLS here, or a trusted proxy's
    # X-Forwarded-Proto: https); 0 sends none.
    hsts_max_age_s: int = Field(default=365 * 24 * 3600, ge=0)
    hsts_include_subdomains: bool = True
    # Sign-in providers (Google, Facebook, any OpenID Connect issuer); empty: password only.
    sign_in_providers: list[SignInProvider] = Field(default_factory=list)
    # The public base URL browsers use (e.g. https://chat.example.org): the providers' redirect
    # URI is `{public_url}/api/v1/auth/providers/{id}/callback`. Unset: the request's own origin.
    public_url: str | None = None
    # Seconds a provider sign-in may take (from the button to the callback), and a first
    # sign-in to choose its chat passphrase.
    sign_in_flow_ttl_s: int = Field(default=600, ge=60, le=3600)
    provider_signup_ttl_s: int = Field(default=1800, ge=60, le=24 * 3600)
    # Seconds to wait for a provider's discovery, token and profile endpoints.
    provider_timeout_s: float = Field(default=10.0, gt=0, le=60)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("HUSHROOM_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or one generated once into the data dir (mode 0600)."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def resolved_at_rest_key(self) -> bytes:
        """The 32-byte KEK: configured, or read from (first generated into) data_dir."""
        if self.at_rest_key is not None:
            return decode_at_rest_key(self.at_rest_key.get_secret_value(), "HUSHROOM_AT_REST_KEY")
        path = self.data_dir / "at_rest.key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # Written aside, then linked into place: a worker starting at the same moment
            # sees either no file or the whole key, and the first link wins.
            tmp = path.with_name(f".at_rest.key.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(encode_at_rest_key(secrets.token_bytes(32)) + "\n")
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return decode_at_rest_key(path.read_text().strip(), str(path))


def encode_at_rest_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_at_rest_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{source}: the at-rest key is not base64url") from exc
    if len(key) != 32:
        raise ValueError(f"{source}: the at-rest key must be 32 bytes (base64url)")
    return key
