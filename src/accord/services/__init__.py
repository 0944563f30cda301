"""Use cases: what Accord does, one function per action a client can ask for.

Each use case takes the application's `Services` (the unit of work and the ports: database,
scheduler index, Nova notifier, blob store) and a request context, runs one transaction through
`store/` repositories and `domain/` rules, and returns its results and events explicitly. Handlers
in `api/` only authorize, parse, call one use case and render.
"""
