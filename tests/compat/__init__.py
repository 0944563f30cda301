"""Real OpenStack clients (openstacksdk, the OpenStack client) against a real Accord server."""
