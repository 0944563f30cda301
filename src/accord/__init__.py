"""Accord: managed accelerators (FPGA, GPU, QAT, SmartNIC) behind a Cyborg v2-compatible API."""

__version__ = "0.1.0"
