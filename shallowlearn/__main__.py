"""``python -m shallowlearn``: see :mod:`shallowlearn.cli`."""

from .cli import main

raise SystemExit(main())
