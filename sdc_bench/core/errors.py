"""Errors a user can cause: one clear line (what, where, how to fix); the CLI prints them and exits 2."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "DiskFullError",
    "ModelError",
    "PluginError",
    "RunManifestError",
    "SdcBenchError",
    "UnknownNameError",
    "WeightsError",
]


class SdcBenchError(Exception):
    """Base class for every error a user can cause; its message is a single line."""


class ConfigError(SdcBenchError):
    """A suite, option or parameter has a bad value."""


class DataError(SdcBenchError):
    """A dataset, manifest or image file is missing, malformed or unusable."""


class UnknownNameError(ConfigError):
    """A registry was asked for a name it does not hold."""


class WeightsError(SdcBenchError):
    """Pretrained weights were asked for but cannot be found or do not fit the model."""


class ModelError(SdcBenchError):
    """A kept model or an exported model package is missing, damaged or not one of ours."""


class DiskFullError(SdcBenchError):
    """A run artifact could not be written because its file system is full (or over quota)."""


class RunManifestError(DataError):
    """A run folder's ``run.json`` is missing, damaged, or of another format version than this sdc-bench's."""


class PluginError(ConfigError):
    """A user plugin cannot be imported, registers a name twice, breaks a contract, or changed since its run began."""
