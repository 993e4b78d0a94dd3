from tests.pipeline.conftest import cli  # noqa: F401  (the in-process CLI fixture)
