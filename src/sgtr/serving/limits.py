"""What one request to ``sgtr serve`` may ask for: ``Limits``, with their defaults (plain Python, so ``sgtr --help``
shows them without loading the web stack)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIB = 1024 * 1024
# Room for the multipart boundaries, part headers and the small form fields beside the files.
FORM_OVERHEAD = 64 * 1024


@dataclass(frozen=True)
class Limits:
    """``max_file_bytes`` per uploaded file; ``max_files`` per request; ``max_pixels`` per decoded image (checked
    from the header, before decoding, so a decompression bomb costs nothing); ``timeout_s`` for a request's model
    work, queueing included; ``concurrency``: how many requests' model work runs at once (the others queue)."""

    max_file_bytes: int = 10 * MIB
    max_files: int = 16
    max_pixels: int = 40_000_000
    timeout_s: float = 60.0
    concurrency: int = 1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"limit {name} must be positive, got {value}")

    @property
    def max_body_bytes(self) -> int:
        return self.max_files * self.max_file_bytes + FORM_OVERHEAD
