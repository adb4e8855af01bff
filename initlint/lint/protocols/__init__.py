"""Init protocols: who initializes a module class's tensors, besides its own ``reset_parameters()``.

``facts`` and ``dispatch`` read each file (cached with its summary); ``judge`` decides, for each class,
which protocol covers it and what that protocol writes (``evaluate``). See ``docs/init-protocols.md``.
"""
