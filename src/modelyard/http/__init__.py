"""HTTP layer: MLflow's REST API (and later the UI) over the service layer."""
