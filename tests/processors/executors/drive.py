"""Runs a plan as the shell would, with answers given by the test."""

from __future__ import annotations

from collections.abc import Callable

from processors.executors.plans import Plan
from processors.executors.requests import Answer, Step, Verdict, Wait


def drive(plan: Plan, answer: Callable[[Step], Answer]) -> tuple[Verdict, list[Step]]:
    """The verdict and every step the plan asked for, in order; a Wait is answered
    at once."""
    steps: list[Step] = []
    try:
        step = next(plan)
        while True:
            steps.append(step)
            step = plan.send(Answer() if isinstance(step, Wait) else answer(step))
    except StopIteration as done:
        return done.value, steps
