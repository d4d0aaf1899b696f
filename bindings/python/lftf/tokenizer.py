"""lftf.Tokenizer: a Hugging Face tokenizer.json read by liblftf."""

import numpy as np

from ._lib import ffi, lib
from ._util import fspath_bytes, from_cstr, new_params, to_bytes
from .errors import check

_ADD_BOS = {None: -1, "auto": -1, False: 0, True: 1, -1: -1, 0: 0, 1: 1}


def _add_bos_value(add_bos):
    try:
        return _ADD_BOS[add_bos]
    except (KeyError, TypeError):
        raise ValueError("add_bos must be None/'auto', True or False, not %r" % (add_bos,))


class Tokenizer:
    """Tokenizer(path, add_bos=None): loads a tokenizer.json or a directory
    holding one (and its tokenizer_config.json).  add_bos None follows the
    tokenizer's files; True/False force it."""

    def __init__(self, path, add_bos=None):
        params = new_params("lftf_tokenizer_params", lib.lftf_tokenizer_params_init)
        params.add_bos = _add_bos_value(add_bos)
        out = ffi.new("lftf_tokenizer **")
        check(lib.lftf_tokenizer_load(out, fspath_bytes(path), params))
        self._ptr = ffi.gc(out[0], lib.lftf_tokenizer_free)
        self._owner = None

    @classmethod
    def _borrowed(cls, ptr, owner):
        """A view of a tokenizer owned by `owner` (a Model), kept alive by it."""
        self = cls.__new__(cls)
        self._ptr = ptr
        self._owner = owner
        return self

    def close(self):
        """Frees the tokenizer now (it is freed anyway when garbage-collected)."""
        if self._owner is None and self._ptr is not None:
            ffi.release(self._ptr)
        self._ptr = None

    def _handle(self):
        if self._ptr is None or (self._owner is not None and self._owner._ptr is None):
            raise ValueError("the tokenizer (or the model owning it) was closed")
        return self._ptr

    def encode(self, text, add_special=True):
        """Token ids of `text` (a numpy int32 array).  add_special applies the
        post-processor (BOS) as the tokenizer's files say."""
        data = to_bytes(text, "text")
        ids = ffi.new("int32_t **")
        n = ffi.new("size_t *")
        check(lib.lftf_tokenizer_encode(self._handle(), data, len(data), int(bool(add_special)),
                                        ids, n))
        try:
            return np.frombuffer(ffi.buffer(ids[0], 4 * n[0]), dtype=np.int32).copy() \
                if n[0] else np.zeros(0, dtype=np.int32)
        finally:
            lib.lftf_free(ids[0])

    def decode(self, ids, skip_special=False):
        """The text of a sequence of token ids."""
        arr = np.ascontiguousarray(ids, dtype=np.int32)
        buf = ffi.from_buffer("int32_t[]", arr) if arr.size else ffi.NULL
        out = ffi.new("char **")
        check(lib.lftf_tokenizer_decode(self._handle(), buf, arr.size, int(bool(skip_special)),
                                        out))
        try:
            return ffi.string(out[0]).decode("utf-8")
        finally:
            lib.lftf_free(out[0])

    def token(self, token_id):
        """The vocabulary string of an id, or None if out of range."""
        if not -2**31 <= int(token_id) < 2**31:
            return None
        return from_cstr(lib.lftf_tokenizer_token(self._handle(), int(token_id)))

    def token_id(self, token):
        """The id of a vocabulary string, or None."""
        i = lib.lftf_tokenizer_token_id(self._handle(), to_bytes(token, "token"))
        return None if i < 0 else int(i)

    @property
    def vocab_size(self):
        return int(lib.lftf_tokenizer_vocab_size(self._handle()))

    def __len__(self):
        return self.vocab_size

    @property
    def bos_id(self):
        """The BOS id the tokenizer adds, or None."""
        i = lib.lftf_tokenizer_bos_id(self._handle())
        return None if i < 0 else int(i)

    def __repr__(self):
        if self._ptr is None:
            return "<lftf.Tokenizer (closed)>"
        return "<lftf.Tokenizer vocab_size=%d>" % self.vocab_size
