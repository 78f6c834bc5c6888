"""Use cases. Each owns one transaction; helpers and repositories never commit."""
