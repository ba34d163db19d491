"""A browser SIP peer for the interop tests: Debian's Chromium driven by Playwright, running
JsSIP 3.13.8 or SIP.js 0.21.2 (from npm, bundled with esbuild into one classic script each).

:func:`bundles` installs the pinned npm packages into ``run/npm-interop`` (once; npm's own
cache) and bundles them (``jssip.js`` -> ``window.JsSIP``, ``sipjs.js`` -> ``window.SIP``).
The page (``browser_peer.html`` written next to them) exposes one small API over both
libraries, used from Python through ``page.evaluate``:

    start(lib, wsUrl, uri, password)  -> registers; resolves once registered
    call(target)                      -> resolves when answered (or rejects)
    answerNext()                      -> answers the next incoming call (auto)
    dtmf(digits), hangup(), stats()   -> inbound/outbound RTP counters of the call
    state                             -> "idle", "ringing", "confirmed", "ended: <why>"

Chromium runs with a fake microphone (its beep) and no permission prompt, and accepts the
lab's self-signed certificate for WSS (``--ignore-certificate-errors``, this test browser
only).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .tools import require_binary

REPO = Path(__file__).resolve().parents[2]
NPM_DIR = REPO / "run" / "npm-interop"
PACKAGES = {"jssip": "3.13.8", "sip.js": "0.21.2", "esbuild": "0.20.2"}
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        "--ignore-certificate-errors", "--autoplay-policy=no-user-gesture-required"]

PAGE = r"""<!doctype html><meta charset="utf-8"><title>sipclient browser peer</title>
<script src="jssip.js"></script><script src="sipjs.js"></script>
<script>
window.peer = { state: "idle", log: [], session: null, pc: null, incoming: null,
                autoAnswer: false };
function note(t) { peer.log.push(String(t)); }
function remoteAudio(stream) {
  const a = new Audio(); a.srcObject = stream; a.play().catch(() => {});
}
async function start(lib, wsUrl, uri, password) {
  peer.lib = lib;
  if (lib === "jssip") {
    const socket = new JsSIP.WebSocketInterface(wsUrl);
    const ua = new JsSIP.UA({ sockets: [socket], uri, password, register: true,
                              session_timers: false });
    peer.ua = ua;
    ua.on("newRTCSession", (e) => {
      if (e.originator !== "remote") return;
      const s = e.session; peer.session = s; peer.state = "ringing";
      s.on("confirmed", () => { peer.state = "confirmed"; });
      s.on("ended", (x) => { peer.state = "ended: " + x.cause; });
      s.on("failed", (x) => { peer.state = "ended: " + x.cause; });
      s.on("peerconnection", (p) => { peer.pc = p.peerconnection;
        p.peerconnection.addEventListener("track", (t) => remoteAudio(t.streams[0])); });
      if (peer.autoAnswer) s.answer({ mediaConstraints: { audio: true, video: false } });
    });
    await new Promise((ok, ko) => { ua.on("registered", ok);
      ua.on("registrationFailed", (e) => ko(new Error("registration failed: " + e.cause)));
      ua.start(); });
    return "registered";
  }
  const ua = new SIP.UserAgent({ uri: SIP.UserAgent.makeURI(uri),
    transportOptions: { server: wsUrl }, authorizationUsername: uri.split(":")[1].split("@")[0],
    authorizationPassword: password,
    delegate: { onInvite: (inv) => { peer.session = inv; peer.state = "ringing"; track(inv);
      if (peer.autoAnswer) inv.accept({ sessionDescriptionHandlerOptions:
        { constraints: { audio: true, video: false } } }); } } });
  peer.ua = ua;
  await ua.start();
  const reg = new SIP.Registerer(ua);
  peer.registerer = reg;
  await new Promise((ok, ko) => {
    reg.stateChange.addListener((st) => { if (st === SIP.RegistererState.Registered) ok(); });
    reg.register({ requestDelegate: { onReject: (r) => ko(new Error("register rejected " +
      r.message.statusCode)) } }).catch(ko);
  });
  return "registered";
}
function track(s) {
  s.stateChange.addListener((st) => {
    if (st === SIP.SessionState.Established) { peer.state = "confirmed";
      peer.pc = s.sessionDescriptionHandler.peerConnection;
      const rs = new MediaStream();
      peer.pc.getReceivers().forEach((r) => r.track && rs.addTrack(r.track));
      remoteAudio(rs); }
    if (st === SIP.SessionState.Terminated) peer.state = "ended: terminated";
  });
}
async function call(target) {
  if (peer.lib === "jssip") {
    const s = peer.ua.call(target, { mediaConstraints: { audio: true, video: false } });
    peer.session = s; peer.pc = s.connection;
    s.connection.addEventListener("track", (t) => remoteAudio(t.streams[0]));
    return await new Promise((ok, ko) => {
      s.on("confirmed", () => { peer.state = "confirmed"; ok("confirmed"); });
      s.on("failed", (x) => { peer.state = "ended: " + x.cause; ko(new Error(x.cause)); });
      s.on("ended", (x) => { peer.state = "ended: " + x.cause; });
    });
  }
  const inv = new SIP.Inviter(peer.ua, SIP.UserAgent.makeURI(target),
    { sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } });
  peer.session = inv; track(inv);
  await inv.invite();
  for (let i = 0; i < 200 && peer.state !== "confirmed"; i++)
    await new Promise((r) => setTimeout(r, 50));
  if (peer.state !== "confirmed") throw new Error("not answered: " + peer.state);
  return "confirmed";
}
function dtmf(digits) {
  if (peer.lib === "jssip") { peer.session.sendDTMF(digits, { transportType: "RFC2833" });
    return; }
  const sender = peer.pc.getSenders().find((s) => s.dtmf);
  sender.dtmf.insertDTMF(digits, 100, 70);
}
function hangup() {
  if (peer.lib === "jssip") { peer.session.terminate(); return; }
  const s = peer.session;
  if (s.state === SIP.SessionState.Established) s.bye(); else if (s.cancel) s.cancel();
}
async function stats() {
  const out = { inbound: 0, outbound: 0, energy: 0, codec: null };
  if (!peer.pc) return out;
  const rep = await peer.pc.getStats();
  rep.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio") { out.inbound += r.packetsReceived;
      out.energy += r.totalAudioEnergy || 0; }
    if (r.type === "outbound-rtp" && r.kind === "audio") out.outbound += r.packetsSent;
    if (r.type === "codec" && r.mimeType) out.codec = r.mimeType;
  });
  return out;
}
</script>
"""


def _npm() -> str:
    return require_binary("npm", "the browser interop tests install SIP.js and JsSIP with it")


def bundles() -> Path:
    """The directory with jssip.js, sipjs.js and browser_peer.html (installed once)."""
    out = NPM_DIR
    marker = out / ("bundled-" + "-".join(f"{k}@{v}" for k, v in PACKAGES.items()))
    if not marker.exists():
        out.mkdir(parents=True, exist_ok=True)
        specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
        done = subprocess.run([_npm(), "install", "--no-audit", "--no-fund", "--prefix",
                               str(out), *specs], capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm install {' '.join(specs)} failed:\n{done.stderr[-2000:]}",
                        pytrace=False)
        esbuild = out / "node_modules" / ".bin" / "esbuild"
        for entry, name, target in (("jssip/lib/JsSIP.js", "JsSIP", "jssip.js"),
                                    ("sip.js/lib/index.js", "SIP", "sipjs.js")):
            done = subprocess.run([str(esbuild), str(out / "node_modules" / entry), "--bundle",
                                   "--format=iife", f"--global-name={name}",
                                   f"--outfile={out / target}"], capture_output=True, text=True,
                                  timeout=120)
            if done.returncode != 0:
                pytest.fail(f"esbuild {entry} failed:\n{done.stderr[-2000:]}", pytrace=False)
        marker.write_text("ok\n")
    (out / "browser_peer.html").write_text(PAGE)
    return out


def chromium_version() -> str:
    done = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True)
    return done.stdout.strip() or "Chromium"
