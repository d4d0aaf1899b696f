"""examples/pipeline.ipynb runs end to end, so it cannot rot.

With nbclient and ipykernel (Debian python3-nbclient, python3-ipykernel) the
notebook is executed in a real kernel running this interpreter, and its
figures must come out as images; without them its code cells run as one
script.  The kernel gets the same liblftf as these tests (LFTF_LIBRARY)."""

import json
import os
import sys

import pytest

import lftf
from conftest import PKG_PARENT, REPO, requires

NOTEBOOK = os.path.join(REPO, "examples", "pipeline.ipynb")

pytestmark = requires("lftf_model_load", "lftf_evaluate", "lftf_locate", "lftf_trainer_fit",
                      "lftf_trainer_params_preset", "lftf_model_save")


def _load():
    if not os.path.exists(NOTEBOOK):
        pytest.skip("%s absent" % NOTEBOOK)
    with open(NOTEBOOK, encoding="utf-8") as f:
        return json.load(f)


def test_notebook_is_valid_nbformat4():
    nb = _load()
    assert nb["nbformat"] == 4
    try:
        import nbformat
    except ImportError:
        pytest.skip("nbformat not installed")
    nbformat.validate(nbformat.reads(json.dumps(nb), as_version=4))
    # Shipped without outputs (CI produces them).
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


@pytest.fixture
def notebook_env(monkeypatch, stories_dir, tmp_path):
    monkeypatch.setenv("LFTF_LIBRARY", os.path.abspath(lftf.LIBRARY_PATH))
    monkeypatch.setenv("LFTF_MODEL", stories_dir)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the notebook saves its model under tempfile
    monkeypatch.setenv("PYTHONPATH", PKG_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline"
                       if _has("matplotlib_inline") else "Agg")


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _kernel_spec(tmp_path):
    """A kernelspec running this very interpreter (python3 on PATH may be
    another one, without numpy/cffi)."""
    spec = tmp_path / "kernels" / "lftf-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "lftf test", "language": "python"}))
    return str(tmp_path)


def test_notebook_runs(notebook_env, tmp_path, monkeypatch):
    if _has("nbclient") and _has("nbformat") and _has("ipykernel"):
        import nbformat
        from nbclient import NotebookClient

        monkeypatch.setenv("JUPYTER_PATH", _kernel_spec(tmp_path))
        nb = nbformat.read(NOTEBOOK, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="lftf-test",
                                resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
        client.execute()  # raises CellExecutionError with the traceback on failure
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                       for o in c.get("outputs", []))
        assert "AFGB before" in text and "trained blocks" in text and "saved to" in text
        images = sum("image/png" in o.get("data", {}) for c in nb.cells
                     if c.cell_type == "code" for o in c.get("outputs", []))
        if _has("matplotlib_inline") and _has("matplotlib"):
            assert images >= 2, "the BMI and case-study figures were not displayed"
    else:
        _run_as_script(tmp_path, monkeypatch)


def _run_as_script(tmp_path, monkeypatch):
    nb = _load()
    source = "\n\n".join(
        "".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    source = "\n".join(line for line in source.splitlines()
                       if not line.lstrip().startswith(("%", "!")))
    monkeypatch.chdir(os.path.dirname(NOTEBOOK))
    namespace = {"__name__": "__main__"}
    exec(compile(source, NOTEBOOK, "exec"), namespace)
    assert namespace["history"].blocks == namespace["where"].top(1)
