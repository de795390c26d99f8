"""``python -m ganxun``: the same as the ``ganxun`` command."""

from ganxun.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
