"""funnel_models.viz."""
