"""The HTML report: its own stage, downstream of the registry and the scored marts (``html.write_report``)."""
