"""Training-data transforms declared in a recipe's ``data.augment`` section."""
