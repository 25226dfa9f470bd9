"""One settings object from PIXSEEK_ environment variables and CLI flags, validated once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from embed import DEFAULT_MODEL, ModelSpec, ModelSpecError, parse_model_spec
from embed.decode import DEFAULT_MAX_PIXELS
from pixseek.errors import SettingsError


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/pixseek, else ~/.local/share/pixseek."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "pixseek"


class Settings(BaseSettings):
    """Everything configurable. Each entry point builds one and passes it down."""

    model_config = SettingsConfigDict(env_prefix="PIXSEEK_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    model: str = DEFAULT_MODEL
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16", "int8"] = "auto"
    # auto: ONNX Runtime on the CPU (when its export of the model checks out), PyTorch on CUDA
    engine: Literal["auto", "onnxruntime", "torch"] = "auto"
    model_cache_dir: Path | None = None
    batch_size: int = Field(default=32, ge=1, le=1024)
    decode_threads: int = Field(default=1, ge=1, le=64)
    max_image_pixels: int = Field(default=DEFAULT_MAX_PIXELS, ge=1)
    # decoded pixels held at once by this process's decodes, in MB; 0: a 16th of the memory,
    # between 256 MB and 1 GB (embed/memory.py)
    decode_memory_mb: int = Field(default=0, ge=0, le=1024 * 1024)
    # a search-by-image picture that decodes (after JPEG scaling) to more pixels is refused
    query_max_pixels: int = Field(default=40_000_000, ge=1)
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection: str = Field(default="pixseek", min_length=1)
    qdrant_timeout: int = Field(default=30, ge=1, le=3600)  # seconds per request to the server
    qdrant_retries: int = Field(default=3, ge=0, le=20)  # again after a failure of the network
    hnsw_ef: int = Field(default=256, ge=4, le=4096)  # search breadth: recall against speed
    hnsw_m: int = Field(default=16, ge=4, le=128)  # graph degree; at index creation
    hnsw_ef_construct: int = Field(default=100, ge=4, le=4096)  # build breadth; at creation
    # int8: a quarter of the vector memory; binary (1/32) and pq (1/16) less still, with less
    # recall (docs/quality.md)
    quantization: Literal["none", "int8", "binary", "pq"] = "int8"
    broker_url: str | None = None  # redis://... for server mode; unset: embedded, no services
    redis_url: str | None = None  # where jobs live in server mode; defaults to broker_url
    worker_claim: int = Field(default=256, ge=1, le=100_000)  # files a worker takes at a time
    host: str = "127.0.0.1"  # where `pixseek serve` listens
    port: int = Field(default=8467, ge=0, le=65535)
    web_workers: int = Field(default=2, ge=1, le=64)  # gunicorn processes in server mode
    # proxies in front whose X-Forwarded-For/-Proto/-Host are believed; 0: those headers ignored
    trusted_proxies: int = Field(default=0, ge=0, le=10)
    # host names (comma-separated) this server answers to besides localhost and its address;
    # a server on a loopback address refuses any other Host (DNS rebinding)
    allowed_hosts: str = ""
    auth: Literal["auto", "on", "off"] = "auto"  # auto: open only embedded on loopback
    secret_key: SecretStr | None = None  # signs sessions; required whenever auth is on
    admin_password: SecretStr | None = None  # creates or updates the `admin` user
    upload_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1)  # per file
    upload_max_files: int = Field(default=500, ge=1)  # per request
    # the store in PostgreSQL (server mode across machines): postgresql+psycopg://user@host/db;
    # unset: SQLite in the data directory
    database_url: SecretStr | None = None
    claim_lease: int = Field(default=300, ge=10, le=86_400)  # seconds a worker's claim lasts
    backup_dir: Path | None = None  # where backups go; unset: DATA_DIR/backups
    backup_keep: int = Field(default=7, ge=1, le=10_000)  # newest backups kept there
    # text in pictures read at ingest into the payload's ocr_text (Tesseract; pixseek/photos/ocr.py)
    ocr: Literal["on", "off"] = "off"

    @field_validator("model")
    @classmethod
    def _model_spec_parses(cls, value: str) -> str:
        try:
            parse_model_spec(value)
        except ModelSpecError as exc:
            raise ValueError(str(exc)) from exc
        return value.strip()

    @field_validator("data_dir", "model_cache_dir", "backup_dir")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @property
    def decode_memory_bytes(self) -> int | None:
        """The decode budget in bytes; None: sized from the machine's memory."""
        return self.decode_memory_mb * 1024 * 1024 or None

    @property
    def allowed_host_names(self) -> list[str]:
        return [name.strip() for name in self.allowed_hosts.split(",") if name.strip()]

    @property
    def model_spec(self) -> ModelSpec:
        return parse_model_spec(self.model)

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def catalog_path(self) -> Path:
        """The embedded store's database (catalog, model state, users, jobs)."""
        return self.data_dir / "catalog.sqlite3"

    @property
    def thumbs_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def uploads_dir(self) -> Path:
        """Uploaded photos, stored by content hash: uploads/ab/<sha256>.<ext>."""
        return self.data_dir / "uploads"

    @property
    def backups_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @property
    def server_mode(self) -> bool:
        """A broker is configured: jobs run on `pixseek worker` processes, not in-process."""
        return bool(self.broker_url)

    @property
    def index_is_exclusive(self) -> bool:
        """The embedded index is files only one process may open."""
        return not self.qdrant_url


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with explicit values (e.g. CLI flags) taking precedence.

    Raises SettingsError naming each bad setting and why.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        name = "PIXSEEK_" + "_".join(str(part) for part in error["loc"]).upper()
        problems.append(f"{name}: {error['msg']}")
    return "invalid settings: " + "; ".join(problems)
