"""Finds and opens liblftf with cffi in ABI mode (no compiler at install time).

Lookup order (the first that exists wins):
  1. the LFTF_LIBRARY environment variable (a path to liblftf.so);
  2. pkg-config: `pkg-config --variable=libdir lftf` + liblftf.so.<major>;
  3. ctypes.util.find_library("lftf") (ldconfig's cache, LD_LIBRARY_PATH);
  4. build/lib/liblftf.so of the source checkout this package sits in.
"""

import ctypes.util
import os
import shutil
import subprocess

from cffi import FFI

from . import _cdef

ffi = FFI()
ffi.cdef(_cdef.CDEF)

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# bindings/python/lftf -> the repository root of a source checkout.
SOURCE_ROOT = os.path.normpath(os.path.join(_PACKAGE_DIR, "..", "..", ".."))


def _pkg_config_candidate():
    exe = shutil.which("pkg-config")
    if exe is None:
        return None
    try:
        res = subprocess.run([exe, "--variable=libdir", "lftf"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    libdir = res.stdout.strip()
    if res.returncode != 0 or not libdir:
        return None
    for name in ("liblftf.so.%d" % _cdef.VERSION_MAJOR, "liblftf.so"):
        path = os.path.join(libdir, name)
        if os.path.exists(path):
            return path
    return None


def _candidates():
    """(how it was found, path) pairs in lookup order; None paths are skipped."""
    env = os.environ.get("LFTF_LIBRARY")
    if env:
        # An explicit choice is final: never fall back behind the user's back.
        return [("LFTF_LIBRARY", env)]
    found = [("pkg-config", _pkg_config_candidate()),
             ("ctypes.util.find_library", ctypes.util.find_library("lftf"))]
    if os.path.exists(os.path.join(SOURCE_ROOT, "include", "lftf.h")):
        found.append(("source checkout", os.path.join(SOURCE_ROOT, "build", "lib",
                                                      "liblftf.so")))
    return [(how, path) for how, path in found if path]


def _open():
    tried = []
    for how, path in _candidates():
        if how == "source checkout" and not os.path.exists(path):
            tried.append("%s: %s (absent)" % (how, path))
            continue
        try:
            return ffi.dlopen(path), path
        except OSError as exc:
            tried.append("%s: %s (%s)" % (how, path, exc))
            if how == "LFTF_LIBRARY":
                break
    raise ImportError(
        "lftf: cannot load liblftf (tried: %s).  Install the C library (cmake --install) "
        "so that pkg-config or the dynamic loader finds it, or set LFTF_LIBRARY to the "
        "path of liblftf.so." % ("; ".join(tried) or "nothing found"))


lib, LIBRARY_PATH = _open()


def _check_version():
    number = lib.lftf_version_number()
    major, minor = number // 10000, number // 100 % 100
    if major != _cdef.VERSION_MAJOR or minor < _cdef.VERSION_MINOR:
        raise ImportError(
            "lftf: %s is liblftf %s, but these bindings need %d.%d or a later %d.x"
            % (LIBRARY_PATH, ffi.string(lib.lftf_version()).decode(), _cdef.VERSION_MAJOR,
               _cdef.VERSION_MINOR, _cdef.VERSION_MAJOR))


_check_version()


def has_function(name):
    """True if the loaded library exports `name` (ABI mode resolves lazily)."""
    try:
        getattr(lib, name)
    except AttributeError:
        return False
    return True
