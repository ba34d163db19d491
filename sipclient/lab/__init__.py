"""The Asterisk lab: render templates, start, stop and inspect a real Asterisk."""
