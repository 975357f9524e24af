"""Mutation fuzzing of the readers: real files (``tests/fixtures/fuzz``, the GeoTIFF fixtures) with bytes flipped,
inserted, deleted or cut off. A reader returns data or raises the platform's one-line JepaError; never another
exception, never a hang.

Budget: ``JEPA_FUZZ_EXAMPLES`` cases per reader (default 40, a few seconds each in CI). A longer run:
``JEPA_FUZZ_EXAMPLES=2000 pytest tests/domains/test_fuzz_readers.py`` (see tests/fixtures/fuzz/README.md).
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jepa_platform.errors import JepaError

from tests.helpers import FIXTURES

SEEDS = FIXTURES / "fuzz"
EXAMPLES = int(os.environ.get("JEPA_FUZZ_EXAMPLES", "40"))
TIMEOUT_S = 30  # generous: CI machines are shared

# One edit: (kind, where in the region as a fraction, bytes)
edits = st.lists(
    st.tuples(
        st.sampled_from(["flip", "insert", "delete", "truncate", "digits"]),
        st.floats(0, 1, exclude_max=True),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1, max_size=4,
)


def mutate(data: bytes, region: int, changes: list[tuple[str, float, bytes]]) -> bytes:
    """``data`` with ``changes`` applied at positions within its first ``region`` bytes."""
    for kind, where, chunk in changes:
        at = int(where * min(region, len(data))) if data else 0
        if kind == "flip":
            data = data[:at] + chunk + data[at + len(chunk):]
        elif kind == "insert":
            data = data[:at] + chunk + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(chunk):]
        elif kind == "truncate":
            data = data[:at]
        else:  # a number field turned into other digits, a sign or a dot: what a bad header holds
            data = data[:at] + bytes(b"0123456789-.+ e"[c % 15] for c in chunk) + data[at + len(chunk):]
    return data


def _timeout(signum, frame):
    raise TimeoutError(f"the reader ran past {TIMEOUT_S} s")


def check(read: Callable[[], object]) -> None:
    """``read()`` returns, or raises a one-line JepaError; anything else fails the test (with hypothesis' example)."""
    previous = signal.signal(signal.SIGALRM, _timeout)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    try:
        read()
    except JepaError as exc:
        assert "\n" not in str(exc) and str(exc).strip(), f"not one line: {exc!r}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fuzz_settings() -> settings:
    return settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def write_case(folder: Path, seed: Path, data: bytes, *companions: Path) -> Path:
    """Write the mutated ``data`` as ``seed``'s name in a clean ``folder``, beside unchanged ``companions``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for companion in companions:
        shutil.copy(companion, folder / companion.name)
    (folder / seed.name).write_bytes(data)
    return folder / seed.name


@pytest.mark.parametrize("mutated", ["rec.hea", "rec.dat"], ids=["wfdb-header", "wfdb-signal"])
def test_wfdb(tmp_path, mutated):
    from jepa_domains.ecg.readers import read_record

    seed, other = SEEDS / mutated, SEEDS / ({"rec.hea": "rec.dat", "rec.dat": "rec.hea"}[mutated])
    read_record(SEEDS / "rec", ("I", "II"))  # the seed itself reads

    @fuzz_settings()
    @given(changes=edits)
    @example(changes=[("truncate", 0.75, b"\0")])  # found: a signal line without a description
    def run(changes):
        path = write_case(tmp_path / "case", seed, mutate(seed.read_bytes(), 1 << 20, changes), other)
        check(lambda: read_record(path.with_suffix(""), ("I", "II")))

    run()


def test_edf_header(tmp_path):
    from jepa_domains.eeg.readers import read_recording

    seed = SEEDS / "rec.edf"
    channels = ("Fp1", "Fp2")
    assert read_recording(seed, channels)[1].all()  # the seed itself reads

    @fuzz_settings()
    @given(changes=edits)
    def run(changes):
        path = write_case(tmp_path / "case", seed, mutate(seed.read_bytes(), 256 * 3, changes))  # the header
        check(lambda: read_recording(path, channels))

    run()


def test_geotiff(tmp_path):
    from jepa_domains.sar.readers import read_raster

    seed = FIXTURES / "geotiff" / "rmnp-dem.tif"
    read_raster(seed)

    @fuzz_settings()
    @given(changes=edits, header=st.booleans())
    @example(changes=[("insert", 0.044, b"\xf32"), ("insert", 0.044, b"\xab\xc1\x1a")], header=True)  # found:
    def run(changes, header):  # a header declaring 49579 bands made the read allocate gigabytes and run on
        data = seed.read_bytes()
        path = write_case(tmp_path / "case", seed, mutate(data, 2048 if header else len(data), changes))
        check(lambda: read_raster(path))

    run()


@pytest.mark.parametrize("name", ["table.csv", "table.parquet"], ids=["csv", "parquet"])
def test_tables(tmp_path, name):
    from jepa_domains.tabular.readers import read_file

    seed = SEEDS / name
    read_file(seed)

    @fuzz_settings()
    @given(changes=edits)
    @example(changes=[("insert", 0.0, b"\0")])  # found: Parquet's message over two lines
    @example(changes=[("flip", 0.0, b"\x80"), ("flip", 0.75, b"\x80")])  # found: CSV column names not UTF-8
    def run(changes):
        path = write_case(tmp_path / "case", seed, mutate(seed.read_bytes(), 1 << 20, changes))
        check(lambda: read_file(path))

    run()
