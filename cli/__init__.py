"""Floor 3: the ``hubtune`` command line: argument parsing (``parser``), dispatch
(``main``), one thin function per command (``commands``) and the quiet console."""
