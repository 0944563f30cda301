"""Mirror of Accord's provider tree into a real OpenStack Placement (optional, ACCORD_PLACEMENT_URL)."""
