"""Loopback stand-ins for the OpenStack services Accord talks to, for end-to-end tests."""
