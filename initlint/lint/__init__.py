"""The linter: rules, the engine that runs them, output formats and fixes."""
