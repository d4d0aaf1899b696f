"""Finding liblftf: LFTF_LIBRARY, pkg-config, the loader, a source checkout.

Each case runs `import lftf` in a fresh interpreter with a controlled
environment; the reference is the lookup order the issue specifies."""

import ctypes.util
import os
import shutil
import subprocess
import sys

import pytest

import lftf
from conftest import PKG_PARENT, REPO

LIB = os.path.abspath(lftf.LIBRARY_PATH)


def _import(env_updates, code="import lftf; print(lftf.LIBRARY_PATH)", cwd=None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("LFTF_LIBRARY", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH")}
    env["PYTHONPATH"] = PKG_PARENT
    env.update(env_updates)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=cwd or REPO, timeout=120)


def test_lftf_library_env_is_used():
    res = _import({"LFTF_LIBRARY": LIB})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == LIB


def test_documented_command_from_checkout():
    """`PYTHONPATH=bindings/python LFTF_LIBRARY=build/lib/liblftf.so python3 -c "import lftf"`"""
    built = os.path.join(REPO, "build", "lib", "liblftf.so")
    if not os.path.exists(built):
        pytest.skip("%s not built" % built)
    res = _import({"PYTHONPATH": "bindings/python", "LFTF_LIBRARY": "build/lib/liblftf.so"})
    assert res.returncode == 0, res.stderr


def test_bad_lftf_library_names_the_path(tmp_path):
    bogus = str(tmp_path / "nope" / "liblftf.so")
    res = _import({"LFTF_LIBRARY": bogus})
    assert res.returncode != 0
    assert "ImportError" in res.stderr and bogus in res.stderr and "LFTF_LIBRARY" in res.stderr


def test_pkg_config_lookup(tmp_path):
    """A lftf.pc whose libdir holds liblftf.so.0 is found without LFTF_LIBRARY."""
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config not installed")
    libdir = tmp_path / "lib"
    libdir.mkdir()
    os.symlink(LIB, libdir / "liblftf.so.0")
    pcdir = tmp_path / "pkgconfig"
    pcdir.mkdir()
    (pcdir / "lftf.pc").write_text(
        "prefix=%s\nlibdir=%s\n\nName: lftf\nDescription: test\nVersion: 0.1.0\n"
        "Libs: -L${libdir} -llftf\n" % (tmp_path, libdir))
    res = _import({"PKG_CONFIG_PATH": str(pcdir)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == str(libdir / "liblftf.so.0")


def test_source_checkout_fallback(tmp_path):
    """With nothing installed, the checkout's build/lib/liblftf.so is used."""
    built = os.path.join(REPO, "build", "lib", "liblftf.so")
    if not os.path.exists(built):
        pytest.skip("%s not built" % built)
    if ctypes.util.find_library("lftf"):
        pytest.skip("a liblftf is installed system-wide; the fallback is not reached")
    empty = tmp_path / "nopc"
    empty.mkdir()
    res = _import({"PKG_CONFIG_PATH": str(empty), "PKG_CONFIG_LIBDIR": str(empty)})
    assert res.returncode == 0, res.stderr
    assert os.path.samefile(res.stdout.strip(), built)


def test_version_mismatch_is_refused(monkeypatch):
    """Bindings for another major version (or a newer minor) refuse the
    library: simulated by changing the version the cdef expects."""
    from lftf import _cdef, _lib
    _lib._check_version()  # the real pair is accepted
    monkeypatch.setattr(_cdef, "VERSION_MAJOR", _cdef.VERSION_MAJOR + 1)
    with pytest.raises(ImportError, match="need %d\\." % _cdef.VERSION_MAJOR):
        _lib._check_version()
    monkeypatch.undo()
    monkeypatch.setattr(_cdef, "VERSION_MINOR", _cdef.VERSION_MINOR + 1)
    with pytest.raises(ImportError):
        _lib._check_version()
