"""A progress bar on stderr when stderr is a terminal; nothing otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """Yield a function that advances the bar by one."""
    if not sys.stderr.isatty() or total == 0:
        yield lambda: None
        return
    with tqdm(total=total, desc=label, unit="recipe", file=sys.stderr, leave=False) as bar:
        yield lambda: bar.update(1)
