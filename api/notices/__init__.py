"""GraphQL face of the notices area."""
