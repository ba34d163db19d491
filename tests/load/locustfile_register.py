"""The locustfile of tests/load/test_locust.py's registration run: lab accounts 1001-1004."""

from locust import constant

from sipclient.locust import SipUser


class Registrar(SipUser):
    sip_kind = "register"
    sip_users = "1001-1004"
    sip_lab_accounts = True
    sip_timeout = 8.0
    wait_time = constant(0.2)
