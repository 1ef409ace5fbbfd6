"""Portal-wide pieces: roles and access rules, sign-in, health, the worker heartbeat."""
