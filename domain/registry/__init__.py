"""The registry: centres (the hierarchy), units (承办单位) and staff."""
