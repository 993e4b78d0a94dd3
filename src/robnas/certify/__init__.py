"""Certified robustness: sound per-point lower bounds (no attack can break a certified point).

A prototype for the NAS-Bench-201 operations (:mod:`robnas.certify.zonotope`); see its docstring
for what it supports, and docs/measured.md for what it measured.
"""

from robnas.certify.zonotope import Certificate, certify

__all__ = ["Certificate", "certify"]
