"""``python3 -m sipclient.lab render|run``: the container's entry point.

``render`` writes the configuration and certificate into the run directory; ``run`` does
the same and then replaces itself with Asterisk in the foreground (PID 1 in a container, so
``docker stop``'s SIGTERM reaches Asterisk). The configuration comes from ``SIPCLIENT_LAB_*``
variables (see :meth:`sipclient.lab.config.LabConfig.from_env`), or from the ``lab.json``
named by ``--state`` (``sipclient lab up --container``), so the container and the native lab
render the same templates the same way. Standard library only.
"""

from __future__ import annotations

import argparse
import os
import sys

from sipclient.lab.config import LabConfig
from sipclient.lab.errors import LabError
from sipclient.lab.render import ensure_certificate, render
from sipclient.lab.runner import find_asterisk


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m sipclient.lab")
    parser.add_argument("action", choices=("render", "run"))
    parser.add_argument("--run-dir", help="default: $SIPCLIENT_LAB_RUN_DIR or run/lab")
    parser.add_argument("--state", help="render the config saved in this lab.json (what "
                        "`sipclient lab up --container` passes) instead of SIPCLIENT_LAB_*")
    args = parser.parse_args(argv)
    try:
        if args.state:
            config = _from_state(args.state)
        else:
            config = LabConfig.from_env(run_dir=args.run_dir)
        render(config)
        ensure_certificate(config)
        for stale in ("asterisk.ctl", "asterisk.pid"):
            (config.run_dir / "run" / stale).unlink(missing_ok=True)
        if args.action == "render":
            print(f"rendered {config.run_dir}/etc")
            return 0
        asterisk = find_asterisk()
    except (LabError, ValueError) as exc:
        print(f"sipclient lab: {exc}", file=sys.stderr)
        return 1
    endpoints = config.endpoints()
    print(f"sipclient lab: SIP {endpoints['udp']} / {endpoints['tcp']}, TLS {endpoints['tls']},"
          f" WSS {endpoints['wss']}, AMI {endpoints['ami']}, RTP {endpoints['rtp']}",
          flush=True)
    os.chdir(config.run_dir)
    # -f foreground, -n no colour: exactly how sipclient.lab.runner starts the native lab
    os.execv(asterisk, [asterisk, "-C", str(config.asterisk_conf), "-f", "-n"])
    return 0  # pragma: no cover - execv does not return


def _from_state(path: str) -> LabConfig:
    import json

    try:
        with open(path) as handle:
            return LabConfig.from_dict(json.load(handle)["config"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabError(f"{path}: not a lab state file ({exc})") from None


if __name__ == "__main__":
    sys.exit(main())
