"""``python -m sagemaker_emulator``: same as ``sagemaker-operator emulator``."""

from .cli import emulator

if __name__ == "__main__":
    emulator(prog_name="python -m sagemaker_emulator")
