"""The hardware line every benchmark prints next to its numbers."""
import os
import platform


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def cpu_line() -> str:
    return f"{cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}"
