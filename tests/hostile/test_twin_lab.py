"""``http twin up`` with ``SIPCLIENT_LAB_RUN_DIR`` and no ``--run-dir`` drives that lab, AMI
port included (issue 18: it took AMI 5038 from the defaults, talked to another lab and died
with an AmiError traceback)."""

from __future__ import annotations

import io
import json

from sipclient.cli import Env
from sipclient.cli.http import twin_lab
from sipclient.lab import LabConfig


def test_the_lab_of_the_run_dir_in_the_environment_gives_its_ami_port(tmp_path):
    config = LabConfig(run_dir=tmp_path).replace(ami_port=15938, sip_port=17948)
    (tmp_path / "lab.json").write_text(json.dumps({"config": config.to_dict()}))
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(),
              environ={"SIPCLIENT_LAB_RUN_DIR": str(tmp_path)})
    lab = twin_lab(None, env)
    assert lab.config.ami_port == 15938 and lab.config.sip_port == 17948
    assert twin_lab(str(tmp_path), Env(environ={})).config.ami_port == 15938
