"""``sipclient run``: run YAML call scenarios (``*.sip.yaml``) and report.

    sipclient run scenarios/                          # every *.sip.yaml below, on the lab
    sipclient run scenarios/ -k "echo and not tls" --junit out.xml --json out.json
    sipclient run calls/ --profile cloud.yaml -n 2    # a real PBX; two workers share it
    sipclient run scenarios/ -v                       # a line per step as it ends
    sudo sipclient run scenarios/ --capture-interface eth0  # + capture.iface.pcapng each
    sipclient run --schema > scenario.schema.json

Every file is loaded and checked before anything runs: any error is printed as
``file:line: message`` and the run stops with exit status 2. The default target is the
built-in lab: used when already up, else started for the run and stopped after it. With
``-n N`` each worker runs its own lab. Exit status: 0 all passed, 1 one failed or errored,
2 bad files or usage, 130 Ctrl-C, 143 SIGTERM (after every running scenario hung up,
unregistered and wrote its reports). See docs/scenarios.md.

Progress: a line per scenario as it ends; with ``-v`` also a line per step as it ends (from
worker processes too); on a terminal without ``-v`` a status line shows the running
scenario's step count. ``--capture-interface IFACE`` is checked before anything runs (dumpcap
must be able to capture there: root): otherwise exit 2 with one line.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sipclient.cli import (EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TERMINATED,
                           EXIT_USAGE, Env, UsageError)
from sipclient.cli._help import add_command
from sipclient.cli._hep import add_hep_options, hep_settings
from sipclient.io.atomic import OutputError, write_atomic


def register(subparsers: argparse._SubParsersAction) -> None:
    p = add_command(subparsers, "run", run)
    p.add_argument("paths", nargs="*", metavar="PATH", help="scenario files or folders")
    p.add_argument("-k", dest="keyword", metavar="EXPR",
                   help="only scenarios whose name, file name or tags match EXPR (words as "
                        "substrings, with and/or/not and parentheses, as pytest's -k)")
    p.add_argument("--target", metavar="TARGET", help="the PBX instead of the lab: "
                   "udp:host:port, tcp:..., wss://host:8089/ws ...")
    p.add_argument("--profile", metavar="FILE", help="a target profile (YAML: target, domain, "
                   "transports, accounts with password_file/password_env)")
    p.add_argument("--insecure", action="store_true",
                   help="TLS/WSS to --target/--profile: accept a certificate that does not "
                        "verify (the lab is always accepted)")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML to FILE")
    p.add_argument("--json", metavar="FILE", help="write the run's results (JSON) to FILE")
    p.add_argument("--lab-run-dir", metavar="DIR",
                   help="the lab's run directory: use the lab up there, else start one there "
                        "(default: $SIPCLIENT_LAB_RUN_DIR, else ./run/lab)")
    p.add_argument("--report-dir", metavar="DIR",
                   help="where reports go (default reports/run-<YYYYmmdd-HHMMSS>/)")
    p.add_argument("-n", "--workers", type=_workers, default=1, metavar="N",
                   help="run N scenarios at a time in worker processes (each with its own "
                        "lab; an external target is shared: accounts must not overlap)")
    p.add_argument("--schema", action="store_true",
                   help="print the JSON Schema of scenario files and exit")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print a line per step as it ends (path, kind and title, "
                        "result, time; a failed step's message), from workers too. Without "
                        "it, a terminal shows a status line with the running scenario's steps")
    p.add_argument("--capture-interface", metavar="IFACE",
                   help="with root: also capture IFACE with dumpcap during each scenario (from "
                        "before its agents open until after its cleanup), into "
                        "capture.iface.pcapng beside its capture.pcap; checked before "
                        "anything runs (exit 2 when dumpcap cannot capture there)")
    add_hep_options(p)
    p.add_argument("--color", "--colour", choices=("auto", "always", "never"), default="auto",
                   type=str.lower, help="colour the verdicts (default: only on a terminal)")


def _workers(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of workers (1-64)")
    return int(text)


def run(args: argparse.Namespace, env: Env) -> int:
    if args.schema:
        from sipclient.scenario.schema import schema_json

        print(schema_json(), file=env.stdout)
        return EXIT_OK
    err = env.stderr
    if not args.paths:
        print("sipclient run: give at least one scenario file or folder "
              "(e.g. sipclient run scenarios/)", file=err)
        return EXIT_USAGE
    from sipclient.scenario.labs import TargetSpec
    from sipclient.scenario.runner import RunPlan, run_plan
    from sipclient.scenario.selection import KeywordError, collect_files, load_all, select

    try:
        files = collect_files(args.paths)
    except FileNotFoundError as exc:
        print(f"sipclient run: {exc}", file=err)
        return EXIT_USAGE
    if not files:
        print(f"sipclient run: no *.sip.yaml file in {', '.join(args.paths)}", file=err)
        return EXIT_USAGE
    scenarios, errors = load_all(files)
    if errors:
        for e in errors:
            print(str(e), file=err)
        bad = len({e.path for e in errors})
        print(f"sipclient run: {len(errors)} error{'s' * (len(errors) != 1)} in {bad} "
              f"file{'s' * (bad != 1)}; nothing was run", file=err)
        return EXIT_USAGE
    try:
        chosen = select(scenarios, args.keyword)
    except KeywordError as exc:
        print(f"sipclient run: {exc}", file=err)
        return EXIT_USAGE
    if not chosen:
        print(f"sipclient run: no scenario matches -k {args.keyword!r} "
              f"({len(scenarios)} loaded)", file=err)
        return EXIT_USAGE
    try:
        hep_settings(args, env)  # --hep: checked here (exit 2), built by each worker
    except UsageError as exc:
        print(f"sipclient run: {exc}", file=err)
        return EXIT_USAGE
    hep = {"target": args.hep, "capture_id": args.hep_id, "auth_key_env": args.hep_key_env,
           "auth_key_file": args.hep_key_file} if args.hep else None
    environ = env.environ
    if args.lab_run_dir:
        environ = {**(os.environ if environ is None else environ),
                   "SIPCLIENT_LAB_RUN_DIR": str(Path(args.lab_run_dir).absolute())}
    spec = TargetSpec(target=args.target, profile=args.profile, insecure=args.insecure,
                      environ=environ, hep=hep)
    if not spec.is_lab:
        from sipclient.scenario.target import ProfileError

        try:
            spec.build()
        except ProfileError as exc:
            print(f"sipclient run: {exc}", file=err)
            return EXIT_USAGE
    elif args.insecure:
        print("sipclient run: --insecure applies to --target/--profile (the lab's own "
              "certificate is always accepted)", file=err)
        return EXIT_USAGE
    if args.capture_interface:
        problem = _probe_capture(args.capture_interface)
        if problem:
            print(f"sipclient run: {problem}", file=err)
            return EXIT_USAGE
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report_root = Path(args.report_dir or f"reports/run-{stamp}").absolute()
    return _run(args, env, RunPlan(chosen, spec, report_root, workers=args.workers,
                                   capture_interface=args.capture_interface),
                deselected=len(scenarios) - len(chosen), run_plan=run_plan)


def _probe_capture(interface: str) -> str | None:
    """Why dumpcap cannot capture on ``interface`` (no dumpcap, not root, no such
    interface), or None: a short real capture into a scratch folder, before anything runs."""
    import tempfile

    from sipclient.pcap.live import InterfaceCapture, LiveCaptureError

    with tempfile.TemporaryDirectory(prefix="sipclient-probe-") as scratch:
        probe = InterfaceCapture(interface, Path(scratch) / "probe.pcapng")
        try:
            probe.start()
        except LiveCaptureError as exc:
            text = str(exc)
            if "permission" in text.lower() or "not permitted" in text.lower():
                text += " (capturing needs root, or a dumpcap allowed to capture)"
            return text
        finally:
            probe.stop(grace=0.0)
    return None


def _run(args: argparse.Namespace, env: Env, plan, *, deselected: int, run_plan) -> int:
    from sipclient.cli._trace import use_color
    from sipclient.scenario.progress import Progress
    from sipclient.scenario.reports import junit_xml, run_document, write_json

    color = use_color(args.color, env.stdout, env.getenv("NO_COLOR"))
    live = bool(getattr(env.stdout, "isatty", lambda: False)()) and env.getenv("TERM") != "dumb"
    progress = Progress(env.stdout, len(plan.scenarios), color=color, errors=env.stderr,
                        verbose=args.verbose, live=live)
    note = f" ({deselected} deselected by -k)" if deselected else ""
    workers = f", {min(plan.workers, len(plan.scenarios))} workers" if plan.workers > 1 else ""
    print(f"running {len(plan.scenarios)} scenario{'s' * (len(plan.scenarios) != 1)}"
          f"{note}{workers}; reports in {plan.report_root}", file=env.stdout, flush=True)
    started = time.time()

    def document(results, outcome=None, code=None):
        return run_document(
            results, started=started, duration=time.time() - started,
            target=outcome.target if outcome else plan.target.describe(),
            report_dir=plan.report_root, paths=args.paths, keyword=args.keyword,
            deselected=deselected, workers=plan.workers, exit_code=code,
            interrupted=outcome.signal_name if outcome else None)

    done: dict[int, dict] = {}

    class Listener:
        note = staticmethod(progress.note)
        started = staticmethod(progress.started)
        step = staticmethod(progress.step)

        @staticmethod
        def finished(index, result, worker):
            progress.finished(index, result, worker)
            done[index] = result  # run.json grows as the run goes: a killed run keeps it
            try:
                write_json(plan.report_root / "run.json",
                           document([done[k] for k in sorted(done)]))
            except OutputError:
                pass  # said once, at the end, with the path (a full disk)

    outcome = run_plan(plan, Listener())
    code = _exit_code(outcome)
    doc = document(outcome.results, outcome, code)
    written, unwritten = [], []
    for what, path, text in (
            ("run.json", plan.report_root / "run.json", None),
            ("json: ", args.json, None),
            ("junit:", args.junit, lambda: junit_xml(doc, root=Path.cwd()))):
        if path is None:
            continue
        try:
            if text is None:
                path = write_json(path, doc)
            else:
                path = write_atomic(path, text(), make_parents=True)
        except OutputError as exc:  # a full disk: say which file, fail the run
            unwritten.append(exc.strerror)
            continue
        if what != "run.json":
            written.append(f"{what} {path}")
    for problem in unwritten:
        print(f"sipclient run: {problem}", file=env.stderr, flush=True)
    if unwritten and code == EXIT_OK:
        code = EXIT_FAILURE
    page = _write_html(plan, doc, args, env)
    if page is not None:
        written.insert(0, f"html:  {page}")
    if outcome.error:
        print(f"sipclient run: {outcome.error}", file=env.stderr, flush=True)
    progress.summary(outcome.results, report_dir=str(plan.report_root),
                     interrupted=outcome.signal_name, extra=written)
    return code


def _write_html(plan, doc, args, env) -> Path | None:
    """report.html beside run.json (sipclient.scenario.html_report); a problem drawing it is
    a warning, never another exit code."""
    from sipclient.scenario.html_report import write_report

    settings = {"report folder": str(plan.report_root)}
    if args.hep:
        settings["HEP"] = hep_settings(args, env).describe()
    try:
        return write_report(plan.report_root, doc, settings=settings)
    except Exception as exc:  # noqa: BLE001 - the run's verdict stands without the page
        print(f"sipclient run: report.html not written: {type(exc).__name__}: {exc}",
              file=env.stderr)
        return None


def _exit_code(outcome) -> int:
    import signal

    if outcome.signal == signal.SIGTERM:
        return EXIT_TERMINATED
    if outcome.signal is not None:
        return EXIT_INTERRUPTED
    if outcome.error and not any(r.get("status") in ("passed", "failed")
                                 for r in outcome.results):
        return EXIT_USAGE  # nothing could run (the lab did not start)
    return EXIT_OK if all(r.get("status") == "passed" for r in outcome.results) \
        else EXIT_FAILURE
