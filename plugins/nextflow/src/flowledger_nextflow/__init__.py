"""flowledger plugin for nextflow."""
