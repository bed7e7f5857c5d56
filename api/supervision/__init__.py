"""GraphQL face of supervision cases (督办, regulation §5)."""
