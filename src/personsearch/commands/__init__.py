"""Sub-commands of the `personsearch` CLI: each module defines `register(subparsers)`."""
