"""Floor 2: reading ML Metadata: run outcomes (``mlmd``), run details for reports
(``run_details``), the ``hubtune status`` view (``status``) and how their numbers print
(``formatting``)."""
