"""``sagemaker-operator emulator`` / ``python -m sagemaker_emulator``.

Prints exactly one first line, ``sagemaker-emulator listening on http://HOST:PORT``, flushed,
so a parent process can read the port; exits cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import click

from .lifecycle import Durations
from .server import Emulator, EmulatorConfig, serve


@click.command(name="emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option("--region", default="us-east-1", show_default=True, help="Region when a request carries none.")
@click.option("--account-id", default="123456789012", show_default=True, help="Account of default callers.")
@click.option(
    "--create-seconds", default=3.0, show_default=True, type=click.FloatRange(min=0), help="Creating -> InService."
)
@click.option(
    "--update-seconds", default=3.0, show_default=True, type=click.FloatRange(min=0), help="New fleet provisioning."
)
@click.option(
    "--delete-seconds", default=2.0, show_default=True, type=click.FloatRange(min=0), help="Deleting -> gone."
)
@click.option(
    "--transform-seconds",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Transform job InProgress -> Completed/Failed.",
)
@click.option("--validate-responses", is_flag=True, help="Check every response against botocore's output shapes.")
@click.option("--seed", type=int, default=None, help="Seed for traffic routing and fault injection.")
@click.option("--log-level", default="WARNING", show_default=True, help="Python logging level.")
def emulator(
    host: str,
    port: int,
    region: str,
    account_id: str,
    create_seconds: float,
    update_seconds: float,
    delete_seconds: float,
    transform_seconds: float,
    validate_responses: bool,
    seed: int | None,
    log_level: str,
) -> None:
    """Run the local SageMaker hosting emulator (SageMaker, Runtime, Auto Scaling, STS, S3, Logs, IAM)."""
    logging.basicConfig(level=log_level.upper(), stream=sys.stderr)
    config = EmulatorConfig(
        region=region,
        account_id=account_id,
        durations=Durations(
            create=create_seconds, update=update_seconds, delete=delete_seconds, transform=transform_seconds
        ),
        validate_responses=validate_responses,
        seed=seed,
    )
    asyncio.run(_main(Emulator(config), host, port))


async def _main(emulator: Emulator, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(url: str) -> None:
        click.echo(f"sagemaker-emulator listening on {url}")
        sys.stdout.flush()

    await serve(emulator, host, port, stop, ready)
