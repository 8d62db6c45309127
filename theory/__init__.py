"""Symbolic (sympy) checks of every derivation in the book.

Each module states the identities of one chapter as functions that return the
sympy expressions involved; ``tests/`` asserts that they simplify as claimed.
"""
