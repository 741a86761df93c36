"""Programs run by opsrules (act's command and kubernetes receivers, probe's command
checks): argv only, never a shell, in a session of their own so that a timeout kills
the program and everything it started."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from processors.executors.requests import Answer, Program


async def run_program(program: Program, max_output_bytes: int) -> Answer:
    """``program.argv`` without a shell; its exit code and the tails of its output (at
    most ``max_output_bytes`` each), or why it did not finish."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *program.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **program.env},
            cwd=program.cwd,
            start_new_session=True,
        )
    except OSError as exc:
        return Answer(failure=f"cannot run {program.argv[0]}: {exc.strerror or exc}")
    timeout_s = program.timeout_ms / 1000
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return Answer(failure=f"{program.argv[0]} did not finish within {timeout_s:g}s; killed")
    assert proc.returncode is not None
    return Answer(proc.returncode, out[-max_output_bytes:], err[-max_output_bytes:])
