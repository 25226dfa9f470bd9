"""Domain errors of the pixseek core. Entry points (CLI, web, tasks) map them to messages."""


class PixseekError(Exception):
    """Base class of every error the core raises on purpose."""


class SettingsError(PixseekError):
    """Settings are invalid; the message names the setting and what is allowed."""


class DataDirLockedError(PixseekError):
    """Another process holds the data directory."""

    def __init__(self, message: str, holder: str = "another process") -> None:
        super().__init__(message)
        self.holder = holder  # "process 1234 (pixseek serve ...)"


class IndexBackendError(PixseekError):
    """The vector index cannot do what was asked (schema mismatch, unreachable server, ...)."""


class NotFoundError(PixseekError):
    """A photo id or file named in a request is not in the index."""


class QueryError(PixseekError):
    """A search request is malformed (empty query, bad weight, bad filter value)."""


class PathNotFoundError(PixseekError):
    """A file or folder named by the user does not exist."""


class UploadError(PixseekError):
    """An uploaded file was refused (too large, not an image, a format pixseek cannot read)."""


class UploadTooLargeError(UploadError):
    """An uploaded file passed the size limit while it arrived; the request ends there."""


class ConflictError(PixseekError):
    """The action collides with one in progress (a model switch while another one runs)."""


class BackupError(PixseekError):
    """A backup cannot be read or restored (not a backup, damaged, made for another backend)."""


class StoreError(PixseekError):
    """The database refused a request, or holds a schema this release cannot use."""


class StoreUnavailableError(StoreError):
    """The database does not answer (unreachable, or locked for longer than the wait)."""
