"""Version checks, status strings and typed exceptions.

References: include/lftf.h (status codes and their documented meaning) and
the C library's own lftf_status_str names (a class per status must carry
the status whose C name it documents)."""

import os
import re
import threading

import pytest

import lftf
from conftest import REPO, requires
from lftf import _cdef, errors

HEADER = os.path.join(REPO, "include", "lftf.h")


def test_version_matches_header():
    assert lftf.library_version() == "%d.%d.%d" % (
        _cdef.VERSION_MAJOR, _cdef.VERSION_MINOR, _cdef.VERSION_PATCH)
    assert lftf.lib.lftf_version_number() == (
        _cdef.VERSION_MAJOR * 10000 + _cdef.VERSION_MINOR * 100 + _cdef.VERSION_PATCH)
    assert lftf.__version__ == lftf.library_version()


def _header_statuses():
    if not os.path.exists(HEADER):
        pytest.skip("not a source checkout")
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    return {name: int(value) for name, value in
            re.findall(r"\b(LFTF_E_\w+)\s*=\s*(-\d+)", text)}


def test_every_status_has_a_class_named_like_its_c_name():
    statuses = _header_statuses()
    assert len(statuses) == 14
    expected = {"LFTF_E_INVALID_ARG": lftf.InvalidArgument, "LFTF_E_NOMEM": lftf.NoMemoryError,
                "LFTF_E_IO": lftf.LftfIOError, "LFTF_E_FORMAT": lftf.FormatError,
                "LFTF_E_UNSUPPORTED": lftf.UnsupportedError,
                "LFTF_E_NOT_FOUND": lftf.NotFoundError, "LFTF_E_RANGE": lftf.RangeError,
                "LFTF_E_TORCH": lftf.TorchError, "LFTF_E_DEVICE": lftf.DeviceError,
                "LFTF_E_ABORTED": lftf.Aborted, "LFTF_E_NUMERIC": lftf.NumericError,
                "LFTF_E_EXISTS": lftf.ExistsError, "LFTF_E_ENCODING": lftf.EncodingError,
                "LFTF_E_EMPTY": lftf.EmptyError}
    assert set(statuses) == set(expected)
    for name, value in statuses.items():
        assert getattr(lftf.lib, name) == value  # cdef enum equals the header's
        exc = errors.error_for(value, "msg")
        assert type(exc) is expected[name]
        assert isinstance(exc, lftf.LftfError)
        assert exc.status == value
        assert exc.status_name == name
        assert lftf.status_str(value).startswith(name + ": ")


def test_builtin_bases():
    assert issubclass(lftf.LftfIOError, OSError)
    assert issubclass(lftf.ExistsError, FileExistsError)
    assert issubclass(lftf.InvalidArgument, ValueError)
    assert issubclass(lftf.EmptyError, ValueError)
    assert issubclass(lftf.NotFoundError, LookupError)
    assert str(lftf.LftfIOError("cannot open /x", -3)) == "cannot open /x"


def test_unknown_status_gives_base_class_and_c_name():
    exc = errors.error_for(-99, "")
    assert type(exc) is lftf.LftfError
    assert exc.message == lftf.status_str(-99)
    assert "LFTF_E_UNKNOWN" in str(exc)


def test_check_passes_ok_and_raises_otherwise():
    assert errors.check(0) == 0
    with pytest.raises(lftf.EmptyError):
        errors.check(-14)


@requires("lftf_dataset_load")
def test_missing_file_raises_io_error_naming_path(tmp_path):
    path = tmp_path / "no-such-file.jsonl"
    with pytest.raises(lftf.LftfIOError) as info:
        lftf.Dataset(path)
    assert str(path) in str(info.value)
    assert info.value.status == lftf.lib.LFTF_E_IO


@requires("lftf_model_load")
def test_missing_model_raises_naming_path(tmp_path):
    path = tmp_path / "no-such-model"
    with pytest.raises(lftf.LftfError) as info:
        lftf.Model(path)
    assert str(path) in str(info.value)


@requires("lftf_dataset_load")
def test_message_is_read_on_the_failing_thread(tmp_path):
    """lftf_last_error is thread-local: failures on two threads keep their
    own messages (each names its own path)."""
    results = {}

    def fail(name):
        path = tmp_path / name
        try:
            lftf.Dataset(path)
        except lftf.LftfError as exc:
            results[name] = str(exc)

    threads = [threading.Thread(target=fail, args=("missing-%d.jsonl" % i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8
    for name, msg in results.items():
        assert name in msg
