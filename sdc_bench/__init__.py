"""sdc-bench: benchmark and model zoo for spinal-disorder classification from X-ray and MRI."""

__version__ = "0.1.0"
