"""Peak memory of a block of code: process RSS on the CPU, allocated memory on a GPU.

:class:`PeakMemory` is what ``xlt bench`` and the self-training reports use; :func:`max_rss_bytes`
is the process's lifetime peak RSS. No torch at import (it is imported when a CUDA device is
measured).
"""

from __future__ import annotations

import resource
import sys
import threading
from typing import Any

__all__ = ["PeakMemory", "max_rss_bytes"]


class PeakMemory:
    """Context manager measuring the peak memory of the enclosed block.

    On a CUDA device: ``torch.cuda.max_memory_allocated`` (reset on entry). On the CPU: the
    process RSS sampled every ``interval`` seconds by a thread (psutil), or without psutil the growth of
    ``ru_maxrss`` (a process-lifetime peak: only growth beyond the earlier peak is seen).

    Args:
        device: a ``torch.device``, or a string such as ``"cpu"``.
        interval: seconds between two RSS samples on the CPU (2 ms for benchmarks of short
            blocks; long blocks need fewer samples).

    Attributes (after the block):
        peak_bytes: the peak minus the memory in use on entry (bytes, >= 0).
        peak_total_bytes: the peak itself (bytes): RSS, or allocated CUDA memory.
        kind: ``cuda`` or ``cpu``.
    """

    def __init__(self, device: Any = "cpu", interval: float = 0.002) -> None:
        self.device = device
        self.interval = interval
        self.peak_bytes = 0
        self.peak_total_bytes = 0
        self.kind = getattr(device, "type", str(device))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: Any = None
        self._base = 0
        self._max = 0

    @staticmethod
    def method(device: Any) -> str:
        """Human-readable description of how peak memory is measured on ``device``."""
        if getattr(device, "type", str(device)) == "cuda":
            return "torch.cuda.max_memory_allocated minus memory allocated before the run"
        try:
            import psutil  # noqa: F401
        except ImportError:
            return ("resource ru_maxrss growth (process-lifetime peak: only growth beyond the "
                    "earlier peak is seen, so later runs may read 0)")
        return "psutil process RSS sampled every 2 ms, peak minus RSS before the run"

    def __enter__(self) -> PeakMemory:
        if self.kind == "cuda":
            import torch  # lazy: heavy import

            torch.cuda.synchronize(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            return self
        try:
            import psutil  # lazy: optional dependency
        except ImportError:
            self._proc = None
            self._base = max_rss_bytes()
            return self
        self._proc = psutil.Process()
        self._base = self._max = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, self._proc.memory_info().rss)
            self._stop.wait(self.interval)

    def __exit__(self, *exc: object) -> None:
        if self.kind == "cuda":
            import torch  # lazy: heavy import

            torch.cuda.synchronize(self.device)
            self.peak_total_bytes = torch.cuda.max_memory_allocated(self.device)
        elif self._proc is not None:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self.peak_total_bytes = self._max = max(self._max, self._proc.memory_info().rss)
        else:
            self.peak_total_bytes = max_rss_bytes()
        self.peak_bytes = max(0, self.peak_total_bytes - self._base)


def max_rss_bytes() -> int:
    """The process's peak resident set size so far (bytes; ``ru_maxrss``)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)
