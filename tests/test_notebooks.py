"""The committed notebooks: stored outputs that a reader on GitHub can trust.

nbval executes the notebooks (``python -m pytest --nbval-lax --nbval-current-env
notebooks/``); these checks are static and fast: every notebook was run top to
bottom in one go, its outputs are stored, none is an error or a warning, and
no output shows a path that only exists on the machine that ran it.
"""

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = [
    "01_streamers_and_muxes.ipynb",
    "02_mux_statistics.ipynb",
    "03_k_and_lam.ipynb",
    "04_sampling_from_disk.ipynb",
    "05_memory_comparison.ipynb",
]

# Paths that differ from machine to machine: the repository's own location,
# the home folder, and the usual roots of temporary and user folders.
_MACHINE_PATHS = [re.escape(str(NOTEBOOKS_DIR.parent)), re.escape(os.path.expanduser("~")) + "/"]
_MACHINE_PATHS += [r"(?<![\w.])/(?:tmp|home|Users|root|private/var)/", r"\b[A-Za-z]:\\"]
MACHINE_PATH = re.compile("|".join(_MACHINE_PATHS))


def _read(name):
    return nbformat.read(NOTEBOOKS_DIR / name, as_version=4)


def _text_outputs(cell):
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            yield out.text
        elif out.output_type in ("execute_result", "display_data"):
            for mime, data in out.data.items():
                if mime.startswith("text/"):
                    yield data if isinstance(data, str) else "".join(data)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_executed_top_to_bottom_in_one_run(name):
    counts = [c.execution_count for c in _read(name).cells if c.cell_type == "code"]
    assert None not in counts, f"{name}: some code cells were never run; execute the whole notebook"
    assert counts == list(range(1, len(counts) + 1)), f"{name}: cells were run out of order: {counts}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_outputs_stored_without_errors_or_warnings(name):
    nb = _read(name)
    outputs = [out for c in nb.cells if c.cell_type == "code" for out in c.outputs]
    errors = [f"{o.ename}: {o.evalue}" for o in outputs if o.output_type == "error"]
    assert not errors, f"{name}: error outputs stored: {errors}"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{name}: stderr output stored (a warning?): {stderr}"
    images = [o for o in outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.data]
    assert images, f"{name}: no chart stored; execute the notebook before committing it"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_no_machine_specific_paths_in_outputs(name):
    for number, cell in enumerate(_read(name).cells):
        for text in _text_outputs(cell):
            found = MACHINE_PATH.search(text)
            assert found is None, f"{name}, cell {number}: output shows a machine-specific path: {found.group(0)!r}"
