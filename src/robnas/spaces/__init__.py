"""Architecture search spaces: one sub-package per space (``darts``, ``nb201``, ...).

Each space owns its architecture type (parse / to-string), its operations and the builder of the
network that an architecture describes.
"""
