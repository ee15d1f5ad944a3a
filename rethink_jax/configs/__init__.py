"""ml_collections configs, one file per paper artifact; ``get_config("preset")`` in each.

Use them from the command line as ``--config rethink_jax/configs/<file>.py:<preset>`` and
override any entry with ``--config.key=value``.
"""
