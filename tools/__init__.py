"""Checks on the package that are not part of it: an import-linter contract type and the code-size report."""
