"""``kubectl sagemaker``: status, invoke, logs, plan and rollback for the resources sagemaker-operator manages.

kubectl finds the console script ``kubectl-sagemaker`` on PATH. The commands read the custom resources with the
user's own kubeconfig and call AWS with the user's own credentials; ``plan`` runs the operator's own decision code
(render and plan) without changing anything.

Exit codes: 0 success, 1 an error (object not found, endpoint not serving, AWS error), 2 bad usage; ``plan
--exit-code`` exits 2 when it would change something.
"""

from __future__ import annotations

# Each command module registers itself on the group when imported.
from sagemaker_operator.plugin import invoke, logs, plan, rollback, status
from sagemaker_operator.plugin.common import main

__all__ = ["invoke", "logs", "main", "plan", "rollback", "status"]
