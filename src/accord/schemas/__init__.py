"""Pydantic models shared by the server and the agent (the wire between them)."""
