"""lftf: Python bindings of liblftf (Locating First and Then Fine-Tuning).

    import lftf
    model = lftf.Model("stories260k")
    before = lftf.evaluate(model)
    where = lftf.locate(model)
    history = lftf.finetune(model, blocks=where, preset="tiny")
    after = lftf.evaluate(model)

The C library does the work; this package declares its API with cffi (ABI
mode: nothing to compile) and finds liblftf through $LFTF_LIBRARY,
pkg-config, the dynamic loader, or a source checkout's build/lib.
"""

from . import _cdef
from ._lib import LIBRARY_PATH, ffi, lib
from .dataset import Dataset, load_dataset
from .errors import (Aborted, AbortedError, DeviceError, EmptyError, EncodingError, ExistsError,
                     FormatError, InvalidArgument, InvalidArgumentError, LftfError, LftfIOError,
                     NoMemoryError, NotFoundError, NumericError, RangeError, TorchError,
                     UnsupportedError)
from .evaluate import Report, afgb, evaluate, merge_shards, report_html, ub
from .finetune import PRESETS, History, Trainer, finetune
from .sweep import Sweep, fit_select, sweep
# weight-editing baselines (DAMA; ROME, R-ROME, MEMIT)
from .editors import EditResult, dama, edit, genbiaseval_requests
from .locate import LocateResult, locate, locate_robustness
from .model import Model, apply_delta, convert, inspect, parse_size
from .tokenizer import Tokenizer
# bias suites (WinoBias, CrowS-Pairs, Winogender, professions regression)
from . import bias
# general-ability benchmarks (lftf.general.mmlu / mc / ppl)
from . import general

__version__ = "%d.%d.%d" % (_cdef.VERSION_MAJOR, _cdef.VERSION_MINOR, _cdef.VERSION_PATCH)


def library_version():
    """The loaded liblftf's version string, e.g. "0.1.0"."""
    return ffi.string(lib.lftf_version()).decode()


def status_str(status):
    """liblftf's name of a status code, e.g. "LFTF_E_IO: input/output error"."""
    return ffi.string(lib.lftf_status_str(int(status))).decode()


def cuda_available():
    """True if this liblftf build can use a CUDA device."""
    return bool(lib.lftf_cuda_available())


def set_num_threads(n):
    """CPU threads (process-global).  With OpenBLAS's own pthreads (Debian):
    at most n BLAS threads per matrix product (n <= 0: OpenBLAS's default) and
    one libtorch intra-op thread, so the two thread pools never compete for the
    cores (they did: 2.4x slower); with MKL, n libtorch intra-op threads.
    Without a call the package leaves the process's settings alone."""
    from .errors import check
    ret = lib.lftf_set_num_threads(int(n))
    if ret < 0:
        check(ret)
    return ret


_LOG_LEVELS = {"debug": 0, "info": 1, "warn": 2, "warning": 2, "error": 3, "none": 4}


def set_log_level(level):
    """Minimum level of liblftf's log messages on stderr: debug, info, warn, error, none."""
    lib.lftf_set_log_level(_LOG_LEVELS[level.lower()] if isinstance(level, str) else int(level))


__all__ = [
    "Model", "Tokenizer", "Dataset", "Report", "LocateResult", "Trainer", "History",
    "load_dataset", "evaluate", "locate", "locate_robustness", "finetune", "apply_delta", "convert",
    "sweep", "Sweep", "fit_select",
    "afgb", "ub", "PRESETS", "inspect", "parse_size", "merge_shards", "report_html",
    "dama", "edit", "EditResult", "genbiaseval_requests",
    "library_version", "status_str", "cuda_available", "set_num_threads", "set_log_level",
    "LIBRARY_PATH",
    "bias",
    "LftfError", "InvalidArgument", "InvalidArgumentError", "NoMemoryError", "LftfIOError",
    "FormatError", "UnsupportedError", "NotFoundError", "RangeError", "TorchError",
    "DeviceError", "Aborted", "AbortedError", "NumericError", "ExistsError", "EncodingError",
    "EmptyError",
]
