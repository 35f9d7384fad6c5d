"""Powertools Logger and Metrics, created once. Log lines carry ids and outcomes, never personal data."""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "e-services"), use_rfc3339=True)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EServices"))
