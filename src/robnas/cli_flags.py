"""What every ``robnas`` command accepts: its flags, each declared once with the config path it sets.

A flag's value is put at its config path before the ``--set`` overrides are applied, so ``--epochs 3``
is ``--set train.epochs=3``. Flags come in groups (data, training, evaluation, run, output, execution
backend); :mod:`robnas.cli` turns each group into an argparse parent parser, so a command's ``--help``
lists the groups its job reads and nothing else. A command with actions (``bench``, ``advset``) gives
each action its own parser, flags and fixed positionals.

Numbers are checked here, when the command line is parsed (one ``error:`` line, exit 2, before any
work); names and everything that depends on other settings are checked by the job.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

# --- numbers --------------------------------------------------------------------------------------


def integer(least: int, odd: bool = False) -> Callable[[str], int]:
    """An argparse type: an integer >= ``least`` (odd when asked), else argparse's one-line error."""
    what = f"an {'odd ' if odd else ''}integer >= {least}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value < least or (odd and value % 2 == 0):
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    return parse


def real(positive: bool) -> Callable[[str], float]:
    """An argparse type: a finite number > 0 (``positive``) or >= 0."""
    what = "a number > 0" if positive else "a number >= 0"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not (value > 0 if positive else value >= 0) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


# --- flags and groups -----------------------------------------------------------------------------

#: The two kinds of ``robnas search`` method (as :func:`robnas.pipeline.search.method_kind` names them): a
#: flag of the search may set a different path for each.
DIFFERENTIABLE, DISCRETE = "differentiable", "discrete"


@dataclass(frozen=True)
class Needs:
    """The setting without which a flag would change nothing: ``path`` must equal ``value``.

    ``why`` completes the error line; it is formatted with ``option`` and ``actual`` (the value found)."""

    path: str
    value: Any
    why: str


@dataclass(frozen=True)
class Flag:
    option: str
    path: str | Mapping[str, str | None]  # config path; robnas search: one per method kind (None: not that kind)
    help: str
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    switch: bool = False                 # present: True at the path
    choices: tuple[str, ...] | None = None
    needs: Needs | None = None

    @property
    def dest(self) -> str:
        return self.option.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class Group:
    """Flags listed under one heading of ``--help`` (an argparse parent parser)."""

    title: str
    flags: tuple[Flag, ...]


NUM = "N"
DATASET = Flag("--dataset", "data.name", "dataset name (robnas list datasets)")
DATA_ROOT = Flag("--data-root", "data.root", "directory holding the dataset files", metavar="DIR")
TRAIN_SIZE = Flag("--train-size", "data.train_size", "deterministic training subset size", type=integer(1),
                  metavar=NUM)
VAL_SIZE = Flag("--val-size", "data.val_size", "training points held out for best-checkpoint selection "
                "(0: select on the test split)", type=integer(0), metavar=NUM)
TEST_SIZE = Flag("--test-size", "data.test_size", "deterministic test subset size", type=integer(1), metavar=NUM)
EPOCHS = Flag("--epochs", "train.epochs", "training epochs", type=integer(1), metavar=NUM)
BATCH_SIZE = Flag("--batch-size", "train.batch_size", "training batch size", type=integer(1), metavar=NUM)
LR = Flag("--lr", "train.lr", "SGD learning rate (cosine schedule)", type=real(positive=True))
ADVERSARIAL = Flag("--adversarial", "train.adversarial.enabled", "PGD adversarial training (Madry et al.)",
                   switch=True)
SEED = Flag("--seed", "seed", "seed of every random draw (weights, data subsets, attacks)", type=integer(0),
            metavar=NUM)
DEVICE = Flag("--device", "device", "auto (CUDA when present), cpu or cuda[:N]")
THREADS = Flag("--threads", "threads", "CPU threads; 0 = auto (1 for small networks)", type=integer(0), metavar=NUM)
OUT = Flag("--out", "out", "parent directory of run directories (default runs/)", metavar="DIR")
NAME = Flag("--name", "name", "run directory name (default: command + timestamp)")
QUIET = Flag("--quiet", "quiet", "no progress bars or log echo", switch=True)
RESUME = Flag("--resume", "resume", "continue the run named by --name (default: the newest run of this command)",
              switch=True)

# The ad-hoc attack suite of [eval]; a named protocol replaces it, so these flags need none to be named.
_NO_PROTOCOL = Needs("eval.protocol", None, "{option} sets the ad-hoc attack suite, which protocol {actual!r} "
                                            "(eval.protocol) replaces; drop {option} or the protocol")
ATTACKS = Flag("--attacks", "eval.attacks", "comma-separated attack names (robnas list attacks)", needs=_NO_PROTOCOL)
EPS = Flag("--eps", "eval.eps", "comma-separated radii, e.g. 2/255,8/255", needs=_NO_PROTOCOL)
NORM = Flag("--norm", "eval.norm", "Linf or L2", needs=_NO_PROTOCOL)
CORRUPTIONS = Flag("--corruptions", "eval.corruptions", "common corruptions to report: all, or comma-separated names")
PROTOCOL = Flag("--protocol", "eval.protocol", "named evaluation protocol replacing the attack suite "
                                               "(robnas list protocols)")
BASELINE = Flag("--baseline", "eval.baseline", "model label used as the PP-HRS baseline")

DATA = Group("data", (DATASET, DATA_ROOT, TRAIN_SIZE, VAL_SIZE, TEST_SIZE))
TEST_DATA = Group("data", (DATASET, DATA_ROOT, TEST_SIZE))
TRAINING = Group("training", (EPOCHS, BATCH_SIZE, LR, ADVERSARIAL))
EVALUATION = Group("evaluation", (ATTACKS, EPS, NORM, PROTOCOL, CORRUPTIONS, BASELINE))
RUN = Group("run", (SEED, DEVICE, THREADS))
OUTPUT = Group("output", (OUT, NAME, QUIET))
RESUMABLE = Group("output", (OUT, NAME, QUIET, RESUME))


def backend_group(prefix: str, what: str) -> Group:
    """``--backend/--workers/--address`` of the section ``prefix`` (one declaration for every command)."""
    return Group("execution backend", (
        Flag("--backend", f"{prefix}.backend", f"where {what} run: inprocess, local (process pool, default) or ray"),
        Flag("--workers", f"{prefix}.workers", f"{what} at once (0 = one per core)", type=integer(0), metavar=NUM),
        Flag("--address", f"{prefix}.address", "Ray cluster address (--backend ray); default: a local Ray"),
    ))


# --- commands -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Positional:
    metavar: str
    help: str
    nargs: str | None = None             # None: exactly one; "*" / "+": a list


@dataclass(frozen=True)
class Command:
    """One ``robnas`` command (or one action of ``bench`` / ``advset``): its job and what it accepts."""

    name: str
    help: str
    groups: tuple[Group, ...] = ()
    positionals: tuple[Positional, ...] = ()
    positional_path: str = ""            # where the positionals go, as one list (bench.targets)
    models: str | None = None            # "one" | "many": --model/--kw/--label
    checkpoints: bool = False            # --checkpoint (repeatable)
    actions: tuple[Command, ...] = ()    # each its own parser; the chosen name goes to action_path
    action_path: str = ""
    job: str = ""                        # module with run(cfg) -> Path (actions: their command's)
    config: str | None = None            # shipped config read without --config
    resumes_file: bool = False           # --resume continues the file given, not the newest run directory

    def flags(self) -> tuple[Flag, ...]:
        return tuple(f for g in self.groups for f in g.flags)


def _bench(name: str, help: str, *groups: Group, positionals: tuple[Positional, ...] = (), **kw: Any) -> Command:
    """An action of ``robnas bench``: its positionals are ``bench.targets``."""
    return Command(name, help, groups, positionals, positional_path="bench.targets", **kw)


BENCH_ARG = Positional("BENCH", "a benchmark file or a shipped name (e.g. digits-nb201)")
OUT_FILE = Positional("OUT", "the benchmark file to write")

# `robnas search`: a flag's path depends on the method. Differentiable methods search a supernet with
# [search.differentiable]; discrete strategies train each candidate with [train] on [data].
_SEARCH = Group("search", (
    Flag("--space", "search.space", "search space (robnas list spaces)"),
    Flag("--method", "search.method", "differentiable method (robnas list methods) or discrete strategy "
                                      "(robnas list strategies)"),
    Flag("--epochs", {DIFFERENTIABLE: "search.differentiable.epochs", DISCRETE: "train.epochs"},
         "differentiable: search epochs; discrete: training epochs of each candidate", type=integer(1), metavar=NUM),
    Flag("--batch-size", {DIFFERENTIABLE: "search.differentiable.batch_size", DISCRETE: "train.batch_size"},
         "differentiable: search batch size; discrete: each candidate's training batch size", type=integer(1),
         metavar=NUM),
    Flag("--lr", {DIFFERENTIABLE: "search.differentiable.lr", DISCRETE: "train.lr"},
         "differentiable: learning rate of the supernet's weights; discrete: each candidate's", type=real(True)),
    Flag("--adversarial", {DISCRETE: "train.adversarial.enabled"},
         "discrete: train each candidate with PGD adversarial training", switch=True),
    Flag("--objectives", {DISCRETE: "search.discrete.objectives"},
         "discrete: comma-separated objectives, e.g. clean_error,flops,advset_error"),
    Flag("--evaluations", {DISCRETE: "search.discrete.evaluations"},
         "discrete: architectures to evaluate, cache hits included (0 = until the strategy ends)", type=integer(0),
         metavar=NUM),
    Flag("--max-seconds", {DISCRETE: "search.discrete.max_seconds"}, "discrete: wall-time budget (0 = none)",
         type=real(False), metavar="S"),
))
_SEARCH_DATA = Group("data", (
    DATASET, DATA_ROOT,
    Flag("--train-size", "data.train_size", "deterministic training subset size (differentiable: then "
                                            "search.differentiable.train_size of it, halved)", type=integer(1),
         metavar=NUM),
    Flag("--val-size", {DISCRETE: "data.val_size"}, "discrete: training points each candidate is measured on "
                                                    "(0: the test split)", type=integer(0), metavar=NUM),
    Flag("--test-size", {DISCRETE: "data.test_size"}, "discrete: deterministic test subset size", type=integer(1),
         metavar=NUM),
))
_SEARCH_BACKEND = Group("execution backend", tuple(
    replace(f, path={DISCRETE: f.path}, help="discrete: " + f.help)
    for f in backend_group("search.discrete", "candidate evaluations").flags))

_TRANSFER = Group("transfer attack", (
    Flag("--attack", "transfer.attack", "attack crafted on each source (default pgd, PGD-20 as AdvRush)"),
    Flag("--steps", "transfer.steps", "iterations of the source attack (default 20)", type=integer(1), metavar=NUM),
    Flag("--eps", "eval.eps", "radius of the source attack, e.g. 8/255 (the first of a list)"),
    Flag("--norm", "eval.norm", "Linf or L2"),
))
_ADVSET = Flag("--advset", "advset.path", "the set's directory", metavar="DIR")
_LANDSCAPE = Group("landscape", (
    Flag("--points", "landscape.points", "test points the loss is averaged over (default 100)", type=integer(1),
         metavar=NUM),
    Flag("--range", "landscape.eps_range", "half-width R of the grid over [-R, R]^2, e.g. 8/255 (default)",
         metavar="R"),
    Flag("--resolution", "landscape.resolution", "grid points per axis, odd (default 21)", type=integer(1, odd=True),
         metavar=NUM),
    Flag("--per-point", "landscape.per_point", "also store every point's grid in the JSON", switch=True),
))
_ENSEMBLE = Group("ensemble", (
    Flag("--cells", "ensemble.cells", "cells of each member, comma-separated, summing to --total-cells "
                                      "(default 12,6,2)"),
    Flag("--total-cells", "ensemble.total_cells", "cells of one full network (default 20)", type=integer(1),
         metavar=NUM),
    Flag("--runs", "ensemble.runs", "sample-train-ensemble runs and single random networks (default 4)",
         type=integer(1), metavar=NUM),
))

# `robnas bench build`: the [eval] suite is the build's protocol only with --protocol eval.
_EVAL_PROTOCOL = Needs("bench.protocol", "eval", "{option} sets the ad-hoc suite of --protocol eval, but the build "
                                                 "evaluates with protocol {actual!r}; add --protocol eval or drop "
                                                 "{option}")
_BUILD = Group("build", (
    Flag("--space", "bench.space", "search space (robnas list spaces)"),
    Flag("--recipe", "bench.recipe", "training recipe (robnas list recipes)"),
    Flag("--protocol", "bench.protocol", "evaluation protocol (robnas list protocols), or eval: the suite of "
                                         "--attacks/--eps/--norm/--corruptions"),
    Flag("--sample", "bench.sample", "architectures, stratified by parameter count (default 0: the whole space)",
         type=integer(0), metavar=NUM),
    Flag("--only", "bench.only", "comma-separated architectures (arch strings, keys or ids)"),
    Flag("--shard", "bench.shard", "K/M builds every M-th architecture from the K-th, so that M builds (machines, "
                                   "sessions) share a space; `bench merge` joins them"),
    Flag("--seeds", "bench.seeds", "replicates per architecture, each with its own seed (default 1)",
         type=integer(1), metavar=NUM),
    Flag("--proxies", "bench.proxies", "comma-separated proxies to compute (robnas list proxies)"),
    Flag("--at", "bench.at", "proxies: init, trained or init,trained (default both)"),
    Flag("--keep-weights", "bench.keep_weights", "keep every trained network in this directory", metavar="DIR"),
))
_BUILD_SUITE = Group("suite of --protocol eval", tuple(replace(f, needs=_EVAL_PROTOCOL)
                                                      for f in (ATTACKS, EPS, NORM, CORRUPTIONS)))
_BUILD_DATA = Group("data", (DATASET, DATA_ROOT))
_BENCH_BACKEND = backend_group("bench", "architectures")
_PROXIES = Group("proxies", (
    Flag("--proxies", "bench.proxies", "comma-separated proxies to compute (robnas list proxies)"),
    Flag("--at", "bench.at", "init, trained or init,trained (default both)"),
    Flag("--keep-weights", "bench.keep_weights", "the directory `bench build --keep-weights` filled "
                                                 "(for --at trained)", metavar="DIR"),
))
_BOOTSTRAP = Flag("--bootstrap", "bench.correlate.bootstrap", "bootstrap resamples of the architectures "
                                                               "(default 200; 0 = none)", type=integer(0), metavar=NUM)
_CORRELATE = Group("correlate", (
    Flag("--against", "bench.correlate.against", "a second benchmark (file or shipped name): the transfer tau "
                                                 "between the two on their shared architectures", metavar="BENCH"),
    Flag("--proxies", "bench.correlate.proxies", "comma-separated proxies to correlate (default: all in the "
                                                 "benchmark)"),
    _BOOTSTRAP,
))
_NAS_FLAGS = (
    Flag("--objectives", "bench.nas.objectives", "comma-separated objectives, one table each (default: FGSM error at "
                                                 "the benchmark's reference radius, then clean error)"),
    Flag("--strategies", "bench.nas.strategies", "comma-separated discrete strategies (default rs,ls,re,bananas,"
                                                 "nsga2)"),
    Flag("--runs", "bench.nas.runs", "seeded runs per strategy (default 100)", type=integer(1), metavar=NUM),
    Flag("--queries", "bench.nas.queries", "lookups per run (default 100)", type=integer(1), metavar=NUM),
)
_NAS = Group("nas", _NAS_FLAGS)
_STUDY = Group("study", (_BOOTSTRAP, *_NAS_FLAGS))
# The differentiable searches of nas and study train on the benchmark's dataset.
_SEARCHES = Group("run", (SEED, DEVICE, DATA_ROOT))

BENCH_ACTIONS = (
    _bench("build", "train and evaluate every architecture of a space (or a sample, or a shard) into a benchmark",
           _BUILD, _BUILD_SUITE, _BUILD_DATA, _BENCH_BACKEND, RUN, Group("output", (QUIET, RESUME)),
           positionals=(Positional("OUT", "the benchmark file to build, or to continue with --resume"),),
           resumes_file=True),
    _bench("merge", "join benchmark files built as shards (--shard K/M) into one", Group("output", (QUIET,)),
           positionals=(OUT_FILE, Positional("PART", "the shard files", "+"))),
    _bench("show", "a benchmark's summary, or architectures' full records",
           positionals=(BENCH_ARG, Positional("ARCH", "architectures (arch strings, keys or NB201 ids)", "*"))),
    _bench("import", "read a published benchmark layout into a benchmark file",
           Group("import", (Flag("--layout", "bench.layout", "the directory's layout (default robustness-dataset)",
                                 choices=("robustness-dataset", "nas-robbench-201")),
                            Flag("--source-dataset", "bench.source_dataset",
                                 "dataset folder to read (default: the only one)"),
                            QUIET)),
           positionals=(Positional("DIR", "the directory holding the layout"), OUT_FILE)),
    _bench("export", "write a benchmark in a published layout",
           Group("export", (Flag("--layout", "bench.layout", "the layout to write: robustness-dataset (default)"),)),
           positionals=(BENCH_ARG, Positional("OUT", "the directory to write"))),
    _bench("reference", "a benchmark of NAS-Bench-201's published CIFAR-10 accuracies (clean accuracy only)",
           Group("reference", (Flag("--file", "bench.reference_file", "the published data file (default: the "
                                                                      "installed analog-nasbench wheel's)",
                                    metavar="PATH"), QUIET)),
           positionals=(OUT_FILE,)),
    _bench("ship", "compress a finished benchmark with its build record (into the package, or --to a folder of "
                   "committed shards)",
           Group("ship", (Flag("--to", "bench.ship_to", "the directory (default: the package's shipped benchmarks)",
                               metavar="DIR"),
                          Flag("--commit", "bench.commit", "the robnas commit that built it, for the record"),
                          QUIET)),
           positionals=(BENCH_ARG, Positional("NAME", "the shipped name"))),
    _bench("cascade", "a stronger attack on the test points an attack of the benchmark left standing",
           Group("cascade", (Flag("--after", "bench.cascade.after", "the benchmark's attack key whose survivors are "
                                                                   "attacked (e.g. pgd)", metavar="KEY"),
                             Flag("--attack", "bench.cascade.attack", "the stronger attack (robnas list attacks)"),
                             Flag("--eps", "bench.cascade.eps", "one radius of the --after key's axis"),
                             Flag("--keep-weights", "bench.keep_weights", "the directory `bench build --keep-weights` "
                                                                          "filled", metavar="DIR"))),
           _BENCH_BACKEND, Group("run", (DEVICE, THREADS, DATA_ROOT)), Group("output", (QUIET,)),
           positionals=(Positional("BENCH", "the benchmark file to add the cascade to"),)),
    _bench("proxies", "add training-free proxies to a benchmark", _PROXIES, _BENCH_BACKEND,
           Group("run", (DEVICE, THREADS, DATA_ROOT)), Group("output", (QUIET,)),
           positionals=(Positional("BENCH", "the benchmark file to add proxies to"),)),
    _bench("correlate", "Kendall's tau of proxies and clean accuracy against every robustness measure",
           _CORRELATE, _BENCH_BACKEND, Group("run", (SEED,)), OUTPUT, positionals=(BENCH_ARG,)),
    _bench("nas", "discrete strategies and differentiable searches judged on a benchmark", _NAS, _BENCH_BACKEND,
           _SEARCHES, OUTPUT, positionals=(BENCH_ARG,)),
    _bench("design", "accuracy against parameter count, operation frequencies, best per group", OUTPUT,
           positionals=(BENCH_ARG,)),
    _bench("study", "correlate, nas and design in one run with one report", _STUDY, _BENCH_BACKEND, _SEARCHES,
           OUTPUT, positionals=(BENCH_ARG,)),
)

COMMANDS: tuple[Command, ...] = (
    Command("train", "train one model (standard or PGD adversarial training)", (DATA, TRAINING, RUN, RESUMABLE),
            models="one", job="robnas.pipeline.train"),
    Command("eval", "attack trained checkpoints or registered models; Table 1 report + plot",
            (TEST_DATA, EVALUATION, RUN, RESUMABLE), models="many", checkpoints=True, job="robnas.pipeline.evaluate"),
    Command("transfer", "transfer attacks: source x target accuracy matrix (AdvRush Table 2)",
            (TEST_DATA, _TRANSFER, Group("run", (SEED, DEVICE)), OUTPUT), models="many", checkpoints=True,
            job="robnas.pipeline.transfer"),
    Command("advset", "build a pre-generated adversarial set (RoCo-NAS) or score models on one", actions=(
        Command("build", "attack the sources into a new set",
                (Group("set", (Flag("--advset", "advset.path", "the set's directory (must not exist)", metavar="DIR"),
                               Flag("--attacks", "eval.attacks", "comma-separated attacks (robnas list attacks)"),
                               Flag("--thresholds", "advset.thresholds", "comma-separated thresholds: pixels for L0 "
                                    "attacks, 1/255 units for Linf (default 1,3,5,10)"))),
                 TEST_DATA, Group("run", (SEED, DEVICE)), Group("output", (QUIET,))),
                models="many", checkpoints=True),
        Command("eval", "score models on a set (built for the set's dataset)",
                (Group("set", (Flag("--advset", "advset.path", "the set's directory", metavar="DIR"),)),
                 Group("data", (DATA_ROOT,)), Group("run", (SEED, DEVICE)), OUTPUT),
                models="many", checkpoints=True),
    ), action_path="advset.action", job="robnas.pipeline.advset"),
    Command("search", "architecture search: a differentiable method (darts, advrush, rnas) or a discrete strategy "
                      "(nsga2, rs, ls, re, bananas)", (_SEARCH, _SEARCH_DATA, _SEARCH_BACKEND, RUN, RESUMABLE),
            job="robnas.pipeline.search"),
    Command("run", "the main job: search (when [searched] is enabled), train and evaluate the configured models, "
                   "write the report", (DATA, TRAINING, EVALUATION, RUN, RESUMABLE), job="robnas.pipeline.run",
            config="digits"),
    Command("landscape", "input loss landscape along the gradient sign and a random direction (AdvRush Figure 3): "
                         "JSON grid + PNG", (TEST_DATA, _LANDSCAPE, RUN, OUTPUT), models="many", checkpoints=True,
            job="robnas.pipeline.landscape"),
    Command("ensemble", "random-cell ensembles vs single random and published DARTS cells (Devaguptapu et al. "
                        "Table 6), attacked end to end",
            (DATA, TRAINING, EVALUATION, _ENSEMBLE, backend_group("ensemble", "networks train"), RUN, RESUMABLE),
            job="robnas.pipeline.ensemble", config="digits_ensemble"),
    Command("bench", "robustness benchmarks over a whole space: build, merge, show, import, export, reference, ship, cascade, "
                     "proxies, correlate, nas, design, study", actions=BENCH_ACTIONS, action_path="bench.action",
            job="robnas.pipeline.bench"),
)


def leaves() -> list[tuple[str, Command]]:
    """Every runnable command line and its command: ``train``, ..., ``bench build``, ``advset eval``."""
    return [(f"{c.name} {a.name}", a) if a is not c else (c.name, c) for c in COMMANDS for a in c.actions or (c,)]


def paths_of(f: Flag) -> dict[str, str | None]:
    """Every path a flag may set, by method kind (one entry ``""`` for a plain flag)."""
    return dict(f.path) if isinstance(f.path, Mapping) else {"": f.path}

