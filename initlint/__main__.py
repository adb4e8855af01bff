"""``python -m initlint`` is the ``initlint`` command (what an editor can start: ``python -m initlint server``)."""

from initlint.cli import main

main()
