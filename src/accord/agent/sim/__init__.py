"""A simulated host: a sysfs tree laid out like the kernel's, and a kernel that reacts to writes.

Used where the hardware is not here (tests, `accord up --demo`); drivers run unchanged on it.
"""
