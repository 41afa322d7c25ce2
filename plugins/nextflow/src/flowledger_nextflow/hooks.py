"""Hook implementations that the flowledger core loads through the `flowledger` entry point."""
