"""Typed exceptions for liblftf's status codes.

Every non-zero status a C call returns becomes an instance of LftfError (or
of the subclass for that status) whose message is lftf_last_error(), read
right after the failing call on the same thread.  Subclasses also derive
from the closest built-in exception, so `except OSError` or
`except ValueError` work as Python users expect.
"""

from ._lib import ffi, lib


class LftfError(Exception):
    """A liblftf call failed.  `.status` is the C status code, `.message`
    liblftf's message (naming the file, tensor, field or line at fault)."""

    status = None

    def __init__(self, message, status=None):
        if status is not None:
            self.status = status
        self.message = message
        super().__init__(message)

    @property
    def status_name(self):
        """e.g. "LFTF_E_IO"."""
        if self.status is None:
            return None
        return ffi.string(lib.lftf_status_str(self.status)).decode().split(":")[0]

    def __str__(self):
        return self.message


class InvalidArgument(LftfError, ValueError):
    """LFTF_E_INVALID_ARG: a bad option value or argument."""
    status = -1


class NoMemoryError(LftfError, MemoryError):
    """LFTF_E_NOMEM: a host allocation failed."""
    status = -2


class LftfIOError(LftfError, OSError):
    """LFTF_E_IO: a file or directory is missing, unreadable or unwritable."""
    status = -3

    def __init__(self, message, status=None):
        # OSError's own constructor would reinterpret the arguments.
        LftfError.__init__(self, message, status)

    def __str__(self):
        return self.message


class FormatError(LftfError, ValueError):
    """LFTF_E_FORMAT: malformed file content (JSON, JSONL, safetensors)."""
    status = -4


class UnsupportedError(LftfError, NotImplementedError):
    """LFTF_E_UNSUPPORTED: unknown architecture, dtype, tokenizer part, device."""
    status = -5


class NotFoundError(LftfError, LookupError):
    """LFTF_E_NOT_FOUND: a required tensor, field, token or dataset is missing."""
    status = -6


class RangeError(LftfError, IndexError):
    """LFTF_E_RANGE: an index out of range, a prompt longer than the model allows."""
    status = -7


class TorchError(LftfError, RuntimeError):
    """LFTF_E_TORCH: libtorch reported an error."""
    status = -8


class DeviceError(LftfError, RuntimeError):
    """LFTF_E_DEVICE: device unavailable or out of device memory."""
    status = -9


class Aborted(LftfError):
    """LFTF_E_ABORTED: a progress callback asked to stop.  (Ctrl-C raises
    KeyboardInterrupt instead, after the C operation has been undone.)"""
    status = -10


class NumericError(LftfError, ArithmeticError):
    """LFTF_E_NUMERIC: a NaN or infinite value, e.g. a training loss."""
    status = -11


class ExistsError(LftfError, FileExistsError):
    """LFTF_E_EXISTS: the output exists, is not empty, or equals the input."""
    status = -12

    def __init__(self, message, status=None):
        LftfError.__init__(self, message, status)

    def __str__(self):
        return self.message


class EncodingError(LftfError, ValueError):
    """LFTF_E_ENCODING: invalid UTF-8 in text."""
    status = -13


class EmptyError(LftfError, ValueError):
    """LFTF_E_EMPTY: an empty dataset or selection."""
    status = -14


# Aliases with the Error suffix for those who prefer it.
InvalidArgumentError = InvalidArgument
AbortedError = Aborted

_BY_STATUS = {cls.status: cls for cls in (
    InvalidArgument, NoMemoryError, LftfIOError, FormatError, UnsupportedError,
    NotFoundError, RangeError, TorchError, DeviceError, Aborted, NumericError,
    ExistsError, EncodingError, EmptyError)}


def error_for(status, message=None):
    """The exception for a status; message defaults to lftf_last_error()."""
    if message is None:
        message = ffi.string(lib.lftf_last_error()).decode("utf-8", "replace")
    if not message:
        message = ffi.string(lib.lftf_status_str(status)).decode()
    cls = _BY_STATUS.get(status, LftfError)
    return cls(message, status)


def check(status):
    """Raises the typed exception for a non-zero status (reads the message at once)."""
    if status != 0:
        raise error_for(status)
    return status
