"""Active health checks (``opsrules probe``): the targets file and what a check's answer
means, as data; streams/probe.py performs the checks and sends the results."""
