"""GraphQL face of the assessment area."""
