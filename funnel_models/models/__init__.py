"""funnel_models.models."""
