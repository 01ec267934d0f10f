"""Risk profiles: routes, schemas, service functions and the `shiprisk profiles` commands."""
