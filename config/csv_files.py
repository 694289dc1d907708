"""Checks of CSV data before any run: what CsvExampleGen would fail on, or silently
mangle, named by file and line with the fix.

CsvExampleGen reads a header row, then records (a quoted field may hold commas and
newlines).  It stops on a record with the wrong number of fields without saying where,
and on bytes that are not UTF-8 with a bare UnicodeDecodeError; a missing text or label
column would only show up later.  ``check_csv_files`` finds each of these first.
"""

import csv
from typing import Iterator, List, Tuple

from hubtune.config.sections import ConfigError, DataConfig


def _records(path: str) -> Iterator[Tuple[int, List[str]]]:
    """(first line number, fields) of each CSV record, the header included."""
    reader = csv.reader(_numbered_lines(path))
    start = 1
    for fields in reader:
        yield start, fields
        start = reader.line_num + 1


def _numbered_lines(path: str) -> Iterator[str]:
    """The file's lines, decoded as UTF-8; a line that is not UTF-8 is named."""
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ConfigError(
                    f"{path}, line {number}: not UTF-8 (byte {e.start}: "
                    f"{line[e.start:e.start + 4]!r}); re-encode the file as UTF-8") from e


def check_csv_file(path: str, data: DataConfig) -> int:
    """Raises ConfigError naming the file and line of the first problem; returns the number
    of records."""
    records = _records(path)
    try:
        _, header = next(records)
    except StopIteration:
        raise ConfigError(f"{path} is empty: a CSV needs a header row naming its columns")
    missing = [k for k in (data.text_key, data.label_key) if k and k not in header]
    if missing:
        raise ConfigError(f"{path}: no column {', '.join(repr(m) for m in missing)} in the "
                          f"header {header}; fix the header or data.text_key / data.label_key")
    count = 0
    try:
        for line, fields in records:
            if not fields:
                continue  # a blank line, which CsvExampleGen skips too
            if len(fields) != len(header):
                raise ConfigError(
                    f"{path}, line {line}: {len(fields)} fields where the header has "
                    f"{len(header)} ({', '.join(header)}); quote fields that hold commas "
                    "or newlines")
            count += 1
    except csv.Error as e:
        raise ConfigError(f"{path}: {e}; quote fields that hold quotes as \"\"") from e
    return count
