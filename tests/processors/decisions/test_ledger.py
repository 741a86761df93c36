"""The decision ledger keeps executors' reports for the circuit breakers."""

from processors.decisions.ledger import Ledger


def test_an_action_failed_when_any_of_its_receivers_failed() -> None:
    ledger = Ledger()
    ledger.record_result("a1", "failed", 1_000, "exit code 1")  # the restart
    ledger.record_result("a1", "succeeded", 2_000)  # the log webhook, later
    assert (ledger.results["a1"].status, ledger.results["a1"].message) == ("failed", "exit code 1")
    ledger.record_result("a2", "succeeded", 1_000)
    ledger.record_result("a2", "failed", 2_000, "HTTP 500")
    assert ledger.results["a2"].status == "failed"
