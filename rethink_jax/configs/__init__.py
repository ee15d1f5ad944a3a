"""ml_collections configs, one file per paper artifact; ``get_config("preset")`` in each.

Use them from the command line as ``--config rethink_jax/configs/<file>.py:<preset>`` and
override any entry with ``--config.key=value``. Every script shares one schema: ``model``,
``data.*`` (``name``, ``source``, ``data_dir``, ``max_train``, ...), ``optim.*`` and the run
entries of :func:`rethink_jax.configs.common.base_config`; a sweep adds its own ``sweep.*``
entries and its module's ``build_runs(config)`` turns the config into runs. Every module
has the presets ``cpu`` (the default) and ``paper``.
"""
