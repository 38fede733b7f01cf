"""Development tools: a local Kubernetes API server (:mod:`.cluster`) and its binaries (:mod:`.binaries`), and
``sagemaker-operator dev`` (:mod:`.stack`, with its terminal output in :mod:`.console` and the examples in
:mod:`.examples`).

None of this is part of the operator's runtime: ``sagemaker-operator run`` never imports it (a test checks).
"""

from __future__ import annotations

DEFAULT_REGION = "us-east-1"
# Dummy credentials for the emulator, which accepts any. Named so that nobody mistakes them for real ones.
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "AKIDSAGEMAKEREMULATOR", "AWS_SECRET_ACCESS_KEY": "emulator"}


class DevError(RuntimeError):
    """A failure of the dev stack that the user should see as one line, not a traceback."""
