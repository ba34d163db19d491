"""Control: ``set``, ``parallel`` (branches at the same time; the first failure
cancels the others), ``repeat`` (``${i}`` counts from 0)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..kinds import INTEGER, arguments, ref, step_kind
from ..context import CURRENT_PATH, RunContext, StepFailed, StepStopped
from ..model import Step

@step_kind("set", {"type": "object", "title": "a mapping of name: value",
           "propertyNames": ref("name"), "minProperties": 1})
async def set_(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    for name, value in args.items():
        if name == "name":
            continue
        ctx.set_var(str(name), value)


@step_kind("parallel", {"type": "object", "title": "a mapping of branch name: [steps]",
           "propertyNames": ref("name"), "minProperties": 1,
           "additionalProperties": ref("steps")}, unresolved=True)
async def parallel(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """Every branch as its own task; the step fails with the first branch that fails, and
    the other branches are cancelled (their unfinished steps show as skipped)."""
    assert ctx.run_steps is not None
    path = CURRENT_PATH.get()
    tasks = {asyncio.ensure_future(ctx.run_steps(steps, f"{path}.{name}")): name
             for name, steps in step.branches.items()}
    failed: tuple[str, BaseException] | None = None
    try:
        pending = set(tasks)
        while pending and failed is None:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    failed = (tasks[task], task.exception())  # type: ignore[assignment]
                    break
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if failed is None:
        return
    branch, exc = failed
    for result in ctx.result.steps:
        if result.status in ("interrupted", "running") and result.path.startswith(path + ".") \
                and not result.path.startswith(f"{path}.{branch}."):
            result.status = "skipped"
            result.message = f"cancelled: branch {branch} failed"
    if isinstance(exc, StepStopped):
        raise StepFailed(f"branch {branch} failed at step {exc.result.path} "
                         f"({exc.result.title}): {exc.result.message}")
    raise exc


@step_kind("repeat", arguments({"times": INTEGER, "steps": ref("steps")}, ("times", "steps")),
           unresolved=True)
async def repeat(ctx: RunContext, step: Step, args: dict[str, Any]) -> None:
    """The child steps ``times`` times; ``${i}`` is the iteration, from 0."""
    assert ctx.run_steps is not None
    times = ctx.resolve(args.get("times"))
    try:
        count = int(times)
    except (TypeError, ValueError):
        raise StepFailed(f"repeat: times {times!r} is not a whole number") from None
    path = CURRENT_PATH.get()
    for i in range(count):
        try:
            with ctx.iteration(i):
                await ctx.run_steps(step.children, f"{path}[{i}]")
        except StepStopped as stop:
            raise StepFailed(f"iteration {i} failed at step {stop.result.path} "
                             f"({stop.result.title}): {stop.result.message}") from None
