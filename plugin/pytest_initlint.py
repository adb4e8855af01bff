"""pytest plugin for initlint (see docs/pytest-plugin.md)."""
