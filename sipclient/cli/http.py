"""``sipclient http ...``: the PBX's HTTP integration surface (issue 9, docs/http.md).

    sipclient http c2c --dialect seed001 --url https://127.0.0.1:8443 --ramal 1001 --number 600 \\
        --login root --senha env:SENHA --token env:TOKEN --ca-file run/lab/twin/tls/lab.crt
    sipclient http status --url ... --login root --senha env:SENHA --token env:TOKEN
    sipclient http report --url ... --since "2026-01-02 00:00:00" (credentials as above)
    sipclient http twin up --login root --senha env:SENHA --token env:TOKEN \\
        --webhook seed000=http://127.0.0.1:9000/seed000/cdr
    sipclient http receive --port 9000 --count 2 --timeout 60 [--strict]
    sipclient http insert --campaign 235 --phone 11:90000600 --field cliente=Leandro (creds)
    sipclient http statusdiscador|deletediscador --campaign 235 (credentials as above)
    sipclient http statusdetalhado --campaign 235 --idmailing 1435743
    sipclient http statusoperacoes --since "2026-01-02 00:00:00"
    sipclient http bloqueioclasse5 --cliente lab --acao BLOQUEAR

Secrets are ``env:NAME`` or ``file:PATH``, never literal values, and never printed.
Exit codes: 0 ok, 1 the API refused or answered something else than its document says,
2 bad usage, 4 timeout (``receive``), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from sipclient.cli import EXIT_FAILURE, EXIT_OK, EXIT_TIMEOUT, Env, UsageError
from sipclient.cli._help import add_command
from sipclient.http.dialects import dialect_id

DIALECTS_C2C = ("seed000", "seed001", "seed003")  # or the modules' names: krolik, pbx_api, rest_c2c
DIALER_ACTIONS = ("insert", "statusdiscador", "statusdetalhado", "deletediscador",
                  "statusoperacoes", "bloqueioclasse5")


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "http")
    actions = parser.add_subparsers(dest="http_action", metavar="ACTION")
    actions.required = True

    def client_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--url", required=True, help="base URL of the API (https://host:port)")
        p.add_argument("--login", default="root", help="seed 001 login")
        p.add_argument("--senha", help="seed 001 password: env:NAME or file:PATH")
        p.add_argument("--token", help="seed 001 token: env:NAME or file:PATH")
        p.add_argument("--insecure", action="store_true",
                       help="accept any TLS certificate (a lab)")
        p.add_argument("--ca-file", help="verify TLS against this CA (the twin's lab.crt)")
        p.add_argument("--source", help="local address to send from")
        p.add_argument("--timeout", type=float, default=10.0)
        p.set_defaults(func=run)

    c2c = actions.add_parser("c2c", help="click-to-call in one of the dialects")
    client_opts(c2c)
    c2c.add_argument("--dialect", type=_c2c_dialect, default="seed001", metavar="DIALECT",
                     help="seed000 (krolik), seed001 (pbx_api, the default) or seed003 "
                          "(rest_c2c)")
    c2c.add_argument("--ramal", required=True, help="the extension to ring first (4 digits)")
    c2c.add_argument("--number", required=True, help="the number dialled once it answers")
    c2c.add_argument("--key", default="", help="seed 000: the CRM's key (its CDR callid)")
    c2c.add_argument("--customer-code", default="100", help="seed 000: 3-digit code")
    client_opts(actions.add_parser("status", help="seed 001 statusramais"))
    report = actions.add_parser("report", help="seed 001 statusreport")
    client_opts(report)
    report.add_argument("--since", default="", help="datainicial, YYYY-MM-DD hh:mm:ss")
    active = actions.add_parser("active", help="seed 003 active call of an extension")
    client_opts(active)
    active.add_argument("--ramal", required=True)
    insert = actions.add_parser("insert", help="seed 001 dialer: add a contact to a campaign")
    client_opts(insert)
    insert.add_argument("--campaign", required=True, help="idcampanha")
    insert.add_argument("--phone", action="append", default=[], metavar="DDD:TEL",
                        help="a number, DDD apart (up to 5: ddd1/tel1 .. ddd5/tel5)")
    insert.add_argument("--field", action="append", default=[], metavar="NAME=VALUE",
                        help="idcrm, cliente, cpf, endereco .. conta, gen1 .. gen22")
    for name, helptext in (("statusdiscador", "seed 001 dialer: the campaign's contacts"),
                           ("deletediscador", "seed 001 dialer: delete the campaign's contacts"),
                           ("statusdetalhado", "seed 001 dialer: a CONCLUIDO contact's call")):
        p = actions.add_parser(name, help=helptext)
        client_opts(p)
        p.add_argument("--campaign", required=True, help="idcampanha")
        if name == "statusdetalhado":
            p.add_argument("--idmailing", required=True, help="the contact's id")
    ops = actions.add_parser("statusoperacoes", help="seed 001 operators' login/logout/pauses")
    client_opts(ops)
    ops.add_argument("--since", default="", help="datainicial, YYYY-MM-DD hh:mm:ss")
    block = actions.add_parser("bloqueioclasse5", help="seed 001: block/unblock a tenant")
    client_opts(block)
    block.add_argument("--cliente", required=True, help="logincliente (the lab's: lab)")
    block.add_argument("--acao", required=True, choices=("BLOQUEAR", "DESBLOQUEAR"),
                       help="classe5acao")

    twin = actions.add_parser("twin", help="the lab twin of the APIs (needs `lab up`)")
    twin_actions = twin.add_subparsers(dest="twin_action", metavar="ACTION")
    twin_actions.required = True
    up = twin_actions.add_parser("up", help="serve the twin until Ctrl-C")
    up.add_argument("--run-dir", help="the lab's run directory (default run/lab)")
    up.add_argument("--port", type=int, default=8443)
    up.add_argument("--login", default="root")
    up.add_argument("--senha", required=True, help="env:NAME or file:PATH")
    up.add_argument("--token", required=True, help="env:NAME or file:PATH")
    up.add_argument("--source", default="127.0.0.1", help="the one allowed source address")
    up.add_argument("--webhook", action="append", default=[], metavar="DIALECT=URL[,secret=SPEC]",
                    help="push every finished call to URL in DIALECT (seed000/2/3/4)")
    up.add_argument("--ring-timeout", type=float, default=20.0)
    up.add_argument("--seed003-port", type=int, default=3030,
                    help="also serve seed 003 over plain HTTP on this port (its document's "
                         "3030; 0: any free port; -1: not at all)")
    up.add_argument("--campaign", action="append", default=[],
                    metavar="ID,operators=1001+1002[,queue=Q,tries=5,retry=300,ring=30,...]",
                    help="a dialer campaign (see docs/http.md for every key)")
    up.add_argument("--for", dest="duration", type=float, default=None,
                    help="stop after N seconds (default: until Ctrl-C)")
    up.set_defaults(func=run)

    rx = actions.add_parser("receive", help="webhook receivers on loopback; prints JSON lines")
    rx.add_argument("--port", type=int, default=0)
    rx.add_argument("--push-token", help="seed 002 token header to require: env:/file:")
    rx.add_argument("--api-key", help="seed 004 ApiKey to require: env:/file:")
    rx.add_argument("--count", type=int, default=0, help="exit after N webhooks")
    rx.add_argument("--timeout", type=float, default=None, help="give up after N seconds")
    rx.add_argument("--strict", action="store_true",
                    help="refuse (400) a payload that departs from its document instead of "
                         "accepting it with warnings")
    rx.add_argument("--contacts", default="",
                    help="seed004: comma-separated known numbers (others count as NotFound)")
    rx.set_defaults(func=run)


def run(args: argparse.Namespace, env: Env) -> int:
    try:
        return asyncio.run(_main(args, env))
    except KeyboardInterrupt:
        print("interrupted", file=env.stderr)
        return 130


def _secret(spec: str | None, what: str, env: Env) -> Any:
    from sipclient.http.secrets import SecretSpecError, resolve

    if spec is None:
        raise UsageError(f"{what} is required (env:NAME or file:PATH)")
    try:
        source = env.environ if env.environ is not None else None
        return resolve(spec, what, source)
    except SecretSpecError as exc:
        raise UsageError(str(exc)) from None


async def _main(args: argparse.Namespace, env: Env) -> int:
    from sipclient.http.errors import FieldError, HttpIntegrationError
    from sipclient.http.wire import WireError

    action = args.http_action
    try:
        if action == "twin":
            return await _twin(args, env)
        if action == "receive":
            return await _receive(args, env)
        return await _client(args, env)
    except (FieldError, WireError) as exc:
        print(f"sipclient http {action}: {exc}", file=env.stderr)
        return EXIT_FAILURE
    except HttpIntegrationError as exc:
        print(f"sipclient http {action}: {exc}", file=env.stderr)
        return EXIT_FAILURE


async def _client(args: argparse.Namespace, env: Env) -> int:
    from sipclient.http.client import HttpClient
    from sipclient.http.dialects import krolik, pbx_api, rest_c2c

    client = HttpClient(insecure=args.insecure, ca_file=args.ca_file, timeout=args.timeout,
                        source_address=args.source)
    base = args.url.rstrip("/")

    def creds() -> pbx_api.Credentials:
        return pbx_api.Credentials(args.login, _secret(args.senha, "--senha", env),
                                   _secret(args.token, "--token", env))

    if args.http_action == "c2c" and args.dialect == "seed000":
        c2c = krolik.click_to_call(krolik.make_ramal(args.customer_code, args.ramal),
                                    args.number, args.key or "sipclient")
        resp = await client.post_form(base + krolik.CALL_PATH, c2c.form())
        print(json.dumps({"status": resp.status, "answer": resp.text}), file=env.stdout)
        return EXIT_OK if resp.status == 200 else EXIT_FAILURE
    if args.http_action == "c2c" and args.dialect == "seed003":
        resp = await client.request("GET", base + rest_c2c.call_path(args.ramal, args.number))
        call_id = rest_c2c.parse_call_answer(resp.json())
        print(json.dumps({"callId": call_id, "answer": resp.json()}), file=env.stdout)
        return EXIT_OK
    if args.http_action == "active":
        resp = await client.request("GET", base + rest_c2c.active_path(args.ramal))
        print(json.dumps(rest_c2c.parse_answer(resp.json())), file=env.stdout)
        return EXIT_OK
    url = base + pbx_api.API_PATH
    if args.http_action in DIALER_ACTIONS:
        answer = await _dialer(client, url, args, creds())
        print(json.dumps(answer, ensure_ascii=False), file=env.stdout)
        refused = _is_status(answer) and answer[1:2] != ["OK"]
        return EXIT_FAILURE if refused else EXIT_OK
    if args.http_action == "c2c":
        body = pbx_api.request("clicktocall", creds(), origem=args.ramal, destino=args.number)
        answer = (await client.post_json(url, body)).json()
        call_id = pbx_api.parse_click_to_call_answer(answer)
        print(json.dumps({"ID": call_id, "answer": answer}), file=env.stdout)
        return EXIT_OK
    if args.http_action == "status":
        rows = pbx_api.validate_statusramais(
            (await client.post_json(url, pbx_api.request("statusramais", creds()))).json())
        print(json.dumps(rows, ensure_ascii=False), file=env.stdout)
        return EXIT_OK
    rows = pbx_api.validate_report((await client.post_json(
        url, pbx_api.request("statusreport", creds(), datainicial=args.since))).json())
    print(json.dumps(rows, ensure_ascii=False), file=env.stdout)
    return EXIT_OK


async def _dialer(client: Any, url: str, args: argparse.Namespace, creds: Any) -> Any:
    """One of seed 001's dialer, operator or Classe5 actions; the answer, checked."""
    from sipclient.http.dialects import dialer, operators, pbx_api

    action = args.http_action
    params: dict[str, str] = {}
    if action == "bloqueioclasse5":
        params = {"logincliente": args.cliente, "classe5acao": args.acao}
    elif action == "statusoperacoes":
        params = {"datainicial": args.since}
    else:
        params["idcampanha"] = args.campaign
    if action == "statusdetalhado":
        params["idmailing"] = args.idmailing
    if action == "insert":
        if not args.phone or len(args.phone) > dialer.PHONES:
            raise UsageError(f"insert: give 1 to {dialer.PHONES} --phone DDD:TEL")
        for i, phone in enumerate(args.phone, 1):
            ddd, sep, tel = phone.partition(":")
            if not sep:
                raise UsageError(f"--phone {phone!r}: expected DDD:TEL (e.g. 11:41187777)")
            params[f"ddd{i}"], params[f"tel{i}"] = ddd, tel
        for item in args.field:
            name, sep, value = item.partition("=")
            if not sep or name not in dialer.INSERT_FIELDS or name.startswith(("ddd", "tel")):
                raise UsageError(f"--field {item!r}: expected NAME=VALUE with NAME one of "
                                 "idcrm, cliente, cpf, endereco .. conta, gen1 .. gen22")
            params[name] = value
        dialer.parse_insert(params)     # a bad field is said here, before sending
    answer = (await client.post_json(url, pbx_api.request(action, creds, **params))).json()
    if action == "statusdiscador" and not _is_status(answer):
        dialer.validate_statusdiscador(answer)
    elif action == "statusdetalhado" and not _is_status(answer):
        dialer.validate_statusdetalhado(answer)
    elif action == "statusoperacoes" and not _is_status(answer):
        operators.validate(answer)
    return answer


def _is_status(answer: Any) -> bool:
    return isinstance(answer, list) and answer[:1] == ["Status"]


def _campaign(spec: str) -> Any:
    """``235,operators=1012+1013,retry=300,...`` -> CampaignRules (UsageError when bad)."""
    from sipclient.http.dialects.dialer import ANSWER, BUSY, NOANSWER, CampaignRules

    ident, *opts = spec.split(",")
    kwargs: dict[str, Any] = {}
    retry: dict[str, float | None] = {}
    try:
        for opt in opts:
            key, _, value = opt.partition("=")
            if key == "operators":
                kwargs["operators"] = tuple(v for v in value.split("+") if v)
            elif key in ("queue", "name"):
                kwargs[key] = value
            elif key in ("tries", "lines"):
                kwargs["max_tries" if key == "tries" else "concurrency"] = int(value)
            elif key in ("ring", "concluded"):
                kwargs["ring_timeout" if key == "ring" else "concluded_after"] = float(value)
            elif key in ("retry", "retry-busy", "retry-answered"):
                outcome = {"retry": NOANSWER, "retry-busy": BUSY,
                           "retry-answered": ANSWER}[key]
                retry[outcome] = None if value == "never" else float(value)
            elif key == "paused" and not value:
                kwargs["paused"] = True
            else:
                raise UsageError(f"--campaign {spec!r}: unknown key {key!r}")
        rules = CampaignRules(ident, **kwargs)
    except ValueError as exc:
        raise UsageError(f"--campaign {spec!r}: {exc}") from None
    rules.retry_after.update(retry)
    return rules


def _c2c_dialect(text: str) -> str:
    """``--dialect``: a seed id or its module's name (``krolik``) -> the seed id."""
    try:
        ident = dialect_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if ident not in DIALECTS_C2C:
        raise argparse.ArgumentTypeError(f"{text!r} has no click-to-call; choose from "
                                         f"{', '.join(DIALECTS_C2C)}")
    return ident


def _webhook(spec: str, env: Env) -> Any:
    from sipclient.http.twin import WebhookTarget

    dialect, sep, rest = spec.partition("=")
    if not sep:
        raise UsageError(f"--webhook {spec!r}: expected DIALECT=URL[,secret=SPEC][,method=PUT]")
    url, *opts = rest.split(",")
    secret = None
    method = "POST"
    for opt in opts:
        key, _, value = opt.partition("=")
        if key == "secret":
            secret = _secret(value, f"--webhook {dialect} secret", env)
        elif key == "method" and value.upper() in ("PUT", "POST"):
            method = value.upper()
        else:
            raise UsageError(f"--webhook {dialect}: unknown option {opt!r}")
    try:
        return WebhookTarget(dialect_id(dialect), url, secret, method)
    except ValueError as exc:
        raise UsageError(f"--webhook: {exc}") from None


async def _twin(args: argparse.Namespace, env: Env) -> int:
    """Serve the twin, printing its log (refusals, failed pushes) on stderr."""
    import logging

    logger = logging.getLogger("sipclient.http")
    handler = logging.StreamHandler(env.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return await _serve_twin(args, env)
    finally:
        logger.removeHandler(handler)


def twin_lab(run_dir: str | None, env: Env) -> Any:
    """The lab the twin drives: ``--run-dir``, else ``$SIPCLIENT_LAB_RUN_DIR``, read from the
    state ``lab up`` left there (its ports, AMI's included), else the defaults."""
    from sipclient.lab import Lab, LabConfig, LabError

    run_dir = run_dir or env.getenv("SIPCLIENT_LAB_RUN_DIR")
    try:
        return Lab.from_run_dir(run_dir) if run_dir else Lab(LabConfig.from_env())
    except LabError as exc:
        raise UsageError(str(exc)) from None


async def _serve_twin(args: argparse.Namespace, env: Env) -> int:
    from sipclient.http.dialects.pbx_api import Credentials
    from sipclient.http.twin import Twin, TwinConfig

    creds = Credentials(args.login, _secret(args.senha, "--senha", env),
                        _secret(args.token, "--token", env), args.source)
    hooks = [_webhook(spec, env) for spec in args.webhook]
    lab = twin_lab(args.run_dir, env)
    config = TwinConfig(credentials=creds, port=args.port, webhooks=hooks,
                        ring_timeout=args.ring_timeout,
                        campaigns=[_campaign(spec) for spec in args.campaign],
                        seed003_port=None if args.seed003_port < 0 else args.seed003_port)
    twin = Twin(lab, config)
    try:
        await twin.start()
    except OSError as exc:      # a port in use: --port or --seed003-port (3030 by default)
        print(f"sipclient http twin up: {exc} (see --port, --seed003-port)", file=env.stderr)
        return EXIT_FAILURE
    try:
        print(json.dumps({"url": twin.url, "ca_file": str(twin.ca_file),
                          "seed003_url": twin.seed003_url if twin.plain_server else None,
                          "minicrm_template": twin.minicrm_template,
                          "source": args.source, "webhooks": [h.dialect for h in hooks]}),
              file=env.stdout, flush=True)
        if args.duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(args.duration)
    finally:
        await twin.close()
    return EXIT_OK


async def _receive(args: argparse.Namespace, env: Env) -> int:
    from sipclient.http.receivers import PATHS, WebhookReceiver

    token = _secret(args.push_token, "--push-token", env).reveal() if args.push_token else None
    key = _secret(args.api_key, "--api-key", env).reveal() if args.api_key else None
    contacts = {c.strip() for c in args.contacts.split(",") if c.strip()} or None
    async with WebhookReceiver(port=args.port, token=token, api_key=key, strict=args.strict,
                               contacts=contacts) as rx:
        print(json.dumps({"urls": {d: rx.url(d) for d in PATHS}}), file=env.stdout, flush=True)
        loop = asyncio.get_running_loop()
        deadline = None if args.timeout is None else loop.time() + args.timeout
        shown = rejected = 0
        while not args.count or shown < args.count:
            seen = rx.changes
            for w in rx.received[shown:]:
                print(json.dumps(w.report(), default=str, ensure_ascii=False), file=env.stdout,
                      flush=True)
                for warning in w.warnings:
                    print(f"warning {w.dialect} {w.kind}: {warning}", file=env.stderr,
                          flush=True)
            shown = len(rx.received)
            for dialect, error in rx.rejected[rejected:]:
                print(f"rejected {error}", file=env.stderr, flush=True)
            rejected = len(rx.rejected)
            if args.count and shown >= args.count:
                break
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return EXIT_TIMEOUT
            await rx.wait_change(seen, left)  # the next webhook, or the time-out
    return EXIT_OK
