"""Exchange with partner agencies: signed alerts in, hit and seizure reports out (docs/exchange.md)."""
