"""``python -m sagemaker_operator`` is ``sagemaker-operator``."""

from sagemaker_operator.cli import main

main()
