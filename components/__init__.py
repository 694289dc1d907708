"""Custom TFX components: hubtune's additions to the standard ones."""
