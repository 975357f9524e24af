"""Downstream evaluation: probe or fine-tune an encoder on a domain's labelled task, export, report."""
