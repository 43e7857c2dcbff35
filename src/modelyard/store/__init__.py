"""Storage: metadata stores (SQL) and artifact stores (files, objects)."""
