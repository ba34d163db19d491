"""The lab twin of the PBX's HTTP APIs, on top of the lab's real Asterisk (issue 9)."""

from sipclient.http.twin.twin import Twin, TwinConfig, WebhookTarget

__all__ = ["Twin", "TwinConfig", "WebhookTarget"]
