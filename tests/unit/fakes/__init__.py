"""In-memory twins of the repositories and the unit of work, for fast unit tests of the services.

They keep the contract the services rely on (what a read returns, which condition makes a commit fail
and what it raises), not DynamoDB's mechanics; the integration tests run the real repositories against
DynamoDB Local.
"""
