"""funnel_models.analysis."""
