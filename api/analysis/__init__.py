"""GraphQL face of the analysis area."""
