"""NAS-RobBench-201's published layout read into a benchmark file, on files written in that exact layout.

The authors publish ``meta.json`` (the robustness dataset's, unchanged) and ``NAS-RobBench-201_all.json``
nested ``{dataset: {uid: {metric: {"1": value, "threeseed": value}}}}`` with ``uid`` a representative's
NAS-Bench-201 id as a string, metrics named ``val_acc`` / ``val_<attack>_<eps * 255>_acc``, accuracies as
float32 fractions written as JSON doubles, and ``autoattack`` a bare number per uid.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import robnas.bench
from robnas.bench.kendall import kendall_tau
from robnas.bench.measurements import clean
from robnas.bench.nas_robbench import ALL_FILE, import_nas_robbench
from robnas.bench.noise import noise_ceiling, source
from robnas.errors import DataError, InvalidValueError
from robnas.spaces.nb201 import arch_str, representative, unique_key
from tests.bench.layout_files import representative_ids, write_meta

REPS = representative_ids(10, seed=3)
DATASETS = ("cifar10", "cifar100")
VAL = ("val_acc", "val_fgsm_3.0_acc", "val_fgsm_8.0_acc", "val_pgd_3.0_acc", "val_pgd_8.0_acc")
TEST = ("test_acc", "test_fgsm_8.0_acc", "test_pgd_8.0_acc")
Runs = dict[tuple[str, int, str], list[float]]


def published(runs: list[float]) -> dict[str, Any]:
    """As published: seed 1's run and the mean over the three seeds."""
    return {"1": runs[0], "threeseed": float(np.mean(runs))}


def per_seed(runs: list[float]) -> dict[str, Any]:
    return {"1": runs[0], "2": runs[1], "3": runs[2], "threeseed": float(np.mean(runs))}


def listed(runs: list[float]) -> dict[str, Any]:
    return {"threeseed": list(runs)}


def write_robbench(root: Path, record: Callable[[list[float]], Any] = published, datasets=DATASETS,
                   metrics=VAL, autoattack: bool = True, seed: int = 0) -> Runs:
    """``root`` in the published layout; returns the three runs behind every (dataset, uid, metric)."""
    rng = random.Random(seed)
    write_meta(root, REPS)
    runs: Runs = {}
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for dataset in datasets:
        for uid in REPS:
            entry = table.setdefault(dataset, {}).setdefault(str(uid), {})
            for metric in metrics:
                # float32 accuracies as torchmetrics logs them (0.6729999780654907), written as doubles
                runs[(dataset, uid, metric)] = [float(np.float32(rng.uniform(0.05, 0.9))) for _ in range(3)]
                entry[metric] = record(runs[(dataset, uid, metric)])
            if autoattack:
                runs[(dataset, uid, "autoattack")] = [float(np.float32(rng.uniform(0.0, 0.4)))]
                entry["autoattack"] = runs[(dataset, uid, "autoattack")][0]
    (root / ALL_FILE).write_text(json.dumps(table))
    return runs


def edit(root: Path, change: Callable[[dict], None]) -> None:
    table = json.loads((root / ALL_FILE).read_text())
    change(table)
    (root / ALL_FILE).write_text(json.dumps(table))


def expected(runs: Runs, dataset: str, metric: str, reduce: Callable[[list[float]], float]) -> np.ndarray:
    return np.array([reduce(runs[(dataset, uid, metric)]) for uid in REPS])


def mean(values: list[float]) -> float:
    return float(np.mean(values))


def test_the_published_layout_imports_the_three_seed_mean_of_the_chosen_dataset(tmp_path):
    root = tmp_path / "robbench"
    runs = write_robbench(root)
    out = import_nas_robbench(root, tmp_path / "c100.sqlite", dataset="cifar100")
    with robnas.bench.open(out) as b:
        assert (b.space, b.dataset, b.meta["layout"], b.meta["replicates"], b.replicates) == \
            ("nb201", "cifar100", "nas-robbench-201", 1, [0])
        assert b.meta["axes"] == {
            "clean": {"kind": "clean", "axis": []},
            "fgsm@Linf": {"kind": "attack", "axis": ["3/255", "8/255"], "norm": "Linf"},
            "pgd@Linf": {"kind": "attack", "axis": ["3/255", "8/255"], "norm": "Linf"},
            "autoattack@Linf": {"kind": "attack", "axis": ["8/255"], "norm": "Linf"}}
        described = b.meta["nas_robbench"]
        assert described["split"] == "val" and described["seeds"]["mode"] == "mean"
        assert described["left_out"] == [] and "autoattack" in described["assumed"][0]
        # one architecture per uid, named by its representative's id, arch string and canonical key
        assert list(b.ids()) == REPS and b.archs() == [arch_str(r) for r in REPS]
        assert b.keys() == [unique_key(arch_str(r)) for r in REPS]
        np.testing.assert_array_equal(b.query("clean"), expected(runs, "cifar100", "val_acc", mean))
        for attack, metric in (("fgsm", "val_fgsm_3.0_acc"), ("pgd", "val_pgd_8.0_acc")):
            eps = metric.split("_")[2].removesuffix(".0") + "/255"
            np.testing.assert_array_equal(b.query(f"{attack}@Linf", eps=eps), expected(runs, "cifar100", metric, mean))
        np.testing.assert_array_equal(b.query("pgd@Linf")[:, 0], expected(runs, "cifar100", "val_pgd_3.0_acc", mean))
        np.testing.assert_array_equal(b.query("autoattack@Linf", eps="8/255"),
                                      expected(runs, "cifar100", "autoattack", lambda v: v[0]))
        assert np.all((b.query("clean") >= 0) & (b.query("clean") <= 1))
        # any member of a class finds its representative's row
        member = next(i for i in range(15625) if representative(i) in REPS and representative(i) != i)
        assert b.lookup(member) == b.lookup(representative(member))
        assert b.record(REPS[4])["info"] == {"source": "nas-robbench-201", "uid": REPS[4],
                                                              "seed": "threeseed"}
        with pytest.raises(InvalidValueError, match="two replicates"):
            noise_ceiling(source(b, clean(b)))
    one = import_nas_robbench(root, tmp_path / "seed1.sqlite", dataset="cifar10", seeds="1")
    with robnas.bench.open(one) as b:
        np.testing.assert_array_equal(b.query("clean"), expected(runs, "cifar10", "val_acc", lambda v: v[0]))
        assert list(b.column("seed")) == [1] * len(REPS) and b.meta["nas_robbench"]["seeds"]["mode"] == "seed"


@pytest.mark.parametrize("record", [per_seed, listed], ids=["seed keys", "threeseed list"])
def test_per_seed_values_become_replicates_with_a_noise_ceiling(tmp_path, record):
    root = tmp_path / "robbench"
    runs = write_robbench(root, record, datasets=("cifar10",))
    out = import_nas_robbench(root, tmp_path / "b.sqlite")
    with robnas.bench.open(out) as b:
        assert b.replicates == [0, 1, 2] and b.meta["replicates"] == 3
        described = b.meta["nas_robbench"]
        assert described["seeds"]["mode"] == "replicates" and described["left_out"] == ["autoattack"]
        assert "autoattack@Linf" not in b.result_keys()  # a bare number has no seed among the replicates
        stacked = b.replicate_values("fgsm@Linf", eps="8/255")
        for r in range(3):
            np.testing.assert_array_equal(b.replicate_values("clean")[r],
                                          expected(runs, "cifar10", "val_acc", lambda v, r=r: v[r]))
            np.testing.assert_array_equal(stacked[r],
                                          expected(runs, "cifar10", "val_fgsm_8.0_acc", lambda v, r=r: v[r]))
        np.testing.assert_allclose(b.query("pgd@Linf", eps="3/255"), expected(runs, "cifar10", "val_pgd_3.0_acc", mean))
        seeds = [1, 2, 3] if record is per_seed else [None, None, None]
        assert [run["seed"] for run in b.record(REPS[0])["replicates"]] == seeds
        ceiling = noise_ceiling(source(b, clean(b)))
        reps = b.replicate_values("clean")
        assert ceiling.pairs == len(REPS) and math.isfinite(ceiling.tau)
        assert ceiling.tau == pytest.approx(kendall_tau(reps[0], reps[1]))
    averaged = import_nas_robbench(root, tmp_path / "mean.sqlite", seeds="mean")
    with robnas.bench.open(averaged) as b:
        assert b.replicates == [0] and "autoattack@Linf" in b.result_keys()
        np.testing.assert_allclose(b.query("clean"), expected(runs, "cifar10", "val_acc", mean))


def test_the_split_is_chosen_test_when_present_else_val(tmp_path):
    root = tmp_path / "robbench"
    runs = write_robbench(root, datasets=("cifar10",), metrics=VAL + TEST)
    default = import_nas_robbench(root, tmp_path / "test.sqlite")
    with robnas.bench.open(default) as b:
        assert b.meta["nas_robbench"]["split"] == "test"
        assert b.axis("fgsm@Linf") == ["8/255"] and "autoattack@Linf" not in b.result_keys()
        np.testing.assert_array_equal(b.query("clean"), expected(runs, "cifar10", "test_acc", mean))
    val = import_nas_robbench(root, tmp_path / "val.sqlite", split="val")
    with robnas.bench.open(val) as b:
        assert b.axis("fgsm@Linf") == ["3/255", "8/255"] and "autoattack@Linf" in b.result_keys()
        np.testing.assert_array_equal(b.query("clean"), expected(runs, "cifar10", "val_acc", mean))
        assert "test_acc" in b.meta["nas_robbench"]["left_out"]
    only_val = tmp_path / "val_only"
    write_robbench(only_val, datasets=("cifar10",))
    with pytest.raises(DataError, match="has no 'test' metrics; it has: val"):
        import_nas_robbench(only_val, tmp_path / "none.sqlite", split="test")


def _set(dataset: str, uid: Any, metric: str, value: Any) -> Callable[[dict], None]:
    def change(table: dict) -> None:
        table[dataset][str(uid)][metric] = value
    return change


def _rename_uid(old: int, new: str) -> Callable[[dict], None]:
    def change(table: dict) -> None:
        table["cifar10"][new] = table["cifar10"].pop(str(old))
    return change


def _bad_roots(tmp_path: Path) -> list[tuple[Path, dict[str, Any], type, str]]:
    """(root, import options, error, what its line says) for every kind of bad input."""
    cases: list[tuple[Path, dict[str, Any], type, str]] = []

    def case(name: str, change: Callable[[Path], None] | None, needle: str, error: type = DataError,
             record: Callable[[list[float]], Any] = published, **options: Any) -> None:
        root = tmp_path / name
        write_robbench(root, record)
        if change is not None:
            change(root)
        cases.append((root, {"dataset": "cifar10", **options}, error, needle))

    file = tmp_path / "a_file"
    file.write_text("{}")
    cases.append((file, {}, DataError, "is not a directory"))
    case("no_meta", lambda r: (r / "meta.json").unlink(), "has no meta.json")
    case("no_all", lambda r: (r / ALL_FILE).unlink(), f"has no {ALL_FILE}")
    case("bad_json", lambda r: (r / ALL_FILE).write_text('{"cifar10": {"1": '), "is not valid JSON")
    case("bad_meta", lambda r: (r / "meta.json").write_text("[1, 2"), "is not valid JSON")
    case("binary", lambda r: (r / ALL_FILE).write_bytes(b"\xff\xfe\x00garbage"), "is not valid JSON")
    case("no_ids", lambda r: (r / "meta.json").write_text('{"epsilons": {}}'), "has no 'ids' table")
    case("not_nested", lambda r: (r / ALL_FILE).write_text('{"cifar10": [1, 2]}'), "is not {dataset")
    case("outside", lambda r: edit(r, _rename_uid(REPS[0], "15625")), "'15625' is not a NAS-Bench-201 cell")
    case("not_an_id", lambda r: edit(r, _rename_uid(REPS[0], "abc")), "'abc' is not a NAS-Bench-201 cell")
    member = next(i for i in range(15625) if representative(i) in REPS and representative(i) != i)
    case("member", lambda r: edit(r, _rename_uid(representative(member), str(member))), "maps it to its isomorph")
    case("loss", lambda r: edit(r, lambda t: [t[d][str(u)].update(val_loss={"1": 0.5}) for d in t for u in REPS]),
         "'val_loss' is not <split>_acc")
    case("cw", lambda r: edit(r, lambda t: [t[d][str(u)].update(val_cw_8_acc={"1": 0.5}) for d in t for u in REPS]),
         "names attack 'cw'")
    case("percent", lambda r: edit(r, _set("cifar10", REPS[2], "val_acc", {"1": 67.3, "threeseed": 66.9})),
         "67.3, not an accuracy fraction in [0, 1]")
    case("negative", lambda r: edit(r, _set("cifar10", REPS[2], "autoattack", -0.1)), "-0.1, not an accuracy")
    case("null", lambda r: edit(r, _set("cifar10", REPS[2], "val_pgd_3.0_acc", {"1": None, "threeseed": 0.3})),
         "None, not an accuracy")
    case("mean_mismatch", lambda r: edit(r, _set("cifar10", REPS[1], "val_acc",
                                                  {"1": 0.5, "2": 0.6, "3": 0.7, "threeseed": 0.5})),
         "inconsistent seeds", record=per_seed)
    case("short_list", lambda r: edit(r, _set("cifar10", REPS[1], "val_acc", {"threeseed": [0.5, 0.6]})),
         "inconsistent seeds", record=listed)
    case("other_seeds", lambda r: edit(r, _set("cifar10", REPS[1], "val_acc", {"1": 0.5, "4": 0.6, "3": 0.7})),
         "inconsistent seeds", record=per_seed, seeds="replicates")
    case("bare_and_seeded", lambda r: edit(r, _set("cifar10", REPS[1], "val_acc", 0.5)), "inconsistent seeds")
    case("no_such_seed", None, "has no seed '2'", seeds="2")
    case("seed_key", lambda r: edit(r, _set("cifar10", REPS[1], "val_acc", {"one": 0.5})), "expected seed numbers")
    case("incomplete", lambda r: edit(r, lambda t: t["cifar10"][str(REPS[3])].pop("val_pgd_8.0_acc")), "differ in")
    case("no_clean", lambda r: edit(r, lambda t: [t[d][str(u)].pop("val_acc") for d in t for u in REPS]),
         "has no val_acc")
    case("absent_dataset", None, "has no dataset 'imagenet'; it has: cifar10, cifar100", dataset="imagenet")
    case("ambiguous", None, "holds 2 datasets (cifar10, cifar100); choose one with --source-dataset", dataset=None)
    case("split", None, "has no 'test' metrics", split="test")
    case("bad_split", None, "split must be one of val, test", InvalidValueError, split="train")
    case("bad_seeds", None, "seeds must be one of auto, replicates, mean", InvalidValueError, seeds="median")
    return cases


def test_bad_input_is_refused_in_one_line_and_nothing_is_written(tmp_path):
    for root, options, error, needle in _bad_roots(tmp_path):
        out = tmp_path / "out" / f"{root.name}.sqlite"
        with pytest.raises(error, match=needle.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")) as info:
            import_nas_robbench(root, out, **options)
        assert "\n" not in str(info.value), root.name
        assert not out.exists() and not list(out.parent.glob(f".{out.name}*")), root.name
    good = tmp_path / "good"
    write_robbench(good)
    taken = tmp_path / "taken.sqlite"
    taken.write_text("")
    with pytest.raises(InvalidValueError, match="already exists"):
        import_nas_robbench(good, taken, dataset="cifar10")


def test_cli_import_with_the_layout_and_unknown_layouts(tmp_path, cli):
    root = tmp_path / "robbench"
    runs = write_robbench(root)
    out = tmp_path / "b.sqlite"
    done = cli("bench", "import", str(root), str(out), "--layout", "nas-robbench-201", "--source-dataset", "cifar10",
               "--quiet", check=True)
    assert done.stdout.strip().endswith("b.sqlite")
    with robnas.bench.open(out) as b:
        np.testing.assert_array_equal(b.query("clean"), expected(runs, "cifar10", "val_acc", mean))
    shown = cli("bench", "show", str(out), str(REPS[0]), check=True)
    assert arch_str(REPS[0]) in shown.stdout and "fgsm@Linf at 3/255" in shown.stdout
    ambiguous = cli("bench", "import", str(root), str(tmp_path / "c.sqlite"), "--layout", "nas-robbench-201", "--quiet")
    assert ambiguous.returncode == 2 and "choose one with --source-dataset" in ambiguous.stderr
    assert len(ambiguous.stderr.strip().splitlines()) == 1 and not (tmp_path / "c.sqlite").exists()
    unknown = cli("bench", "import", str(root), str(tmp_path / "d.sqlite"), "--layout", "nasbench", "--quiet")
    assert unknown.returncode == 2 and not (tmp_path / "d.sqlite").exists()
    # the command line refuses it (one line naming both layouts) before the import's own check is reached
    assert "'nasbench'" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1
    assert "robustness-dataset" in unknown.stderr and "nas-robbench-201" in unknown.stderr
