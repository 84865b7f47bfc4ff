"""tmf-oss: an Operational Support System spoken to through the TM Forum Open APIs."""

__version__ = "0.1.0"
