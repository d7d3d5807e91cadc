"""automl-meta: AutoML that warm-starts from what worked on similar past tasks."""

__version__ = "0.1.0"
