"""The JSON bodies the API answers with, as pydantic models: the OpenAPI document's response
schemas. The views build plain dicts; tests/web/test_openapi_schemathesis.py checks every answer
against these, so a field added to an answer without its model here fails there."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    """An answer lists every field it sends: extra fields are a mistake of the document."""

    model_config = ConfigDict(extra="forbid")


class Health(Shape):
    status: Literal["ok"]


class ReadyChecks(Shape):
    index: str = Field(description='"ok", or "error: ..."')
    jobs: str = Field(description='"ok", or "error: ..."')
    model: str = Field(description='"ok", or "loading" until the model is in memory')


class Ready(Shape):
    ready: bool
    checks: ReadyChecks


class OpenApiDocument(BaseModel):
    model_config = ConfigDict(extra="allow")
    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class Me(Shape):
    user: str
    role: Literal["viewer", "admin"]
    auth: bool = Field(description="whether this server asks visitors to log in")


class Photo(Shape):
    id: str
    path: str | None = Field(description="the first path of the file; null when none is known")
    filename: str | None
    taken_at: str | None = Field(description="ISO 8601, the camera's wall-clock time")
    width: int | None
    height: int | None
    format: str | None
    camera: str | None
    place: str | None = Field(
        description='"City, Region, Country" of the GPS coordinates; null without them, or '
        "far from every named place"
    )
    thumbnail_url: str
    preview_url: str
    original_url: str
    payload: dict[str, Any] = Field(description="every field the index holds for the photo")


class SearchResult(Photo):
    score: float = Field(
        description="cosine similarity; for a text query some photo's words match, the fused "
        "rank score (RRF) of the picture and the word searches"
    )
    matched: list[str] = Field(
        description="what made it a result: name, folder, keyword, caption, place, text (words "
        "the query shares with the file name, folder names, keywords, title/description/artist, "
        "place names, text in the picture) and visual (found by the picture search)"
    )
    similar: list[str] = Field(
        description="with collapse: the ids of this page's near-duplicates of this photo, "
        "folded under it (shown as '+N similar')"
    )


class SearchAnswer(Shape):
    results: list[SearchResult]
    offset: int
    limit: int
    next_offset: int | None = Field(description="the next page's offset; null on the last page")
    hidden_by_cutoff: int = Field(
        description="date sorts: how many of the best candidates score below the relevance "
        "cutoff and are not shown (a lower cutoff shows them); 0 when sorted by relevance"
    )
    model: str = Field(description="the id of the model that answered")
    took_ms: float


class TimelineMonth(Shape):
    month: str = Field(description="YYYY-MM")
    photos: int = Field(description="photos of that month passing the filters")


class TimelineAnswer(Shape):
    results: list[Photo]
    months: list[TimelineMonth] = Field(description="the months of this page, in page order")
    next: str | None = Field(description="the cursor of the next page; null on the last page")
    took_ms: float


class FacetValue(Shape):
    value: str = Field(description="as the photos spell it, and as a filter takes it")
    photos: int


class FacetCamera(Shape):
    name: str = Field(description="the make, or the camera as shown: make and model")
    filter: str = Field(description="the `cameras` filter value that chooses it")
    photos: int
    models: list[FacetCamera] = Field(description="a make's models; empty for a model")


class FacetFolder(Shape):
    name: str
    path: str = Field(description="the folder's absolute path on the server")
    filter: str = Field(description="the library root's name and the path below it: the "
                        "`folders` filter value that chooses it")  # fmt: skip
    photos: int = Field(description="photos in the folder and below it")
    folders: list[FacetFolder]


class FacetPeriod(Shape):
    period: str = Field(description="YYYY or YYYY-MM")
    photos: int
    months: list[FacetPeriod] = Field(description="a year's months with photos, newest first")


class FacetsAnswer(Shape):
    photos: int = Field(description="photos passing every filter")
    cameras: list[FacetCamera] = Field(description="makes, most photos first, with their models")
    folders: list[FacetFolder] = Field(description="one tree per library root")
    formats: list[FacetValue]
    years: list[FacetPeriod] = Field(description="newest first, with their months")
    places: dict[str, list[FacetValue]] = Field(
        description="country, region and city names (the `places` filter takes any of them), "
        "once the index holds place names"
    )
    took_ms: float


class DuplicatePhoto(Photo):
    bytes: int | None = Field(description="the file's size")


class DuplicateGroup(Shape):
    id: str = Field(description="the group's id: the smallest photo id in it")
    keep: str = Field(description="the one to keep: the largest, then the earliest taken")
    photos: list[DuplicatePhoto] = Field(description="the one to keep first")


class DuplicateList(Shape):
    groups: list[DuplicateGroup] = Field(description="largest group first")
    photos: int = Field(description="photos in the groups")
    seconds: float = Field(description="how long the last grouping took")
    thresholds: dict[str, float] = Field(
        description="the thresholds used (the cosine calibrated on this library)"
    )


class DistinctMarked(Shape):
    marked: int = Field(description="pairs newly marked as not duplicates")


class FileFailure(Shape):
    path: str
    reason: str


class Job(Shape):
    id: str
    kind: str = Field(description="index, reindex, upload, model-switch, backup, ...")
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    detail: dict[str, Any]
    total: int
    done: int
    failed: int
    planned: bool = Field(description="every file of the job has been counted into total")
    cancel_requested: bool
    error: str | None
    created_at: float = Field(description="seconds since the epoch")
    started_at: float | None
    finished_at: float | None
    failures: list[FileFailure] = Field(description="the first 1000 failed files")
    skipped: int = Field(
        description="files its scan passed over for their type; detail.skipped_files lists "
        "the first 200 as {path, reason}"
    )
    images_per_second: float
    eta_seconds: float | None


class JobList(Shape):
    jobs: list[Job]


class FailurePage(Shape):
    job: str
    total: int = Field(description="the job's failed files, all counted")
    kept: int = Field(description="those listed (the first 1000)")
    offset: int
    limit: int
    failures: list[FileFailure] = Field(description="this page, ordered by path")


class JobStarted(Shape):
    job: Job


class EvalConfiguration(Shape):
    label: str
    model: str = Field(description="the model's id")
    precision: Literal["fp32", "int8"] = Field(description="of the embeddings")
    quantization: Literal["none", "int8", "binary", "pq"]
    search: Literal["exact", "hnsw"]
    hnsw_ef: int | None
    rerank: bool = Field(description="image queries re-ranked by local features")


class EvalOutcome(Shape):
    configuration: EvalConfiguration
    overall: dict[str, float] = Field(description="R@1, R@5, R@10, R@100, mAP, MRR, nDCG@10...")
    by_kind: dict[str, dict[str, float]] = Field(description="the same per query kind")
    by_group: dict[str, dict[str, float]] = Field(
        description="the same per group (a copy set's transform), with its number of queries"
    )
    recall_curve: dict[str, float] = Field(description="Recall@K by K")
    latency_ms: dict[str, float] = Field(description="p50 and p99 of a query's search")
    ram_bytes_per_vector: float


class EvalReport(Shape):
    """What `pixseek eval --json` prints."""

    name: str
    corpus: int = Field(description="pictures searched")
    queries: int
    details: dict[str, Any]
    configurations: list[EvalOutcome]
    duplicates: dict[str, Any] | None = Field(
        None, description="a copy set's duplicate pair precision and recall per signal"
    )


class EvalAnswer(Shape):
    job: Job | None = Field(description="the newest eval job (running or ended); null: none")
    step: str | None = Field(description="what the eval is doing, while its job has not ended")
    report: EvalReport | None = Field(description="the last eval that ended well; null: none")
    report_at: float | None = Field(description="when that report was made (epoch seconds)")
    plot_url: str | None = Field(description="its Recall@K curves (PNG)")


class UploadedFile(Shape):
    filename: str
    status: Literal["queued", "duplicate", "failed"]
    id: str | None = Field(description="the photo id the file will have (or has)")
    sha256: str | None
    duplicate_of: str | None = Field(description="the path of the copy the library holds")
    reason: str | None = Field(description="why the file was refused")


class UploadAnswer(Shape):
    job: Job | None = Field(description="the job indexing the queued files; null when none was")
    files: list[UploadedFile]


class ModelAnswer(Shape):
    active: str = Field(description="the model searches use, as PIXSEEK_MODEL names it")
    active_id: str
    target: str | None = Field(description="the model being switched to")
    retired: str | None = Field(description="the model whose vectors are being dropped")
    job: Job | None = Field(description="the switch's job")


class Backup(Shape):
    name: str
    path: str
    created_at: str = Field(description="ISO 8601, UTC")
    backend: str
    model: str
    photos: int
    points: int
    bytes: int


class BackupList(Shape):
    directory: str
    keep: int
    backups: list[Backup] = Field(description="newest first")


class ModelSwitchSummary(Shape):
    target: str | None
    retired: str | None
    job: str | None


class Stats(Shape):
    data_dir: str
    backend: str
    model: str
    model_id: str
    model_switch: ModelSwitchSummary | None
    vectors: dict[str, int] = Field(description="the named vectors held, with their sizes")
    points: int
    files_indexed: int
    files_failed: int
    files_queued: int


class Queue(Shape):
    pending: int


class Worker(Shape):
    name: str
    state: Literal["online", "offline"]


class PrecisionMeasure(Shape):
    tower: Literal["image", "text"]
    candidate: str = Field(description='e.g. "onnxruntime int8"')
    mean_cosine: float = Field(description="to fp32's embedding of the same photo or text")
    min_cosine: float
    top10_overlap: float = Field(description="share of each query's 10 nearest photos kept")
    speed: float = Field(description="images/s (image tower) or queries/s (text tower)")
    reference_speed: float = Field(description="fp32's, in the same check")
    agrees: bool


class PrecisionThresholds(Shape):
    mean_cosine: float
    min_cosine: float
    top10_overlap: float
    min_speedup: float = Field(description="how much faster than fp32 a candidate must be")


class PrecisionCheck(Shape):
    model_id: str
    key: str = Field(description="the model, weights, runtimes and CPU it holds for")
    reference: dict[str, str] = Field(description="tower -> the fp32 engine")
    chosen: dict[str, str] = Field(description="tower -> the engine and precision in use")
    photos: int
    texts: int
    thresholds: PrecisionThresholds
    measures: list[PrecisionMeasure]
    library: str | None
    checked_at: float
    summary: str


class Precision(Shape):
    setting: str = Field(description="PIXSEEK_PRECISION")
    check: PrecisionCheck | None = Field(
        description="the active model's precision check on this library (auto only)"
    )


class Status(Shape):
    mode: Literal["embedded", "server"]
    stats: Stats
    queue: Queue
    workers: list[Worker]
    roots: list[str] = Field(description="the library folders")
    precision: Precision


class Token(Shape):
    id: str
    name: str
    user: str = Field(description="the user who made it")
    role: Literal["viewer", "admin"]
    created_at: float
    last_used_at: float | None


class TokenList(Shape):
    tokens: list[Token]


class NewToken(Token):
    token: str = Field(description="the secret: shown in this answer only")


class UserInfo(Shape):
    name: str
    role: Literal["viewer", "admin"]
    disabled: bool
    created_at: float = Field(description="seconds since the epoch")


class UserList(Shape):
    users: list[UserInfo]


class Session(Shape):
    id: str = Field(description="names the session (a hash of its secret); cannot act as it")
    user: str
    created_at: float
    last_seen_at: float
    expires_at: float
    user_agent: str
    address: str


class SessionList(Shape):
    sessions: list[Session]
