"""The only place that talks to AWS: clients per (region, role), error classification, and the gateway."""
