"""Yiwang domain: typed models, workflow rules and use cases. Never imports the transport."""
