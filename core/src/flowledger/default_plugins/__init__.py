"""Built-in features, each written as a plugin."""
