"""Live intelligence: the watchlist (and, later, risk profiles), read at scoring time."""
