"""The twin's recordings at every documented URL shape: seed 001's ``/gravador28/<GRAVACAO>
.gsm|.wav`` (also calls the dialplan recorded by itself: the IVR, direct extension calls, the
dialer), seed 000's ``/services/record/<userfield>``, seed 002's ``/webphone-<central_id>/...``
and seed 004's ``/record?Rec=<ReferenceId>``. Files are MixMonitor's WAVs in the lab's
spool; ``.gsm`` is encoded on the fly."""

from __future__ import annotations

from pathlib import Path

from sipclient.http.dialects import krolik, pbx_api, pbx55
from sipclient.http.dialects.record import CallRecord
from sipclient.http.wire import HttpRequest, HttpResponse, text_response


def serve_recording(req: HttpRequest, records: list[CallRecord], monitor_dir: Path,
                    central_id: str) -> HttpResponse:
    path = req.path
    rec: CallRecord | None = None
    want_gsm = False
    if path.startswith(pbx_api.RECORD_PREFIX):
        name = path[len(pbx_api.RECORD_PREFIX):]
        stem, _, ext = name.rpartition(".")
        want_gsm = ext == "gsm"
        rec = next((r for r in records if r.recording == stem and ext in ("gsm", "wav")),
                   None)
        if rec is None and ext in ("gsm", "wav"):
            file = _inside(monitor_dir, f"{stem}.wav")   # recorded by the dialplan itself
            if file is not None and file.is_file():
                return _audio(file, want_gsm)
    elif path.startswith(krolik.RECORD_PREFIX):
        userfield = path[len(krolik.RECORD_PREFIX):]
        rec = next((r for r in records if r.userfield == userfield), None)
    elif path.startswith("/webphone-"):
        rec = next((r for r in records if pbx55.audio_path(r, central_id) == path), None)
    else:
        ref = req.query.get("Rec", "")
        rec = next((r for r in records if r.uniqueid and r.uniqueid == ref), None)
    if rec is None or rec.ended is None or rec.connected is None:
        return text_response("no such recording\n", 404)
    file = monitor_dir / f"{rec.recording}.wav"
    if not file.is_file():
        return text_response("recording not written\n", 404)
    return _audio(file, want_gsm)


def _inside(root: Path, name: str) -> Path | None:
    """``root/name`` when it stays inside ``root`` (no ``..``, no absolute path), else None."""
    if not name or name.startswith("/") or ".." in Path(name).parts:
        return None
    return root / name


def _audio(file: Path, gsm: bool) -> HttpResponse:
    if not gsm:
        return HttpResponse(200, file.read_bytes(), {"content-type": "audio/wav"})
    from sipclient.media.audio import read_wav
    from sipclient.media.codecs.gsm import GsmEncoder

    samples = read_wav(file)
    usable = len(samples) - len(samples) % 160
    encoder = GsmEncoder()
    frames = b"".join(encoder.encode(samples[i:i + 160]) for i in range(0, usable, 160))
    return HttpResponse(200, frames, {"content-type": "audio/x-gsm"})
