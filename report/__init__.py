"""Floor 2: ``hubtune report``: one self-contained HTML page for a run (``html_report``)
and its matplotlib figures (``plots``)."""
