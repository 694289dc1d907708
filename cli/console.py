"""What a pipeline run shows on the terminal: component progress, not framework noise.

TFX, Beam (including its worker processes) and TensorFlow's C++ runtime write to
file descriptors 1 and 2.  ``quiet_console`` points both at a log file in the
pipeline root and gives the CLI a stream to the real terminal, where it prints
which component runs, for how long, and hubtune's own progress lines.
"""

import contextlib
import logging
import os
import re
import sys
import time
from typing import Iterator, TextIO

_RUNNING = re.compile(r"Component (\S+) is running\.")
_FINISHED = re.compile(r"Component (\S+) is finished\.")
_SKIPPED = re.compile(r"Skipping component (\S+)\.")
LOG_FILE_NAME = "hubtune.log"


class ProgressHandler(logging.Handler):
    """Turns TFX's component start/finish records and hubtune's records into lines."""

    def __init__(self, stream: TextIO):
        super().__init__(logging.INFO)
        self.stream = stream
        self.started = time.time()
        self._component_started = {}

    def _line(self, text: str) -> None:
        self.stream.write(f"[{time.time() - self.started:6.0f}s] {text}\n")
        self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log record must not break the run
            return
        if record.name == "hubtune":
            self._line(f"    {message}")
        elif match := _RUNNING.match(message):
            self._component_started[match.group(1)] = time.time()
            self._line(f"{match.group(1)} running ...")
        elif match := _FINISHED.match(message):
            began = self._component_started.get(match.group(1), time.time())
            self._line(f"{match.group(1)} done ({time.time() - began:.1f} s)")
        elif match := _SKIPPED.match(message):
            self._line(f"{match.group(1)} skipped")


def _pin_info_level(loggers) -> None:
    """INFO for the session, even though tf.saved_model.save resets absl to WARNING."""
    for lg in loggers:
        lg.setLevel(logging.INFO)
        lg.setLevel = lambda level: None  # instance attribute; removed by _unpin


def _unpin(loggers, levels) -> None:
    for lg, level in zip(loggers, levels):
        lg.__dict__.pop("setLevel", None)
        lg.setLevel(level)


def _import_stack() -> None:
    import tensorflow  # noqa: F401
    import tfx.v1  # noqa: F401


@contextlib.contextmanager
def quiet_console(log_path: str, verbose: bool = False) -> Iterator[TextIO]:
    """Yields the terminal stream; everything else goes to ``log_path`` (unless verbose)."""
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    loggers = [logging.getLogger("absl"), logging.getLogger("hubtune")]
    levels = [lg.level for lg in loggers]
    if verbose:
        _import_stack()
        _pin_info_level(loggers)
        handler = ProgressHandler(sys.stdout)
        loggers[0].addHandler(handler)
        try:
            yield sys.stdout
        finally:
            loggers[0].removeHandler(handler)
            _unpin(loggers, levels)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    saved = os.dup(1), os.dup(2)
    saved_streams = sys.stdout, sys.stderr
    with open(log_path, "a", buffering=1) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        sys.stdout = sys.stderr = log
        _import_stack()  # its import-time chatter goes to the log
        _pin_info_level(loggers)
        file_handler = logging.StreamHandler(log)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler = ProgressHandler(terminal)
        for lg in loggers:
            lg.addHandler(handler)
            lg.addHandler(file_handler)
        try:
            yield terminal
        finally:
            for lg in loggers:
                lg.removeHandler(handler)
                lg.removeHandler(file_handler)
            _unpin(loggers, levels)
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sys.stdout, sys.stderr = saved_streams
            terminal.close()
