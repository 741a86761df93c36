"""Latency: produce → action, through the real worker, at a fixed offered rate.

Starts ``opsrules worker`` as a child process (unique topic prefix, app id and state
dir; ``OPSRULES_RULES_DIR=bench/rulebooks/latency``, whose two rules fire on everything this bench
sends; a small ``OPSRULES_IDLE_TIMEOUT_S``), waits until a warm-up record made it
through to an action (group joins and topic creation out of the way), then for
``--seconds`` offers ``--rate`` records/s, paced in small batches, a ``--log-share`` of
them FATAL logs and the rest metric samples:

- each log has its own ``service`` (``lat-<seq>``) and its send time in
  ``attributes.sent_ns``; the record rule fires on it at once, and its action's evidence
  carries the record back: **record latency** = action received − record sent;
- each metric sample is stamped with its send time as event time and goes to host
  ``w<h>-<second>`` (one series per host and 1-second window, because a series that
  stays true would keep one alert firing and send no new action), on partition ``h``
  mod partitions (so every partition's watermark moves every window); the window rule
  (1 s tumbling count, grace 200 ms, ``value > 0``) fires once per window: **window
  latency** = action received − window end (wall time = event time here). It includes
  the grace (a window cannot close before its end + grace). Windows that end within
  the grace of the last sample of their partition can only be closed by the idle
  timeout; they are reported apart.

A consumer of ``ops.actions.alert`` stamps each fetched batch with ``time.time_ns()``
(one clock, one machine) and matches actions to sends; after the last send it waits
up to ``--drain-s`` for the missing ones, then stops the worker with SIGTERM. A second
consumer reads ``ops.signals`` to split the latency into stages by Kafka CreateTimes:
sent → signal (firehose), signal → action (decision tier), action → bench. The
bench's topics (and faust's) are deleted afterwards unless ``--keep-topics``.

    .venv/bin/python -m bench.latency [--rate 5000] [--seconds 20] [--log-share 0.5]
        [--hosts 10] [--bootstrap HOST:PORT] [--json]

A table by default; one JSON object with ``--json``. Progress goes to stderr.

The modules, one concept each: :mod:`~bench.latency.rulebook` (what the bench and its
rulebook agree on), :mod:`~bench.latency.load` (the records and their pacing),
:mod:`~bench.latency.tally` (what came back, matched to what was sent),
:mod:`~bench.latency.run` (the worker, the readers and the producer around one
measurement), :mod:`~bench.latency.figures` (percentiles, stages and the result),
:mod:`~bench.latency.render` (the table) and :mod:`~bench.latency.cli` (the command
line).
"""
