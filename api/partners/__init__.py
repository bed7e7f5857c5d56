"""GraphQL for API clients (integration partners)."""
