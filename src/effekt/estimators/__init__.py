"""Design-based estimators registered by the effekt core."""
