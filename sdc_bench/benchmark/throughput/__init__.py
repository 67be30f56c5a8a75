"""Inference and training throughput of zoo backbones, measured the way timm's ``benchmark.py`` does.

For every configuration (backbone x mode x precision x channels_last x compiled x batch size) a fresh model
is built on the device, fed one fixed random batch for ``warmup_steps`` untimed steps (these absorb
``torch.compile``, cuDNN autotuning and allocator growth), then for ``repeats`` blocks of ``timed_steps``
steps, each wrapped in ``time.perf_counter()`` and ended by a device synchronisation. A step that runs out
of memory halves the batch size (down to 1) and the configuration is tried again. The result is one row
per configuration in the DESIGN.md throughput schema, plus achieved TFLOP/s and, on known GPUs, the
fraction of the datasheet peak.

Timing definitions (used by the tests and by :func:`reference_images_per_s`):

* ``latency_ms_p50``: the median over repeats of each repeat's median step time;
* ``images_per_s``: ``batch_size / latency_ms_p50`` (so one slow step, e.g. a GC pause, does not move it);
* ``latency_ms_p95``: the 95th percentile of all timed steps pooled;
* ``achieved_tflops``: ``gflops * images_per_s * k / 1000`` with ``k = 1`` for inference and ``k = 3``
  for training (forward + backward, the usual 1:2 convention; the optimizer step is not counted).

``peak_mem_mb`` is ``torch.cuda.max_memory_allocated`` after a reset on CUDA (model, optimizer state,
activations, in MiB), and NaN on CPU: the growth of the peak resident set size (Linux ``VmHWM``) that
the timing still records is no measure there, since memory the allocator kept from earlier
configurations is reused without growing the RSS (a ResNet read 0.19 MB).

``load`` is the 1-minute load average per core when the row was measured (``os.getloadavg``; NaN
where the OS has none); :func:`sdc_bench.reports.throughput_view.under_load` flags rows above
``LOAD_LIMIT``. ``contention`` says, beside the numbers, when other processes' load exceeded the cores left
free or the hypervisor stole CPU time during the row's measurement (:mod:`.contention`); empty otherwise.
"""

from __future__ import annotations

from sdc_bench.benchmark.throughput.config import MODES, ThroughputConfig
from sdc_bench.benchmark.throughput.contention import Contention, ContentionProbe
from sdc_bench.benchmark.throughput.table import COLUMNS, PEAK_TFLOPS, RESUME_KEY, measure, peak_tflops
from sdc_bench.benchmark.throughput.timing import reference_images_per_s
from sdc_bench.core.store import read_throughput

__all__ = [
    "COLUMNS",
    "MODES",
    "PEAK_TFLOPS",
    "RESUME_KEY",
    "Contention",
    "ContentionProbe",
    "ThroughputConfig",
    "measure",
    "peak_tflops",
    "read_throughput",
    "reference_images_per_s",
]
