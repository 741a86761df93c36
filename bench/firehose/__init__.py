"""Firehose throughput on one core: records/s through ``FirehoseBatch.process``.

``--mode core`` (default) measures the per-batch core alone, with no Kafka I/O: N
pre-encoded metric samples (orjson, ``{"ts", "name", "value", "host", "service",
"labels"}``) from ``--series`` hosts, one per host per round, rounds 10 s of event time
apart, wrapped like aiokafka ``ConsumerRecord``s and fed to ``FirehoseBatch.process`` in
batches of ``--max-records`` (10,000, like ``getmany(max_records=10000)``) on one
partition, with the shipped rulebook (``rules/``). ``--batch-samples K`` adds a run over
metric batches (``{"ts", "host", "service", "samples": [K x {"name", "value",
"labels"}]}``, names cycling over :data:`BATCH_NAMES`): by default N // K of them from
series // K hosts, i.e. the same samples, series count and event-time span as the
single-sample run. Each run is repeated (``--repeat``, median shown) on a fresh
``FirehoseBatch``; the pre-built records are frozen out of the garbage collector so
its cost is that of the work. ``--profile`` adds one more run under cProfile (top
functions by cumulative and by own time). Event times are fixed (2026-01-01) and
``now_ms`` is the last event time: same arguments, same records, same signals.

``--mode kafka`` measures the real loop on a broker (``--bootstrap`` or
``OPSRULES_BOOTSTRAP_SERVERS``): N records are pre-loaded into a fresh metrics topic
under a unique topic prefix (event times ending a minute ago), then, per repeat, (1) a
plain aiokafka ``getmany`` + ``orjson.loads`` loop reads them (the ceiling) and (2) the
real :class:`FirehoseService` (a fresh consumer group) processes them, sending signals
with acks and committing as in production. Both are timed from the assignment of
their partitions (so the group join is excluded, the first fetch is not) to the last
record handled; the service's wall time is also split into phases (waiting in
``getmany``, ``process``, sends and acks, commit). The bench topics are deleted
afterwards (``--keep-topics`` keeps them).

    .venv/bin/python -m bench.firehose [--records N] [--series N] [--batch-samples K]
        [--mode core|kafka] [--profile] [--repeat R] [--json]

A human-readable table by default; one JSON object with ``--json``. Progress goes to
stderr.

The modules, one concept each: :mod:`~bench.firehose.core_mode` and
:mod:`~bench.firehose.kafka_mode` (the two timings), :mod:`~bench.firehose.ceiling` (the
plain loop the kafka mode is held against), :mod:`~bench.firehose.results` (what a run
counted and its rates), :mod:`~bench.firehose.profiling` (cProfile's top functions),
:mod:`~bench.firehose.render` (the tables) and :mod:`~bench.firehose.cli` (the command
line).
"""
