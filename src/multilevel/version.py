"""The package's version, in a module of its own that every layer may import (the run
folders' markers; ``multilevel.__version__``). pyproject.toml holds the same string, and
tests/test_cli_terminal.py checks that the installed distribution agrees."""

__version__ = "0.1.0"
