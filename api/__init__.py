"""Transport: strawberry schema, resolvers, dataloaders, the Starlette app and the CLI."""
