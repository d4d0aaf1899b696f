"""lftf.report_html: the report page from a report's JSON.

Reference: a report made by lftf.evaluate (its own JSON, read with Python's
json) and Python's "%.4f" and html.escape for what the page must show."""

import html
import json

import pytest

import lftf


def test_page_shows_the_reports_numbers(model, tmp_path):
    ds = lftf.load_dataset("genbiaseval").select(split="dev").sample(12, seed=0)
    hint = lftf.load_dataset("genhinteval").sample(8, seed=0)
    rep = json.loads(lftf.evaluate(model, bias=ds, hint=hint, progress=False).to_json())
    page = lftf.report_html({"model": "a <b> & c", "before": rep}, title="T",
                            path=tmp_path / "r.html")
    assert (tmp_path / "r.html").read_text(encoding="utf-8") == page
    assert "<script" not in page
    assert html.escape("a <b> & c", quote=False) in page
    for scale in ("word", "phrase", "sentence", "avg"):
        v = rep["genbiaseval"]["afgb"][scale]
        if v is not None:
            assert ">%.4f<" % v in page
    assert ">%.4f<" % rep["genhinteval"]["ub"] in page


def test_bad_json_is_refused():
    with pytest.raises(lftf.FormatError):
        lftf.report_html('{"before": ')
