"""A model, profile or saved dataset from anyone is data: refused with a clear error, never a crash
(issue 14 item 10); and writing a model over an existing one is atomic (item 5)."""
import errno
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

import postlens
from postlens import ModelError
from postlens.model import PostClassifier, _write_npz


@pytest.fixture
def model_dir(tmp_path):
    dst = tmp_path / "model"
    shutil.copytree(postlens.default_model_path(), dst)
    return dst


def _arrays(path):
    with np.load(path / "weights.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _edit_meta(path, edit):
    meta = json.loads((path / "model.json").read_text())
    edit(meta)
    (path / "model.json").write_text(json.dumps(meta))


def _write_weights(path, blob):
    """Replace weights.npz with ``blob`` and recompute the checksum, as an attacker would."""
    (path / "weights.npz").write_bytes(blob)
    _edit_meta(path, lambda meta: meta.update(weights_sha256=hashlib.sha256(blob).hexdigest()))


def _tamper(path, edit):
    arrays = _arrays(path)
    edit(arrays)
    _write_weights(path, _write_npz(arrays))


def _set(key, index, value):
    def edit(arrays):
        arrays[key][index] = value
    return edit


def _replace(key, make):
    def edit(arrays):
        arrays[key] = make(arrays[key])
    return edit


COLUMNS = 524340  # the shipped model's coef_shape[1]


@pytest.mark.parametrize("edit, message", [
    (_set("coef_indices", 0, COLUMNS + 7), "coef_indices holds columns outside 0 .. 524339"),
    (_set("coef_indices", -1, -5_000_000), "coef_indices holds columns outside"),
    (_replace("coef_indices", lambda a: a[:-1]), "coef_indices has 782655 entries but coef_data 782656"),
    (_replace("coef_indices", lambda a: a.astype(np.float32)), "coef_indices holds float32 .* expected integers"),
    (_replace("coef_indices", lambda a: a.astype(np.uint64) + np.uint64(2**63)), "coef_indices holds columns outside"),
    (_set("coef_indptr", 2, 10**9), "coef_indptr must rise from 0 to 782656"),
    (_replace("coef_indptr", lambda a: a[::-1].copy()), "coef_indptr must rise"),
    (_set("coef_indptr", 0, 5), "coef_indptr must rise"),
    (_replace("coef_indptr", lambda a: a[:-1]), r"coef_indptr holds int64 of shape \(5,\), expected integers of shape \(6,\)"),
    (_replace("coef_data", lambda a: a.astype(np.float64)), "coef_data holds float64 .* expected float32"),
    (_replace("coef_data", lambda a: a.astype(np.int32)), "coef_data holds int32"),
    (_set("coef_data", 3, np.nan), "coef_data holds NaN or infinite values"),
    (_set("intercept", 0, np.inf), "intercept holds NaN or infinite values"),
    (_replace("intercept", lambda a: a[:3]), r"intercept holds float32 of shape \(3,\), expected float32 of shape \(5,\)"),
    (_set("char_idf", 10, -np.inf), "char_idf holds NaN or infinite values"),
    (_replace("word_idf", lambda a: a[:100]), "word_idf holds float32 of shape"),
    (_replace("coef_data", lambda a: a.reshape(2, -1)), "coef_data holds float32 of shape"),
    (lambda arrays: arrays.update(extra=np.zeros(3)), "holds .*extra.npy.*, not the arrays"),
    (lambda arrays: arrays.pop("intercept"), "not the arrays"),
])
def test_arrays_that_do_not_fit_coef_shape_are_refused(model_dir, edit, message):
    _tamper(model_dir, edit)
    with pytest.raises(ModelError, match=message) as info:
        PostClassifier.load(model_dir)
    assert str(model_dir / "weights.npz") in str(info.value) and "retrain" in str(info.value)


def test_out_of_range_weights_do_not_crash_the_process(model_dir):
    """Reported: a negative coef_indices value segfaulted `postlens score` (exit 139) in scipy's toarray."""
    _tamper(model_dir, _set("coef_indices", 0, -5_000_000))
    run = subprocess.run([sys.executable, "-m", "postlens.cli", "score", "限时5折抢购", "--model", str(model_dir)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert "coef_indices holds columns outside" in run.stderr and "Traceback" not in run.stderr


def _npy(header: dict, body: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue() + body


def _npz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)
    return buf.getvalue()


def _with_member(path, name, npy):
    members = {}
    for key, arr in _arrays(path).items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr)
        members[key] = buf.getvalue()
    members[name] = npy
    _write_weights(path, _npz(members))


def test_declared_array_sizes_are_checked_before_anything_is_allocated(model_dir):
    """Reported: a 7 MB npz declaring a 14.9 GiB array cost 3.3 GB of memory. Here a few bytes declare 2 GiB."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (2**29,)}
    _with_member(model_dir, "coef_data", _npy(header, b"\0" * 64))
    tracemalloc.start()
    try:
        with pytest.raises(ModelError) as info:
            PostClassifier.load(model_dir)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 200 * 2**20
    assert "coef_data holds float32 of shape (536870912,), expected float32 of shape (at most 2621700,)" in str(info.value)


def test_an_array_larger_than_its_compressed_size_can_hold_is_refused(model_dir):
    header = {"descr": "<f4", "fortran_order": False, "shape": (782656,)}  # fits coef_shape, but no data
    _with_member(model_dir, "coef_data", _npy(header, b"\0" * 64))
    with pytest.raises(ModelError, match=r"coef_data declares 3130624 bytes in \d+ compressed bytes"):
        PostClassifier.load(model_dir)


def test_a_weights_file_that_is_not_an_npz_is_refused(model_dir):
    _write_weights(model_dir, b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(ModelError, match="weights.npz: not a readable numpy .npz archive"):
        PostClassifier.load(model_dir)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.update(params=None), "'params' must be a JSON object, got null"),
    (lambda m: m.update(features=None), "'features' must be a JSON object, got null"),
    (lambda m: m["params"].update(uncertain_below="half"), "uncertain_below' must be a number"),
    (lambda m: m["params"].update(bogus=1), "settings are incomplete or inconsistent"),
    (lambda m: m.update(temperature=0), "'temperature' must be a positive number, got 0"),
    (lambda m: m.update(temperature=-1.5), "'temperature' must be a positive number, got -1.5"),
    (lambda m: m.update(temperature=float("nan")), "'temperature' must be a positive number, got nan"),
    (lambda m: m.update(temperature=float("inf")), "'temperature' must be a positive number"),
    (lambda m: m.update(temperature="1.0"), "'temperature' must be a positive number"),
    (lambda m: m.update(temperature=True), "'temperature' must be a positive number"),
    (lambda m: m.update(labels=["community", "community", "hard_ad", "service", "user_interest"]),
     "label names repeat: community"),
    (lambda m: m.update(labels=list(reversed(m["labels"]))), "'labels' are not in sorted order"),
    (lambda m: m.update(labels=[1, 2, 3, 4, 5]), "'labels' must be a list of at least two label names"),
    (lambda m: m.update(labels="hard_ad"), "'labels' must be a list"),
    (lambda m: m.update(coef_shape=[5, 2**40]), r"'coef_shape' \[5, 1099511627776\] is not \(5 labels, columns\)"),
    (lambda m: m.update(coef_shape=[5]), "'coef_shape'"),
    (lambda m: m.update(coef_shape=[4, 524340]), "'coef_shape'"),
    (lambda m: m["features"].update(n_features=2**17), r"char_idf has shape \(262144,\), expected \(131072,\)"),
    (lambda m: m["features"].update(n_features=262144.0), "n_features must be a whole number"),
    (lambda m: m["features"].update(char_ngrams=[1, 10**6]), "char_ngrams must be two whole numbers"),
    (lambda m: m["features"].update(word_ngrams=[0, 2]), "word_ngrams must be two whole numbers"),
    (lambda m: m["features"].update(word_ngrams=5), "word_ngrams must be two whole numbers"),
    (lambda m: m["features"].update(cue_weight=float("nan")), "cue_weight must be a number"),
    (lambda m: m["features"].update(char_weight="1"), "char_weight must be a number"),
])
def test_settings_that_would_break_scoring_are_refused(model_dir, edit, message):
    _edit_meta(model_dir, edit)
    with pytest.raises(ModelError, match=message) as info:
        PostClassifier.load(model_dir)
    assert str(model_dir / "model.json") in str(info.value)


def test_deeply_nested_model_json_is_refused(model_dir):
    meta = (model_dir / "model.json").read_text()
    (model_dir / "model.json").write_text(meta.rstrip()[:-1] + ', "notes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ModelError, match="model.json: JSON nested too deeply"):
        PostClassifier.load(model_dir)


def test_model_json_over_the_size_cap_is_refused_before_parsing(model_dir):
    _edit_meta(model_dir, lambda m: m.update(notes="x" * 2**20))
    with pytest.raises(ModelError, match="model.json: larger than the 1 MiB a model's metadata can be"):
        PostClassifier.load(model_dir)


def test_a_symlink_loop_as_model_directory_is_a_clear_error(tmp_path):
    loop = tmp_path / "loopdir"
    loop.symlink_to(loop)
    with pytest.raises(ModelError, match="loopdir: cannot open the model directory .*symbolic links"):
        PostClassifier.load(loop)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "postlens.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_label_with_a_symlink_loop_model_is_a_clear_error(tmp_path):
    (tmp_path / "loopdir").symlink_to("loopdir")
    (tmp_path / "in.csv").write_text("id,text\n1,限时5折抢购\n")
    run = _cli("label", "in.csv", "-o", "out.csv", "--model", "loopdir", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "loopdir: cannot open the model directory" in run.stderr


@pytest.mark.parametrize("content, reason", [
    ("{not json", "JSONDecodeError"),
    ("[]", "AttributeError"),
    ('{"features": 5}', "TypeError"),
    ('{"features": {"text": {"_type": "NoSuchFeature"}}}', "NoSuchFeature"),
    ("[" * 100_000 + "]" * 100_000, "RecursionError"),
])
def test_a_bad_dataset_info_json_names_the_file(tmp_path, content, reason):
    datasets = pytest.importorskip("datasets")
    from postlens.archive import ArchiveError, open_archive

    path = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": ["a post", "another"]}).save_to_disk(str(path))
    (path / "dataset_info.json").write_text(content)
    with pytest.raises(ArchiveError, match=f"dataset_info.json: not a valid dataset description .*{reason}"):
        open_archive(path)


def test_a_deeply_nested_toml_profile_is_a_profile_error(tmp_path):
    from postlens.guidelines import ProfileError, load_profile

    for value in ("[" * 5000 + "]" * 5000, "{a = " * 5000 + "1" + "}" * 5000):
        (tmp_path / "deep.toml").write_text(f"values = {value}\n")
        with pytest.raises(ProfileError, match="deep.toml: not a valid TOML file .*nested too deeply"):
            load_profile(tmp_path / "deep.toml")


# ---- item 5: writing a model is atomic ------------------------------------------------------------
_SAVE_UNDER_LIMIT = textwrap.dedent("""
    import resource, signal, sys
    from postlens.model import PostClassifier
    model = PostClassifier.load(sys.argv[1])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, like a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
    try:
        model.save(sys.argv[2])
    except OSError as exc:
        print(exc.errno)
        sys.exit(3)
""")


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_a_failed_save_leaves_the_existing_model_whole(model_dir, tmp_path):
    """Reported: disk full while `train --out EXISTING_MODEL` saved truncated weights.npz in place."""
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    run = subprocess.run([sys.executable, "-c", _SAVE_UNDER_LIMIT, str(postlens.default_model_path()), str(model_dir)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 3 and run.stdout.strip() == str(errno.EFBIG), run.stderr
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing left beside it
    PostClassifier.load(model_dir)


@pytest.mark.parametrize("failing", ["weights.npz", "model.json"])
def test_disk_full_while_writing_either_file_leaves_the_model(model, model_dir, tmp_path, monkeypatch, failing):
    from postlens import model as model_module

    write = model_module._write_file

    def full_disk(path, data):
        if path.name == failing:
            write(path, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write(path, data)

    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    monkeypatch.setattr(model_module, "_write_file", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model.save(model_dir)
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_saving_over_a_model_swaps_in_the_same_bytes(model, model_dir, tmp_path):
    fresh = tmp_path / "a" / "b" / "fresh"
    model.save(fresh, metadata=model.metadata_)
    (model_dir / "weights.npz").write_bytes(b"an older model")
    model.save(model_dir, metadata=model.metadata_)
    for name in ("model.json", "weights.npz"):
        assert (model_dir / name).read_bytes() == (fresh / name).read_bytes()
        assert (model_dir / name).read_bytes() == (postlens.default_model_path() / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "model"]


def test_saving_into_a_directory_with_other_files_keeps_them(model, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "weights.npz").write_bytes(b"an older model")
    model.save(tmp_path, metadata=model.metadata_)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "notes.txt", "weights.npz"]
    assert (tmp_path / "weights.npz").read_bytes() == (postlens.default_model_path() / "weights.npz").read_bytes()
    PostClassifier.load(tmp_path)


def test_saving_into_the_working_directory_does_not_swap_it_away(model, model_dir, monkeypatch):
    monkeypatch.chdir(model_dir)
    model.save(".", metadata=model.metadata_)
    assert Path.cwd().exists() and os.path.samefile(Path.cwd(), model_dir)
    assert sorted(p.name for p in model_dir.iterdir()) == ["model.json", "weights.npz"]
    PostClassifier.load(".")


# ---- taught.npz: the teacher's probabilities an adapted model keeps (issue 13) ----------------

def _taught_model(model_dir, docs=("限时特价，点击购买", "how do I reset my password?")):
    model = postlens.load_model(model_dir)
    proba = np.full((len(docs), len(model.classes_)), 1 / len(model.classes_), dtype=np.float32)
    proba[:, 0] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    model.remember_taught(list(docs), proba)
    model.save(model_dir)
    return list(docs), proba


def _taught_arrays(path):
    with np.load(path / "taught.npz", allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _write_taught(path, arrays):
    blob = _write_npz(arrays)
    (path / "taught.npz").write_bytes(blob)
    _edit_meta(path, lambda meta: meta["taught"].update(sha256=hashlib.sha256(blob).hexdigest()))


def test_a_taught_model_gives_its_teachers_probabilities_back(model_dir):
    docs, proba = _taught_model(model_dir)
    model = postlens.load_model(model_dir)
    assert "keys" not in (model_dir / "model.json").read_text() and docs[0] not in (model_dir / "model.json").read_text()
    got = model.predict_proba_normalized(docs + ["an unseen post about our quarterly results"])
    assert np.allclose(got[:2], proba) and not np.allclose(got[2], proba[0])
    refit = PostClassifier().fit(["a", "b", "c", "d"] * 3, ["x", "y"] * 6)
    assert refit.taught_ is None  # a fit forgets what an earlier one was taught


@pytest.mark.parametrize("edit, message", [
    (lambda a: a.update(keys=a["keys"][::-1].copy()), "not in order"),
    (lambda a: a["proba"].__setitem__((0, 0), np.nan), "not distributions"),
    (lambda a: a.update(proba=a["proba"][:, :2].copy()), "expected float32"),
    (lambda a: a.update(keys=a["keys"].astype(np.int64)), "expected uint64"),
    (lambda a: a.update(extra=a["keys"]), "expected keys and proba"),
])
def test_crafted_taught_files_are_refused(model_dir, edit, message):
    _taught_model(model_dir)
    arrays = _taught_arrays(model_dir)
    edit(arrays)
    _write_taught(model_dir, arrays)
    with pytest.raises(ModelError, match=message):
        postlens.load_model(model_dir)


def test_a_missing_or_tampered_taught_file_is_refused(model_dir):
    _taught_model(model_dir)
    blob = bytearray((model_dir / "taught.npz").read_bytes())
    blob[-30] ^= 1
    (model_dir / "taught.npz").write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="taught.npz: checksum"):
        postlens.load_model(model_dir)
    (model_dir / "taught.npz").unlink()
    with pytest.raises(ModelError, match="taught.npz: missing"):
        postlens.load_model(model_dir)
    _edit_meta(model_dir, lambda meta: meta["taught"].update(posts=10**9))
    with pytest.raises(ModelError, match="how many posts"):
        postlens.load_model(model_dir)
