"""The sections of a run's report, one small function each, built from the run's stored artifacts."""
