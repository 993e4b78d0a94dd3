"""DARTS genotype text: canonical form, round trips, the published texts, and malformed input."""

from __future__ import annotations

import pytest

from robnas.errors import InvalidValueError, ParseError
from robnas.spaces.darts import GENOTYPES, OPS_DARTS, Genotype, genotype_from, parse_genotype
from tests.models.published_genotypes import PUBLISHED

V2 = GENOTYPES["DARTS_V2"]


def published_lines() -> dict[str, str]:
    """The published ``Genotype(...)`` texts by name (read as text, never evaluated)."""
    return PUBLISHED


def test_ops_are_in_the_published_alpha_order():
    assert OPS_DARTS == ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                         "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


def test_every_published_genotype_is_registered():
    assert set(GENOTYPES) == {"DARTS_V1", "DARTS_V2", "PDARTS", "PC_DARTS", "ADVRUSH", "RACL", "RNAS_H", "RNAS_L"}


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_to_str_round_trips(name):
    genotype = GENOTYPES[name]
    assert parse_genotype(genotype.to_str()) == genotype
    assert Genotype.from_str(str(genotype)) == genotype


def test_published_texts_list_all_eight_genotypes():
    assert set(published_lines()) == set(GENOTYPES)


@pytest.mark.parametrize("name", sorted(GENOTYPES))
def test_parses_the_published_text_of_the_reference_facts(name):
    assert parse_genotype(published_lines()[name]) == GENOTYPES[name]


def test_canonical_text_matches_the_published_darts_v2_exactly():
    # DARTS_V2 is published with list concats, so its canonical text is the published text.
    assert V2.to_str() == published_lines()["DARTS_V2"]


def test_range_concat_and_list_concat_are_the_same_genotype():
    pdarts = published_lines()["PDARTS"]
    assert "range(2, 6)" in pdarts
    assert parse_genotype(pdarts.replace("range(2, 6)", "[2, 3, 4, 5]")) == GENOTYPES["PDARTS"]
    assert GENOTYPES["PDARTS"].normal_concat == (2, 3, 4, 5)


def test_prefix_is_optional_and_whitespace_is_free():
    body = V2.to_str()[len("Genotype("):-1]
    assert parse_genotype(body) == V2
    assert parse_genotype("\n  " + V2.to_str().replace(", ", ",\n    ") + "  \n") == V2


def test_genotype_is_immutable_and_hashable():
    with pytest.raises(AttributeError):
        V2.normal = ()  # type: ignore[misc]
    assert hash(V2) == hash(parse_genotype(V2.to_str()))
    assert genotype_from(V2) is V2 and genotype_from(V2.to_str()) == V2


def test_direct_construction_normalises_lists_and_validates():
    g = Genotype(normal=[list(e) for e in V2.normal], normal_concat=range(2, 6), reduce=list(V2.reduce),
                 reduce_concat=[2, 3, 4, 5])
    assert g == V2
    with pytest.raises(InvalidValueError):
        Genotype(normal=V2.normal[:-1], normal_concat=(2, 3, 4, 5), reduce=V2.reduce, reduce_concat=(2, 3, 4, 5))


def _v2_with(old: str, new: str) -> str:
    text = V2.to_str()
    assert old in text
    return text.replace(old, new, 1)


MALFORMED = {
    "unknown op": _v2_with("'dil_conv_3x3', 2", "'conv_7x7', 2"),
    "none op in a derived cell": _v2_with("'dil_conv_3x3', 2", "'none', 2"),
    "input index too large": _v2_with("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"),
    "negative input index": _v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', -1)"),
    "input index not an int": _v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', 1.0)"),
    "bool input index": _v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', True)"),
    "missing field": V2.to_str().replace(", reduce_concat=[2, 3, 4, 5]", ""),
    "unknown field": _v2_with("reduce_concat=", "extra=1, reduce_concat="),
    "repeated field": _v2_with("reduce_concat=[2, 3, 4, 5]", "reduce_concat=[2, 3], reduce_concat=[2, 3, 4, 5]"),
    "import injection": "__import__('os').system('echo pwned')",
    "injection inside a field": _v2_with("normal_concat=[2, 3, 4, 5]", "normal_concat=__import__('os')"),
    "call inside an edge": _v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', int('1'))"),
    "attribute access": "Genotype.__class__",
    "unbalanced brackets": V2.to_str()[:-2],
    "seven edges": _v2_with("('sep_conv_3x3', 0), ", ""),
    "nine edges": _v2_with("('sep_conv_3x3', 0), ", "('sep_conv_3x3', 0), ('sep_conv_3x3', 0), "),
    "edge of three items": _v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', 1, 2)"),
    "concat out of range": _v2_with("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 6]"),
    "concat of a cell input": _v2_with("normal_concat=[2, 3, 4, 5]", "normal_concat=[0, 2, 3, 4, 5]"),
    "empty concat": _v2_with("normal_concat=[2, 3, 4, 5]", "normal_concat=[]"),
    "repeated concat": _v2_with("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 2, 3]"),
    "range with a call": _v2_with("normal_concat=[2, 3, 4, 5]", "normal_concat=range(2, len('abcdef'))"),
    "positional fields": "Genotype([], [2], [], [2])",
    "star kwargs": "Genotype(**{'normal': []})",
    "two expressions": V2.to_str() + "; 1",
    "empty": "",
    "null byte": "Genotype(\x00)",
    "deep nesting": "[" * 5000 + "]" * 5000,
}


@pytest.mark.parametrize("text", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_genotypes_raise_one_line_parse_errors(text):
    with pytest.raises(ParseError) as info:
        parse_genotype(text)
    message = str(info.value)
    assert "\n" not in message
    assert "expected Genotype(" in message  # says what the format is


def test_error_names_the_problem():
    with pytest.raises(ParseError, match="unknown op 'conv_7x7'"):
        parse_genotype(MALFORMED["unknown op"])
    with pytest.raises(ParseError, match="missing field.*reduce_concat"):
        parse_genotype(MALFORMED["missing field"])
    with pytest.raises(ParseError, match="7 edges"):
        parse_genotype(MALFORMED["seven edges"])


def test_non_string_input_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_genotype(42)  # type: ignore[arg-type]


def test_a_bad_op_is_reported_even_in_an_incomplete_genotype():
    with pytest.raises(ParseError, match="sep_conv_9x9"):
        parse_genotype("Genotype(normal=[('sep_conv_9x9', 0)])")
