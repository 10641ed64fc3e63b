"""Benchmarks for recipe-bot: a whole sweep against local upstreams, and hashing a large download.

Not shipped with the package (setuptools only finds `bot*` and `checkers*`); see bench/README.md.
"""
