"""Benchmark files: import of the published robustness-dataset layout, queries, export, and bad input."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

import robnas.bench as bench
from robnas.bench.layout import export_layout, import_layout
from robnas.errors import DataError, InvalidValueError, ParseError
from robnas.spaces.nb201 import arch_str, representative, unique_key
from tests.bench.layout_files import ATTACKS, CORRUPTIONS, AuthorsReader, representative_ids, write_layout

REPS = representative_ids(25)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    root = tmp_path_factory.mktemp("published")
    written = write_layout(root, REPS)
    path = import_layout(root, root.parent / "imported.sqlite")
    return root, written, path


def test_import_keeps_every_value_and_the_axes(published):
    root, written, path = published
    with bench.open(path) as b:
        assert len(b) == len(REPS) and b.space == "nb201" and b.dataset == "cifar10"
        assert list(b.ids()) == REPS
        assert b.axis("pgd@Linf") == ["0.1/255", "0.5/255", "1/255", "2/255", "3/255", "4/255", "8/255"]
        assert b.axis("fog") == [1, 2, 3, 4, 5] and b.axis("clean") == []
        assert set(b.result_keys()) == {"clean", *ATTACKS, *CORRUPTIONS}
        for (key, measure), column in written.items():
            values = b.query(key, measure)
            for ident, value in column.items():
                np.testing.assert_array_equal(values[b.lookup(int(ident))], np.asarray(value, dtype=float))
        fgsm = b.query("fgsm@Linf", "accuracy", eps="1/255")
        assert fgsm.shape == (len(REPS),)
        assert fgsm[0] == written[("fgsm@Linf", "accuracy")][str(REPS[0])][2]
        assert b.query("fgsm@Linf", eps=1 / 255)[0] == fgsm[0]
        assert b.query("fog", eps=3)[1] == written[("fog", "accuracy")][str(REPS[1])][2]
        assert b.query("clean", "cm").shape == (len(REPS), 10, 10)
        assert b.query("pgd@Linf", "cm").shape == (len(REPS), 7, 10, 10)


def test_lookup_by_any_id_arch_string_or_key(published):
    _, _, path = published
    rep = REPS[3]
    others = [i for i in range(15625) if representative(i) == rep]
    with bench.open(path) as b:
        assert b.lookup(rep) == 3 and b.lookup(str(rep)) == 3
        assert all(b.lookup(i) == 3 for i in others)  # every equivalent id maps to its representative
        assert b.lookup(arch_str(others[-1])) == 3 and b.lookup(unique_key(arch_str(rep))) == 3
        record = b.record(others[-1])
        assert record["arch"] == arch_str(rep) and record["ident"] == rep
        assert record["measures"]["pgd@Linf"]["axis"][-1] == "8/255"
        with pytest.raises(InvalidValueError, match="0..15624"):
            b.lookup(15625)
        with pytest.raises(ParseError):
            b.lookup("|conv~0|")
        missing = next(i for i in range(15625) if representative(i) not in REPS)
        with pytest.raises(DataError, match="not in benchmark"):
            b.lookup(missing)
        with pytest.raises(Exception, match="no measurement"):
            b.query("pgd@L2")
        with pytest.raises(InvalidValueError, match="measured at eps"):
            b.query("pgd@Linf", eps="5/255")


def test_export_reads_back_unchanged_by_the_authors_semantics_and_reimports_equal(published, tmp_path):
    root, written, path = published
    out = tmp_path / "export"
    with bench.open(path) as b:
        export_layout(b, out)
    reader = AuthorsReader(out)
    assert sorted(map(int, reader.non_isomorph_ids)) == REPS
    some = next(i for i in range(15625) if representative(i) == REPS[0] and i != REPS[0])
    uid = reader.get_uid(some)
    pgd = reader.query("cifar10", "pgd@Linf", "accuracy")[uid]
    assert pgd[reader.meta["epsilons"]["pgd@Linf"].index(1.0)] == written[("pgd@Linf", "accuracy")][uid][2]
    for (key, measure), column in written.items():
        assert reader.query("cifar10", key, measure) == column  # value for value, same JSON types
    again = import_layout(out, tmp_path / "again.sqlite")
    with bench.open(path) as first, bench.open(again) as second:
        assert first.archs() == second.archs()
        for key in first.result_keys():
            for measure in ("accuracy", "confidence", "cm"):
                np.testing.assert_array_equal(first.query(key, measure), second.query(key, measure))
    with pytest.raises(InvalidValueError, match="already holds an export"), bench.open(path) as b:
        export_layout(b, out)


def test_bad_imports_are_refused_and_write_nothing(tmp_path):
    good = tmp_path / "good"
    write_layout(good, REPS[:3])
    cases = {}
    no_meta = tmp_path / "no_meta"
    write_layout(no_meta, REPS[:3])
    (no_meta / "meta.json").unlink()
    cases[no_meta] = "no meta.json"
    missing = tmp_path / "missing"
    write_layout(missing, REPS[:3])
    (missing / "cifar10" / "fog_confidence.json").unlink()
    cases[missing] = "fog_confidence.json"
    outside = tmp_path / "outside"
    write_layout(outside, REPS[:3])
    meta = json.loads((outside / "meta.json").read_text())
    meta["ids"]["15625"] = {"nb201-string": arch_str(0), "isomorph": "15625"}
    (outside / "meta.json").write_text(json.dumps(meta))
    cases[outside] = "0..15624"
    order = tmp_path / "order"
    write_layout(order, REPS[:3])
    meta = json.loads((order / "meta.json").read_text())
    first = next(iter(meta["ids"]))
    meta["ids"][first]["nb201-string"] = arch_str((int(first) + 1) % 15625)
    (order / "meta.json").write_text(json.dumps(meta))
    cases[order] = "id order"
    for root, needle in cases.items():
        out = tmp_path / f"{root.name}.sqlite"
        with pytest.raises(DataError, match=needle):
            import_layout(root, out)
        assert not out.exists() and not list(tmp_path.glob(f".{out.name}*"))
    with pytest.raises(InvalidValueError, match="already exists"):
        import_layout(good, tmp_path / "good")


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataError, match="not a robnas benchmark file"):
        bench.open(junk)
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT)")
    conn.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    conn.commit()
    conn.close()
    with pytest.raises(DataError, match="schema '99'"):
        bench.open(other)
    with pytest.raises(DataError, match="does not exist"):
        bench.open(tmp_path / "nothing.sqlite")
    with pytest.raises(Exception, match="unknown benchmark"):
        bench.open("no-such-benchmark")


def test_cli_import_show_export(published, tmp_path, cli):
    root, _, _ = published
    imported = cli("bench", "import", str(root), str(tmp_path / "b.sqlite"), "--quiet", check=True)
    assert imported.stdout.strip().endswith("b.sqlite")
    shown = cli("bench", "show", str(tmp_path / "b.sqlite"), str(REPS[2]), check=True)
    assert arch_str(REPS[2]) in shown.stdout and "pgd@Linf at 0.1/255" in shown.stdout
    summary = cli("bench", "show", str(tmp_path / "b.sqlite"), check=True)
    assert json.loads(summary.stdout[: summary.stdout.rindex("}") + 1])["architectures"] == len(REPS)
    cli("bench", "export", str(tmp_path / "b.sqlite"), str(tmp_path / "out"), check=True)
    assert (tmp_path / "out" / "meta.json").exists() and (tmp_path / "out" / "cifar10" / "clean_cm.json").exists()
    bad = cli("bench", "export", str(tmp_path / "b.sqlite"), str(tmp_path / "o2"), "--layout", "nasbench")
    assert bad.returncode == 2 and "unknown export layout" in bad.stderr and not (tmp_path / "o2").exists()
