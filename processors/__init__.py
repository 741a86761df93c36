"""The ground floor of opsrules: wire records, errors, ids and the pure cores. No Kafka,
no faust, no clock (time is passed in); nothing here imports ``streams`` or ``bench``
(an import-linter contract in pyproject.toml)."""
