"""Subcommands of the ``multilevel`` command line beyond ``fit`` and ``datasets``
(:mod:`multilevel.cli` dispatches to them): ``compare`` and ``compare-priors``.

Entry layer, like :mod:`multilevel.cli`: they read specs, fit, call the verbs and write
run folders.
"""
