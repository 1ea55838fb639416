"""``python -m shallowlearn``: see :mod:`shallowlearn.cli`."""

if __name__ == "__main__":
    from shallowlearn.cli import main

    raise SystemExit(main())
