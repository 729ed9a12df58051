"""funnel_models.core."""
