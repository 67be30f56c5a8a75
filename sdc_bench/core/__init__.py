"""The ground floor: run-folder storage, the data contracts, errors, validation, determinism and device helpers.

Every other floor of sdc_bench imports from here; this package imports nothing else of the project
(import-linter checks it), so a contract defined here is defined once for everybody.
"""
