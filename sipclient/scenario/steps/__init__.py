"""Step executors, one small module per family, each registering its kinds in the one
table of step kinds (:mod:`sipclient.scenario.kinds`) with ``@step_kind(...)``:
executor, argument schema, short form, load-time check, and whether the step acts on its
agent or call. :func:`sipclient.scenario.kinds.kinds` imports every module of this package,
so a new module is found without an edit here.

An executor is ``async def run(ctx: RunContext, step: Step, args: dict) -> None``: ``args``
are the step's arguments with ``${...}`` already resolved (a kind registered with
``unresolved=True``, ``parallel`` and ``repeat``, gets them unresolved: their children
resolve when they run). It raises :class:`~sipclient.scenario.context.StepFailed` when the
step did not get what it expected; agent errors (``AuthenticationFailed``, ``SipTimeout``...)
are turned into words by the engine.
"""
