"""Floor 3: the embedded demo: ELPV data and config (``elpv``), the demo run with its
serving tour (``walkthrough``), arriving spans (``spans``) and what transfer bought
(``transfer_comparison``)."""
