"""CSV data checks: each problem named by file and line, with the fix."""

import pytest

from hubtune import config as config_lib
from hubtune.config.csv_files import check_csv_file

DATA = config_lib.DataConfig(format="csv", train="x", text_key="review", label_key="rating")


def write(tmp_path, content: bytes) -> str:
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    return str(path)


def test_quoted_commas_newlines_and_quotes_are_one_record(tmp_path):
    path = write(tmp_path, b'review,rating\n"a, b",1\n"two\nlines",0\n"say ""hi""",1\n\n')
    assert check_csv_file(path, DATA) == 3


def test_a_ragged_record_is_named_by_its_first_line(tmp_path):
    path = write(tmp_path, b'review,rating\n"two\nlines",0\nok,1,extra\n')
    with pytest.raises(config_lib.ConfigError,
                       match=r"data.csv, line 4: 3 fields where the header has 2"):
        check_csv_file(path, DATA)


def test_a_missing_column_names_the_header(tmp_path):
    path = write(tmp_path, b"text,rating\nok,1\n")
    with pytest.raises(config_lib.ConfigError, match=r"no column 'review' in the header"):
        check_csv_file(path, DATA)


def test_bytes_that_are_not_utf8_are_named_by_line(tmp_path):
    path = write(tmp_path, b"review,rating\nok,1\ncaf\xe9,0\n")
    with pytest.raises(config_lib.ConfigError, match=r"line 3: not UTF-8 \(byte 3"):
        check_csv_file(path, DATA)


def test_an_empty_file_needs_a_header(tmp_path):
    with pytest.raises(config_lib.ConfigError, match="needs a header row"):
        check_csv_file(write(tmp_path, b""), DATA)
