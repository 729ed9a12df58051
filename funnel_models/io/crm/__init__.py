"""funnel_models.io.crm."""
