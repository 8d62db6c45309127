"""Tooling around the book, not part of what its pages compute: the Sphinx extension that serves the interactive
figures' JavaScript and offers each page's executed notebook, `make notebooks` and `make lab`."""
