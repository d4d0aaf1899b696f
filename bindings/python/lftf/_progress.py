"""Bridges liblftf's progress callback to Python: progress bars and Ctrl-C.

Each long C call gets a `Progress` context: it makes an lftf_progress_fn with
ffi.callback (ABI mode has no def_extern), keeps it alive for the call, and
never lets a Python exception cross into C: a KeyboardInterrupt (the SIGINT
handler runs inside the callback, since that is where Python code executes
during the C call) or an error in a user callback makes the callback return
1, the C operation stops with LFTF_E_ABORTED and undoes its work, and the
exception is raised again once the C call has returned.

Display: tqdm (tqdm.auto, so notebooks get widgets) when installed, else a
plain text line on stderr, redrawn with '\\r' in terminals and notebooks and
printed once per finished stage elsewhere (CI logs).
"""

import sys
import time

from ._lib import ffi
from .errors import error_for

try:  # optional dependency
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the machine
    _tqdm = None


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _TqdmDisplay:
    def __init__(self):
        self.bars = {}

    def update(self, stage, done, total):
        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = _tqdm(total=total or None, desc=stage, leave=True)
        if total and bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()
        if total and done >= total:
            bar.close()
            del self.bars[stage]

    def close(self):
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()


class _TextDisplay:
    """One line per stage: "train: 12/40 (30%)"."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.live = _in_notebook() or getattr(self.stream, "isatty", lambda: False)()
        self.stage = None
        self.last = None
        self.last_draw = 0.0

    @staticmethod
    def _line(stage, done, total):
        if total:
            return "%s: %d/%d (%d%%)" % (stage, done, total, 100 * done // total)
        return "%s: %d" % (stage, done)

    def update(self, stage, done, total):
        finished = bool(total) and done >= total
        if stage != self.stage:
            self._end_line()
            self.stage = stage
        self.last = (stage, done, total)
        now = time.monotonic()
        if self.live and (finished or now - self.last_draw >= 0.1):
            self.stream.write("\r" + self._line(stage, done, total))
            self.stream.flush()
            self.last_draw = now
        if finished:
            self._end_line()

    def _end_line(self):
        if self.stage is None:
            return
        if self.live:
            self.stream.write("\n")
        elif self.last is not None:
            self.stream.write(self._line(*self.last) + "\n")
        self.stream.flush()
        self.stage = None
        self.last = None

    def close(self):
        self._end_line()


def _make_display(progress):
    if progress is True:
        return _TqdmDisplay() if _tqdm is not None else _TextDisplay()
    if progress == "text":
        return _TextDisplay()
    return None


class Progress:
    """Context for one C call.  `progress` is True (a bar), "text" (the plain
    text line even with tqdm installed), False/None (no display), or a callable
    fn(stage, done, total) that may return True to abort the operation.

    Use:  with Progress(progress) as p: p.check(lib.lftf_x(..., p.fn, p.user))
    """

    def __init__(self, progress=True):
        self.user_fn = progress if callable(progress) else None
        self.display = None if self.user_fn else _make_display(progress)
        self.exc = None
        # error=1 and onerror: even an exception raised before the callback
        # body's try block (a signal arriving at the first bytecode) aborts.
        self.fn = ffi.callback("lftf_progress_fn", self._callback, error=1,
                               onerror=self._onerror)
        self.user = ffi.NULL

    def _callback(self, stage, done, total, user):
        if self.exc is not None:
            return 1
        try:
            name = ffi.string(stage).decode("utf-8", "replace") if stage else ""
            if self.display is not None:
                self.display.update(name, done, total)
            if self.user_fn is not None and self.user_fn(name, done, total):
                return 1
            return 0
        except BaseException as exc:  # noqa: B036 - must never reach C
            self.exc = exc
            return 1

    def _onerror(self, exc_type, exc_value, tb):
        if self.exc is None and exc_value is not None:
            self.exc = exc_value
        return 1

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.display is not None:
            try:
                self.display.close()
            except Exception:
                pass
        return False

    def check(self, status):
        """After the C call: re-raise what the callback caught, else the
        typed error for a non-zero status."""
        if status != 0:
            # Read the C message first: nothing else may run on this thread
            # before it (the callback's exception is raised with it chained).
            err = error_for(status)
        if self.exc is not None:
            exc, self.exc = self.exc, None
            if status != 0:
                raise exc from err
            raise exc
        if status != 0:
            raise err
        return status
