"""Captures: writing what the application saw as pcap, and (issue 7) reading captures."""
