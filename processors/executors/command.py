"""A command receiver: a program run with ``argv``, never through a shell.

Each element of ``argv`` is rendered as a template on the action
(:func:`~processors.executors.requests.template_context`: ``{{ params.target }}``,
``{{ host }}``…) and stays one argument whatever it holds: ``"; rm -rf / #"`` is passed
as those characters, to the program, as one argument. The first element is the program
(looked up on PATH when it has no slash). ``env`` values are templates too.
"""

from __future__ import annotations

from processors.executors.receivers import CommandConfig
from processors.executors.requests import Program, render, template_context
from processors.records import Action


def request(action: Action, config: CommandConfig) -> Program:
    context = template_context(action)
    argv = tuple(render(arg, context) for arg in config.argv)
    env = {name: render(value, context) for name, value in config.env.items()}
    return Program(argv, config.timeout_ms, env, config.cwd)
