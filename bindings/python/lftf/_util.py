"""Small conversions between Python values and the C API's types."""

import os

from ._lib import ffi, lib
from .errors import check


def to_bytes(value, what="string"):
    """str / bytes / os.PathLike -> bytes for a `const char *` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, os.PathLike):
        return os.fsencode(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    raise TypeError("%s must be a str, bytes or path, not %s" % (what, type(value).__name__))


def to_cstr(value, what="string"):
    """A `char[]` owned by the returned cdata (keep it alive for the call), or NULL."""
    b = to_bytes(value, what)
    return ffi.NULL if b is None else ffi.new("char[]", b)


def fspath_bytes(path):
    return os.fsencode(os.fspath(path))


def from_cstr(ptr):
    """A borrowed `const char *` -> str, or None for NULL."""
    if ptr == ffi.NULL:
        return None
    return ffi.string(ptr).decode("utf-8", "replace")


class Handle:
    """Base of the classes that own a C handle (released by ffi.gc, or now by
    close()); subclasses set `_ptr` and `_kind` (used in messages)."""

    _ptr = None
    _kind = "object"

    def close(self):
        """Frees the C object now (it is freed anyway when garbage-collected)."""
        if self._ptr is not None:
            ffi.release(self._ptr)
            self._ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _handle(self):
        if self._ptr is None:
            raise ValueError("the %s was closed" % self._kind)
        return self._ptr


class CStringArray:
    """A `const char *const *` built from a list of str; keeps every buffer alive."""

    def __init__(self, strings, what="strings"):
        if isinstance(strings, (str, bytes)):
            raise TypeError("%s must be a list of strings, not a single string" % what)
        self.buffers = [ffi.new("char[]", to_bytes(s, what)) for s in strings]
        self.array = ffi.new("const char *[]", self.buffers) if self.buffers \
            else ffi.new("const char *[]", 1)
        self.count = len(self.buffers)


def take_string(call, *args):
    """Calls fn(*args, char **out), returns the owned string as str and frees it."""
    out = ffi.new("char **")
    check(call(*args, out))
    try:
        return ffi.string(out[0]).decode("utf-8")
    finally:
        lib.lftf_free(out[0])


def new_params(ctype, init):
    """A zeroed params struct filled by its lftf_*_params_init()."""
    params = ffi.new(ctype + " *")
    check(init(params))
    return params
