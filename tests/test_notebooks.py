"""Every teaching notebook runs top to bottom in a real kernel (nbclient), offline, on
the local engine, and no cell errors.

Cells tagged ``widget`` need ``realtime_widget.widget`` (the browser widget); until that
module exists they are replaced by a no-op here and the test says so."""

from __future__ import annotations

import importlib.util
import re
import warnings
from pathlib import Path

import nbformat
import pytest
from kernel_testing import kernel_env
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))
WIDGET = importlib.util.find_spec("realtime_widget.widget") is not None


def test_the_teaching_notebooks_are_there_and_clean():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, (
                    f"{path.name}: outputs are not stripped"
                )
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), (
            path.name
        )
        text = "\n".join(c.source for c in nb.cells)
        assert not re.search(r"sk-[A-Za-z0-9_-]{16,}", text), (
            f"{path.name}: something that looks like a key"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    skipped = 0
    for cell in nb.cells:
        if "widget" in cell.get("metadata", {}).get("tags", []) and not WIDGET:
            cell.source = "# (the widget is not available in this build: cell skipped by the test)"
            skipped += 1
    env = kernel_env(tmp_path)
    env.pop("MPLBACKEND")  # the notebook's own inline backend
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute(env=env)  # raises CellExecutionError on the first cell that errors
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
    tracebacks = [
        o.text
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if o.output_type == "stream" and o.name == "stderr" and "Traceback" in o.text
    ]
    assert not tracebacks, tracebacks
    if skipped:
        warnings.warn(
            f"{path.name}: {skipped} widget cell(s) skipped:"
            " realtime_widget.widget is not importable yet",
            stacklevel=2,
        )
