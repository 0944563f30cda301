"""Accord inside Ironic's ramdisk: a hardware manager for ironic-python-agent (`accord[ironic]`).

On the agent's side of the layers: it reaches the server only over HTTP, as the host agent does,
and reuses the agent's drivers, executor and reporter. `manager` is the only module that imports
ironic-python-agent; the rest runs (and is typed) without it.
"""
