"""An alert as the firing view holds it (``<app_id>.alerts.firing``, read by every
worker for inhibition): since when it fires, whether it flaps, until when a rule on
single records keeps it firing."""

from __future__ import annotations

from processors.decisions.alert_record import AlertRecord, Flap
from processors.decisions.alert_state import AlertState
from processors.decisions.inhibition import FiringAlert
from processors.rules.compiler import CompiledRule, CompiledRulebook
from processors.rules.label_matchers import alert_labels


def firing_alert(rulebook: CompiledRulebook, key: str, record: AlertRecord) -> FiringAlert | None:
    """The firing view's entry of a saved alert, if it fires (or is held firing while it
    flaps); for a shell reconciling the view with restored records."""
    rule = rulebook.rules.get(record.rule_id) if record.rule_id is not None else None
    if rule is None or not record.fires:
        return None
    spec = rule.rule
    labels = alert_labels(rule.id, spec.severity, spec.labels, record.group)
    return as_firing(rule, key, labels, record.alert, record.flap, 0)


def as_firing(
    rule: CompiledRule,
    key: str,
    labels: dict[str, str],
    state: AlertState,
    flap: Flap | None,
    default_since_ms: int,
) -> FiringAlert:
    """The firing view's entry of an alert that fires (or is held firing while it
    flaps): since its activation (or the flap's hold); a rule on single records fires
    until ``keep_firing_for`` after its last match."""
    since = state.active_since_ms
    if since is None:
        held_since = flap.held_since_ms if flap is not None else None
        since = held_since or default_since_ms
    until = None
    if not rule.timing.resolves and state.last_true_ms is not None:
        until = state.last_true_ms + rule.timing.keep_firing_for_ms
    flapping = flap is not None and flap.flapping
    return FiringAlert(key, rule.id, labels, since, flapping, until_ms=until)
