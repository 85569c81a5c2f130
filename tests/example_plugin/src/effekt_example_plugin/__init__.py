"""An example third-party plugin for effekt."""
