"""Southbound: how tmf-oss talks to devices (adapters), and hears from them (trap, syslog, NETCONF receivers)."""
