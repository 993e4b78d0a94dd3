"""The evaluation tests use the attack tests' small digits models."""

from tests.attacks.conftest import digits, trained_cnn, trained_mlp  # noqa: F401  (fixtures)
