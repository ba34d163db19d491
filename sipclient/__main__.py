from sipclient.cli import entry

entry()
