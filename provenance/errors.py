"""One exception tree for the whole toolkit.

Every failure a user can meet is a ``ProvenanceError`` with a stable ``kind`` (a string scripts may
rely on) and an exit code the CLI uses.  The message is one line that names the input; ``hint`` says
what to do about it.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PARTIAL = 1  # some items of a batch failed, or an internal error
    USAGE = 2
    BAD_INPUT = 3
    ARCHIVE = 4
    INTERRUPTED = 130


class ProvenanceError(Exception):
    """Base of every error the toolkit raises on purpose."""

    kind = "error"
    exit_code = ExitCode.PARTIAL

    def __init__(self, message: str, *, hint: str = "", kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if kind is not None:
            self.kind = kind

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    def about(self, internal: object, label: str) -> ProvenanceError:
        """This error naming ``label`` (the input as the user gave it) where it named ``internal``
        (a staging copy of it): a message must never point at a file the user has never seen."""
        self.message = self.message.replace(str(internal), label)
        self.args = (self.message,)
        return self


class BadInputError(ProvenanceError):
    """The file, folder or URL given cannot be used: missing, not media, corrupt, too large."""

    kind = "bad_input"
    exit_code = ExitCode.BAD_INPUT


class NotMediaError(BadInputError):
    kind = "not_media"


class CorruptMediaError(BadInputError):
    kind = "bad_media"


class MetadataError(CorruptMediaError):
    """A metadata block inside a readable file is damaged or hostile (a bad XMP packet, a GPMF
    payload whose sizes lie).  Readers of such blocks raise it; `info` and `add` turn it into a
    caveat of the file, never a failure."""

    kind = "bad_metadata"


class UsageError(ProvenanceError):
    kind = "usage"
    exit_code = ExitCode.USAGE


class ArchiveError(ProvenanceError):
    """The archive folder or its catalog cannot be used (unwritable, newer schema, damaged)."""

    kind = "archive"
    exit_code = ExitCode.ARCHIVE


class MissingExtraError(ProvenanceError):
    """An optional dependency is needed for this feature."""

    kind = "missing_extra"
    exit_code = ExitCode.USAGE


class DownloadError(ProvenanceError):
    """A URL could not be archived. ``kind`` is one of DOWNLOAD_KINDS; ``retry_after_s`` is how long
    the site asked us to wait (a 429's or 503's Retry-After), when it said."""

    kind = "network"
    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self, message: str, *, hint: str = "", kind: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, hint=hint, kind=kind)
        self.retry_after_s = retry_after_s


DOWNLOAD_KINDS = (
    "not_found",
    "private",
    "geo_blocked",
    "rate_limited",
    "no_video",
    "network",
    "unsupported",
    "bad_media",
)
