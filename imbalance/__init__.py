"""imbalance-flow: the shared core (config, variants, artifact store, CLI)."""
