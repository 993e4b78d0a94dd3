"""Architecture search strategies: ``differentiable/`` (one-shot supernets) and ``discrete/`` (black-box)."""
