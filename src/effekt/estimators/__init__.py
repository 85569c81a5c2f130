"""Design-based estimators, contingency tables, randomisation inference and multiplicity."""
