"""``sipclient digest``: the RFC vectors through the command line, and usage errors."""

from __future__ import annotations

import io

import pytest

from sipclient.cli import EXIT_OK, EXIT_USAGE, Env, main

RFC2617 = ["digest", "--method", "GET", "--uri", "/dir/index.html", "--username", "Mufasa",
           "--realm", "testrealm@host.com", "--nonce", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
           "--qop", "auth", "--nc", "00000001", "--cnonce", "0a4f113b"]
RFC7616 = ["digest", "--method", "GET", "--uri", "/dir/index.html", "--username", "Mufasa",
           "--realm", "http-auth@example.org",
           "--nonce", "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "--qop", "auth",
           "--nc", "00000001", "--cnonce", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"]


def run(argv, environ=None):
    env = Env(stdout=io.StringIO(), stderr=io.StringIO(), environ=environ or {})
    code = main(argv, env)
    return code, env.stdout.getvalue(), env.stderr.getvalue()


def test_rfc2617_vector():
    code, out, err = run(RFC2617 + ["--password", "Circle Of Life"])
    assert (code, out, err) == (EXIT_OK, "6629fae49393a05397450978507c4ef1\n", "")


@pytest.mark.parametrize("algorithm, expected", [
    ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ("sha-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
])
def test_rfc7616_vectors_with_password_from_env(algorithm, expected):
    code, out, _ = run(RFC7616 + ["--algorithm", algorithm, "--password-env", "PW"],
                       environ={"PW": "Circle of Life"})
    assert (code, out) == (EXIT_OK, expected + "\n")


def test_password_file_and_header_output(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("Circle Of Life\n")
    code, out, _ = run(RFC2617 + ["--password-file", str(pw), "--header"])
    assert code == EXIT_OK
    assert out == ('Digest username="Mufasa", realm="testrealm@host.com", '
                   'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
                   'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, '
                   'cnonce="0a4f113b", qop=auth, nc=00000001\n')
    assert "Circle" not in out


def test_auth_int_body_file(tmp_path):
    body = tmp_path / "body.sdp"
    body.write_bytes(b"v=0\r\n")
    base = RFC2617[:RFC2617.index("--qop")] + ["--password", "p", "--cnonce", "c"]
    _, with_body, _ = run(base + ["--qop", "auth-int", "--body-file", str(body)])
    _, empty, _ = run(base + ["--qop", "auth-int"])
    _, auth, _ = run(base + ["--qop", "auth"])
    assert len({with_body, empty, auth}) == 3 and len(with_body.strip()) == 32


@pytest.mark.parametrize("argv, environ, message", [
    (RFC2617, {}, "one of --password, --password-env, --password-file is required"),
    (RFC2617 + ["--password-env", "NOPE"], {}, "environment variable NOPE is not set"),
    (RFC2617 + ["--password-file", "/nonexistent/pw"], {}, "cannot read --password-file"),
    (RFC2617[:3] + ["--password", "x"], {}, "missing --uri, --username, --realm, --nonce"),
    (RFC2617 + ["--password", "x", "--algorithm", "SHA-1"], {}, "unsupported --algorithm"),
    (RFC2617 + ["--password", "x", "--nc", "1g"], {}, "--nc must be 8 hex digits"),
    (RFC2617[:RFC2617.index("--cnonce")] + ["--password", "x"], {}, "--cnonce is required"),
    (RFC2617[:RFC2617.index("--qop")] + ["--password", "x", "--qop", "auth-conf"], {},
     "--qop must be auth or auth-int"),
    (RFC2617 + ["--password", "x", "--body-file", "/nonexistent/b"], {},
     "cannot read --body-file"),
])
def test_usage_errors_exit_2_without_traceback(argv, environ, message):
    code, out, err = run(argv, environ)
    assert code == EXIT_USAGE and out == ""
    assert err.startswith("sipclient digest: ") and message in err
    assert "Traceback" not in err


def test_no_password_in_any_output():
    code, out, err = run(RFC2617 + ["--password", "sekrit-pw", "--algorithm", "nope"])
    assert code == EXIT_USAGE and "sekrit-pw" not in out + err
