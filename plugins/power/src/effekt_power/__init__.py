"""effekt-power: a plugin distribution of effekt."""

__version__ = "0.1.0"
