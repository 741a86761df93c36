"""A reference interpreter of the rule language, written from rules/README.md alone.

``interpret(rule_files, records, until_ms=...)`` gives the actions the README says must
follow; the differential tests (tests/differential) compare it with the production
cores. It reads no production code but the README, so that a disagreement is a question
to settle from the README, not one implementation checking itself.
"""

from tests.reference.expressions import Unsettled
from tests.reference.interpreter import ExpectedAction, interpret

__all__ = ["ExpectedAction", "Unsettled", "interpret"]
