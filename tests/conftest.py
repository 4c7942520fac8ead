from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus"
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(scope="session")
def model():
    import postlens

    return postlens.load_model()


@pytest.fixture(scope="session")
def dev_path():
    if not DEV.is_file():
        pytest.skip(f"evaluation set not found at {DEV} (it lives in ../shared/eval/ beside the checkout)")
    return DEV
