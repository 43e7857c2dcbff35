"""Service layer: MLflow's rules, validation and defaults, over the stores."""
