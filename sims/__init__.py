"""Toy simulations behind the book's chapters.

One module owns one experiment. Shared helpers every chapter uses:

- :mod:`sims.checks`   -- argument validation with one-line errors;
- :mod:`sims.seeding`  -- ``seed_everything`` and explicit random generators;
- :mod:`sims.plotting` -- the book's matplotlib style, glue and table helpers.
"""
