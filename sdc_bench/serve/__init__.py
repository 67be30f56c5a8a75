"""Serving kept models: select a run's models, export a package (ensemble or refit, model card, ONNX), predict.

A floor beside ``benchmark`` and ``reports``: it reads the run folder's stored artifacts and imports only
``core``, ``data`` (the loaders and the decoder, so inputs are preprocessed as in training) and ``zoo``
(kept-model I/O). A ``--refit-all`` model is trained by the benchmark floor and handed in by the pipeline.
"""

__all__: list[str] = []
