"""Load generation: ``sipclient load`` (calls, registrations, scenarios at a rate, one engine
per core) and the engine that :mod:`sipclient.locust` drives. See docs/load.md."""
