"""notebooks/quickstart.ipynb runs top to bottom (in a copy, so nothing is written into the checkout)."""
import shutil

import nbclient
import nbformat

from .conftest import ROOT


def test_quickstart_notebook_runs(tmp_path):
    for name in ("quickstart.ipynb", "sample_posts.csv", "inhouse_labels.csv"):
        shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    nb = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "hard_ad" in outputs and "accounts, best score first" in outputs and "cross-validation" in outputs
    assert (tmp_path / "report.html").stat().st_size > 10_000
    assert (tmp_path / "my_model" / "model.json").is_file()
