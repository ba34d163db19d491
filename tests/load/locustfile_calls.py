"""The locustfile of tests/load/test_locust.py: callers to the target given with --host."""

from locust import constant

from sipclient.locust import SipUser


class Caller(SipUser):
    sip_kind = "call"
    sip_number = "600"
    sip_hold = 0.2
    sip_timeout = 8.0
    wait_time = constant(0.1)
