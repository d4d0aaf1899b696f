"""lftf.Tokenizer.

Reference: the ids the original llama2.c implementation gives for the
stories260k prompt (shared/models/stories260k/README.md) and the token
strings named there (281 = "▁he", 358 = "▁she")."""

import numpy as np
import pytest

import lftf
from conftest import requires, shared_path

pytestmark = requires("lftf_tokenizer_load", "lftf_tokenizer_encode")

PROMPT = "Once upon a time, there was a little boy named Tom. One day,"
IDS = [1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 268, 414, 422, 395, 274, 287, 426,
       385, 328, 432]


@pytest.fixture(scope="module")
def tok():
    return lftf.Tokenizer(shared_path("models", "stories260k"))


def test_encode_matches_llama2c(tok):
    ids = tok.encode(PROMPT)
    assert ids.dtype == np.int32
    assert ids.tolist() == IDS
    assert tok.encode(PROMPT, add_special=False).tolist() == IDS[1:]


def test_vocabulary(tok):
    assert tok.vocab_size == len(tok) == 512
    assert tok.bos_id == 1
    assert tok.token(281) == "\u2581he"
    assert tok.token(358) == "\u2581she"
    assert tok.token_id("\u2581he") == 281
    assert tok.token_id("no such token") is None
    assert tok.token(10**6) is None


def test_decode_roundtrip(tok):
    assert tok.decode(IDS, skip_special=True) == PROMPT
    assert tok.decode([]) == ""


def test_invalid_utf8_is_encoding_error(tok):
    with pytest.raises(lftf.EncodingError) as info:
        tok.encode(b"abc\xff")
    assert "3" in str(info.value)  # the byte offset


def test_add_bos_override():
    path = shared_path("models", "stories260k")
    assert lftf.Tokenizer(path, add_bos=False).encode(PROMPT).tolist() == IDS[1:]
    assert lftf.Tokenizer(path, add_bos=True).encode(PROMPT).tolist() == IDS


def test_missing_tokenizer_names_path(tmp_path):
    with pytest.raises(lftf.LftfIOError) as info:
        lftf.Tokenizer(tmp_path / "nothing-here")
    assert "nothing-here" in str(info.value)
