"""funnel_models.app."""
