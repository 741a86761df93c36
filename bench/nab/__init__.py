"""The Numenta Anomaly Benchmark (NAB) for opsrules' anomaly detector.

- :mod:`bench.nab.scoring` — NAB's scoring rules, pure (a port of NAB v1.1's sweeper);
- :mod:`bench.nab.corpus` — a NAB-layout folder (data, windows, profiles) in memory;
- :mod:`bench.nab.results` — NAB's per-row results files, read and written;
- :mod:`bench.nab.runner` — run a detector over a corpus, score it (fixed or swept);
- :mod:`bench.nab.cli` — ``opsrules bench nab``.

For tuning: ``score_corpus(scores_by_file, load_corpus(path), threshold)``.
"""
