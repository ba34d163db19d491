"""YAML scenarios (``*.sip.yaml``): the language, the loader, the engine and the reports.

See docs/scenarios.md. Layer: above ``sipclient.agent`` and ``sipclient.lab``, below the CLI.
"""
