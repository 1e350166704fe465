"""`python -m ferry.cli` runs the `ferry` command."""

from ferry.cli.main import main

main()
