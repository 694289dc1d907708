"""How runs' numbers and times print, the same in status, report and gate.md."""

import datetime

from hubtune.pipeline.evaluator_config import COUNT_METRIC


def format_value(value, metric: str = "", signed: bool = False) -> str:
    """How reports print a metric: counts as integers, everything else to 4 decimals."""
    if value is None:
        return "–"
    if metric == COUNT_METRIC:
        return f"{int(round(value)):+d}" if signed else f"{int(round(value))}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def started_text(ms: int) -> str:
    """A run's start (ML Metadata milliseconds) as local 'YYYY-mm-dd HH:MM:SS'."""
    return datetime.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")
