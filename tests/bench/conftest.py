import pytest

from tests.pipeline.conftest import cli  # noqa: F401  (the in-process CLI fixture)


@pytest.fixture(scope="session")
def full_bench(tmp_path_factory):
    """A synthetic benchmark of all 6466 NAS-Bench-201 classes (few measurements: NAS needs the whole space)."""
    from tests.bench.synthetic import write_benchmark

    return write_benchmark(tmp_path_factory.mktemp("full") / "full.sqlite", attacks=("fgsm@Linf", "pgd@Linf"),
                           corruptions=("fog", "snow"), proxies=("jacobian", "synflow"))


@pytest.fixture(scope="session")
def sample_bench(tmp_path_factory):
    """300 architectures with every attack, two corruptions and every proxy (jacob_cov NaN on 3 of them)."""
    from tests.bench.synthetic import write_benchmark

    return write_benchmark(tmp_path_factory.mktemp("sample") / "sample.sqlite", count=300,
                           corruptions=("fog", "snow"))
