"""robnas: adversarially robust neural architecture search.

Find, train and honestly evaluate network architectures that resist adversarial attacks.
"""

__version__ = "0.1.0"
