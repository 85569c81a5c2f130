"""effekt's comparisons with its peers; ``python -m benchmarks`` runs them (see README.md)."""
