"""The aiohttp application: one port serves SageMaker, SageMaker Runtime, Application Auto
Scaling, the Resource Groups Tagging API, STS, S3, CloudWatch Logs, IAM and the admin API.

Dispatch order:

1. ``/_emulator/...``: admin API (:mod:`admin_api`);
2. a SigV4 credential scope (header or presigned query) naming ``s3``, ``logs`` or ``iam``, or an
   unsigned request to a virtual-hosted bucket (``BUCKET.localhost``): moto (:mod:`moto_services`);
3. ``X-Amz-Target: SageMaker.<Op>``, ``AnyScaleFrontendService.<Op>`` or
   ``ResourceGroupsTaggingAPI_20170126.<Op>``: JSON 1.1;
4. ``POST /endpoints/{name}/invocations`` (and ``/async-invocations``): SageMaker Runtime;
5. a form body (or query string) with ``Action=``: STS query protocol.

The SigV4 ``Authorization`` header is parsed, never verified: its credential scope gives the
caller's region, and an access key issued by AssumeRole gives the caller's role and account.

:class:`EmulatorThread` runs the server on a private event loop in a background thread for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import re
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from aiohttp import web

from .admin import AdminClient
from .admin_api import PREFIX, Counters, Fault, handle_admin
from .autoscaling import AutoScalingService
from .data_flows import DataFlows, component_log_group, endpoint_log_group, instance_id
from .iam import IamService
from .lifecycle import Durations, now
from .moto_services import SERVICES as MOTO_SERVICES
from .moto_services import MotoServices, S3Error, presigned_scope, virtual_host_bucket
from .protocol import (
    IAM_NS,
    AwsError,
    RequestContext,
    SigV4Scope,
    json_error,
    json_response,
    parse_authorization,
    query_error,
    query_params,
    query_response,
    rest_json_error,
    s3_error,
)
from .runtime import RuntimeService
from .sagemaker_ops import SageMakerService
from .store import Store
from .sts import StsService
from .tagging import INVALID_PARAMETER, TaggingService, tagging_error
from .tagging import SERVICE as TAGGING_SERVICE
from .tagging import TARGET_PREFIX as TAGGING_PREFIX
from .transform import TransformService
from .validation import service_model, validate, validate_input, validate_output, validation_message

log = logging.getLogger(__name__)

_INVOKE_RE = re.compile(r"^/endpoints/([^/]+)/(invocations|async-invocations)$")
# Counters key unknown operations under one label, so arbitrary client input cannot grow them.
UNKNOWN_OPERATION = "(unknown operation)"
ErrorWriter = Callable[[RequestContext | None, AwsError], web.Response]


@dataclass
class EmulatorConfig:
    """Server settings (the CLI flags)."""

    region: str = "us-east-1"
    account_id: str = "123456789012"
    durations: Durations = field(default_factory=Durations)
    validate_responses: bool = False
    seed: int | None = None


class Emulator:
    """All state and services behind one aiohttp application."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.initial_durations = Durations(**self.config.durations.as_dict())
        self.durations = Durations(**self.config.durations.as_dict())
        self.store = Store()
        self.moto = MotoServices()
        self.sagemaker = SageMakerService(self.store, self.durations)
        self.rng = random.Random(self.config.seed)
        self.runtime = RuntimeService(self.sagemaker, self.rng)
        self.transform = TransformService(self.sagemaker, self.moto, self.durations)
        self.sagemaker.handlers.update(self.transform.handlers)
        self.flows = DataFlows(self.moto)
        self.sagemaker.container_log = self.flows.logs
        self.autoscaling = AutoScalingService(self.sagemaker)
        self.tagging = TaggingService(self.sagemaker)
        self.sts = StsService(self.config.account_id)
        self.iam = IamService(self.moto)
        self.counters = Counters()
        self.faults: dict[str, Fault] = {}

    def reset(self) -> None:
        """Back to a freshly started server (same durations as at start-up)."""
        self.store.reset()
        self.moto.reset()
        self.sts.reset()
        self.counters = Counters()
        self.faults.clear()
        for key, value in self.initial_durations.as_dict().items():
            setattr(self.durations, key, value)

    def app(self) -> web.Application:
        """The aiohttp application (a single catch-all route)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    # ---------------------------------------------------------------------------- context
    @staticmethod
    def scope_of(request: web.Request) -> SigV4Scope | None:
        """The SigV4 credential scope of the ``Authorization`` header, or of a presigned URL."""
        scope = parse_authorization(request.headers.get("Authorization"))
        if scope is None:
            presigned = presigned_scope(request.query)
            if presigned is not None:
                scope = SigV4Scope(access_key=presigned[0], region=presigned[1], service=presigned[2])
        return scope

    def context(self, request: web.Request, service: str, operation: str) -> RequestContext:
        """Identify the caller from the SigV4 credential scope."""
        scope = self.scope_of(request)
        region = scope.region if scope and scope.region else self.config.region
        access_key = scope.access_key if scope else ""
        ctx = RequestContext(
            service=service, operation=operation, region=region, account=self.config.account_id, access_key=access_key
        )
        identity = self.sts.identify(access_key)
        if identity is not None:
            ctx.account, ctx.caller = identity.account, identity.role_arn
        return ctx

    async def _apply_faults(self, operation: str) -> None:
        fault = self.faults.get(operation) or self.faults.get("*")
        if fault is None:
            return
        if fault.latency_ms > 0:
            await asyncio.sleep(fault.latency_ms / 1000.0)
        error: AwsError | None = None
        if fault.throttle_rate and self.rng.random() < fault.throttle_rate:
            error = AwsError("ThrottlingException", "Rate exceeded", 400)
        elif fault.error_rate and self.rng.random() < fault.error_rate:
            code = "ServiceUnavailable" if fault.error_status == 503 else "InternalFailure"
            error = AwsError(code, "Injected server error (emulator fault injection).", fault.error_status)
        if error is None:
            return
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                for key, value in list(self.faults.items()):
                    if value is fault:
                        del self.faults[key]
        raise error

    async def _run(
        self,
        ctx: RequestContext,
        write_error: ErrorWriter,
        call: Callable[[], Awaitable[web.Response]],
    ) -> web.Response:
        """Run one AWS call with faults, counters and error shaping."""
        error_code: str | None = None
        try:
            self.sts.check(ctx, now())
            await self._apply_faults(ctx.operation)
            return await call()
        except AwsError as exc:
            error_code = exc.code
            return write_error(ctx, exc)
        except Exception as exc:  # an emulator bug must still answer in the protocol's shape
            log.exception("internal error in %s", ctx.operation)
            error_code = "InternalFailure"
            return write_error(ctx, AwsError("InternalFailure", f"emulator internal error: {exc!r}", 500))
        finally:
            self.counters.record(ctx.operation, ctx.caller, error_code)

    # ---------------------------------------------------------------------------- dispatch
    async def handle(self, request: web.Request) -> web.Response:
        """Route a request to the admin API or one of the emulated services."""
        if request.path.startswith(PREFIX):
            return await handle_admin(self, request)
        scope = self.scope_of(request)
        bucket_in_host = virtual_host_bucket(request.host)
        if scope is not None and scope.service in MOTO_SERVICES:
            return await self._moto(request, scope.service, bucket_in_host if scope.service == "s3" else None)
        if scope is None and bucket_in_host is not None:
            return await self._moto(request, "s3", bucket_in_host)
        target = request.headers.get("X-Amz-Target")
        if target:
            if request.method != "POST":
                return json_error(
                    None,
                    AwsError(
                        "UnknownOperationException",
                        f"{target}: JSON 1.1 requests must use POST, not {request.method}.",
                        405,
                    ),
                )
            prefix, _, operation = target.partition(".")
            if prefix == "SageMaker":
                return await self._json_call(request, "sagemaker", operation, self.sagemaker.handlers)
            if prefix == "AnyScaleFrontendService":
                return await self._json_call(request, "application-autoscaling", operation, self.autoscaling.handlers)
            if prefix == TAGGING_PREFIX:
                # The Tagging API answers a bad parameter with InvalidParameterException (it has no
                # ValidationException) and names throttling and internal errors its own way.
                return await self._json_call(
                    request,
                    TAGGING_SERVICE,
                    operation,
                    self.tagging.handlers,
                    write_error=tagging_error,
                    validation_code=INVALID_PARAMETER,
                )
            return json_error(None, AwsError("UnknownOperationException", f"Unknown target prefix {prefix!r}.", 404))
        match = _INVOKE_RE.match(request.path)
        if match and request.method == "POST":
            return await self._invoke(request, unquote(match.group(1)), match.group(2) == "async-invocations")
        if request.method == "POST" or "Action" in request.query:
            return await self._sts(request)
        return json_error(
            None,
            AwsError("UnknownOperationException", f"The emulator does not serve {request.method} {request.path}.", 404),
        )

    async def _moto(self, request: web.Request, service: str, bucket_in_host: str | None) -> web.Response:
        """S3, CloudWatch Logs and IAM: moto answers, with the emulator's identity, faults and counters."""
        body = await request.read()
        if service == "logs":
            operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2] or UNKNOWN_OPERATION
            write_error: ErrorWriter = json_error
        elif service == "iam":
            form = dict(request.query)
            if body:
                form.update({k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()})
            operation = form.get("Action") or UNKNOWN_OPERATION
            write_error = query_error
        else:
            operation = f"S3.{request.method}"
            write_error = s3_error
        ctx = self.context(request, service, operation)
        if service == "iam" and operation in self.iam.handlers:
            return await self._iam(ctx, operation, form)

        async def call() -> web.Response:
            if service == "s3":
                bucket = bucket_in_host or request.path.lstrip("/").split("/", 1)[0]
                if bucket in self.sts.denied_buckets:
                    # A bucket whose policy does not grant the caller: S3's own answer (a HEAD has no body).
                    return s3_error(ctx, AwsError("AccessDenied", "Access Denied", 403))
            status, headers, data = self.moto.dispatch(
                service,
                request.method,
                request.raw_path,
                request.headers,
                body,
                ctx.account,
                ctx.region,
                bucket_in_host,
            )
            head = request.method == "HEAD"
            out = {k: v for k, v in headers.items() if k.lower() not in ("transfer-encoding", "content-length")}
            response = web.Response(status=status, headers=out, body=None if head else data)
            if head and "content-length" in {k.lower() for k in headers}:
                length = next(v for k, v in headers.items() if k.lower() == "content-length")
                response.headers["Content-Length"] = length
            return response

        return await self._run(ctx, write_error, call)

    async def _iam(self, ctx: RequestContext, operation: str, form: dict[str, str]) -> web.Response:
        """An IAM call the emulator answers itself (:mod:`iam`), checked against botocore's model."""

        async def call() -> web.Response:
            op_model = service_model("iam").operation_model(operation)
            params = query_params(op_model.input_shape, form)
            errors = validate(op_model.input_shape, params, check_unknown=False)
            if errors:
                raise AwsError("ValidationError", validation_message(errors))
            result = self.iam.handlers[operation](ctx, params)
            if self.config.validate_responses:
                validate_output(op_model, result)
            return query_response(ctx, result, IAM_NS)

        return await self._run(ctx, query_error, call)

    async def _json_call(
        self,
        request: web.Request,
        service: str,
        operation: str,
        handlers: dict[str, Callable[[RequestContext, dict[str, Any]], dict[str, Any]]],
        write_error: ErrorWriter = json_error,
        validation_code: str = "ValidationException",
    ) -> web.Response:
        """One JSON 1.1 call: counted, faults applied, the body checked against botocore's model, then handled."""
        model = service_model(service)
        ctx = self.context(request, service, operation if operation in model.operation_names else UNKNOWN_OPERATION)

        async def call() -> web.Response:
            if operation not in model.operation_names:
                raise AwsError(
                    "UnknownOperationException", f"Unknown operation {model.metadata['targetPrefix']}.{operation}."
                )
            handler = handlers.get(operation)
            if handler is None:
                raise AwsError(
                    "NotImplemented",
                    f"The emulator does not implement {model.metadata['targetPrefix']}.{operation}.",
                    501,
                )
            raw = await request.read()
            try:
                params = json.loads(raw) if raw else {}
            except ValueError:
                raise AwsError("SerializationException", "Request body is not valid JSON.") from None
            if not isinstance(params, dict):
                raise AwsError("SerializationException", "Request body must be a JSON object.")
            op_model = model.operation_model(operation)
            validate_input(op_model, params, validation_code)
            result = handler(ctx, params)
            if self.config.validate_responses:
                validate_output(op_model, result)
            return json_response(ctx, result)

        return await self._run(ctx, write_error, call)

    async def _invoke(self, request: web.Request, endpoint_name: str, is_async: bool) -> web.Response:
        operation = "InvokeEndpointAsync" if is_async else "InvokeEndpoint"
        ctx = self.context(request, "sagemaker-runtime", operation)

        async def call() -> web.Response:
            op_model = service_model("sagemaker-runtime").operation_model(operation)
            body = await request.read()
            params: dict[str, Any] = {"EndpointName": endpoint_name}
            assert op_model.input_shape is not None
            if body or not is_async:
                params["Body"] = body
            for name, member in op_model.input_shape.members.items():
                if member.serialization.get("location") == "header":
                    value = request.headers.get(member.serialization["name"])
                    if value is not None:
                        params[name] = int(value) if member.type_name == "integer" and value.isdigit() else value
            errors = validate(op_model.input_shape, params)
            if errors:
                raise AwsError("ValidationError", validation_message(errors))
            if is_async:
                return self._invoke_async(ctx, params)
            variant, doc = self.runtime.invoke(
                ctx,
                endpoint_name,
                body,
                target_variant=params.get("TargetVariant"),
                component=params.get("InferenceComponentName"),
            )
            answer = json.dumps(doc).encode()
            self._after_invoke(ctx, endpoint_name, variant, doc, (body, params.get("ContentType", "")), answer)
            headers = {
                "x-amzn-RequestId": ctx.request_id,
                "Content-Type": "application/json",
                "x-Amzn-Invoked-Production-Variant": variant,
            }
            if params.get("CustomAttributes"):
                headers["X-Amzn-SageMaker-Custom-Attributes"] = params["CustomAttributes"]
            return web.Response(body=answer, status=200, headers=headers)

        return await self._run(ctx, rest_json_error, call)

    def _after_invoke(
        self,
        ctx: RequestContext,
        endpoint_name: str,
        variant: str,
        doc: dict[str, Any],
        request: tuple[bytes, str],
        answer: bytes,
    ) -> None:
        """An invocation's by-products: a container log line, and a capture file when it is sampled."""
        ep = self.runtime.serving_endpoint(ctx, endpoint_name)
        component = doc.get("inference_component")
        if component:
            group, stream_name = component_log_group(component), component
        else:
            group, stream_name = endpoint_log_group(ep.name), variant
        instance = instance_id(ep.arn if not component else self.sagemaker.arn(ctx, "inference-component", component),
                               stream_name)
        self.flows.logs(ctx.account, ctx.region, group, f"{stream_name}/{instance}", ["POST /invocations 200"])
        capture = (ep.fleet.config if ep.fleet else {}).get("DataCaptureConfig")
        if not capture or not capture.get("EnableCapture", True):
            return
        if self.rng.random() * 100 >= float(capture.get("InitialSamplingPercentage", 0)):
            return
        try:
            self.flows.capture(
                ctx.account, ctx.region, capture, ep.name, variant, request, (answer, "application/json")
            )
        except Exception:
            log.exception("could not write the capture file of %s", ep.name)

    def _invoke_async(self, ctx: RequestContext, params: dict[str, Any]) -> web.Response:
        ep = self.runtime.serving_endpoint(ctx, params["EndpointName"])
        config = (ep.fleet.config if ep.fleet else {}).get("AsyncInferenceConfig")
        if not config:
            raise AwsError("ValidationError", f"Endpoint {ep.name} is not configured for asynchronous inference.")
        inference_id = params.get("InferenceId") or str(uuid.uuid4())
        output_config = config["OutputConfig"]
        output = output_config.get("S3OutputPath", "s3://emulator-async-output").rstrip("/")
        failure_path = output_config.get("S3FailurePath")
        headers = {
            "x-amzn-RequestId": ctx.request_id,
            "Content-Type": "application/json",
            "X-Amzn-SageMaker-OutputLocation": f"{output}/{inference_id}.out",
        }
        if failure_path:
            headers["X-Amzn-SageMaker-FailureLocation"] = f"{failure_path.rstrip('/')}/{inference_id}-error.out"
        # The request is answered at once (no queue): the result object exists when this call returns.
        try:
            body = self.flows.read(ctx.account, params["InputLocation"])
        except S3Error as exc:
            message = json.dumps({"message": f"Could not read the input at {params['InputLocation']}: {exc}"})
            target = headers.get("X-Amzn-SageMaker-FailureLocation")
            if target:
                self.flows.write(ctx.account, ctx.region, target, message.encode())
        else:
            variant, doc = self.runtime.invoke(ctx, ep.name, body, component=params.get("InferenceComponentName"))
            answer = json.dumps(doc).encode()
            self._after_invoke(ctx, ep.name, variant, doc, (body, params.get("ContentType", "")), answer)
            self.flows.write(ctx.account, ctx.region, headers["X-Amzn-SageMaker-OutputLocation"], answer)
        return web.Response(body=json.dumps({"InferenceId": inference_id}).encode(), status=202, headers=headers)

    async def _sts(self, request: web.Request) -> web.Response:
        form = dict(request.query)
        if request.method == "POST":
            form.update({k: str(v) for k, v in (await request.post()).items()})
        operation = form.get("Action", "")
        model = service_model("sts")
        ctx = self.context(request, "sts", operation if operation in model.operation_names else UNKNOWN_OPERATION)

        async def call() -> web.Response:
            if operation not in model.operation_names:
                raise AwsError(
                    "InvalidAction", f"Could not find operation {operation or '(none)'} for version 2011-06-15"
                )
            op_model = model.operation_model(operation)
            params: dict[str, Any] = {}
            shape = op_model.input_shape
            for name, member in shape.members.items() if shape else []:
                if name in form:
                    value: Any = form[name]
                    if member.type_name == "integer":
                        try:
                            value = int(value)
                        except ValueError:
                            raise AwsError("ValidationError", f"Invalid integer for {name}") from None
                    params[name] = value
            errors = validate(shape, params, check_unknown=False)
            if errors:
                raise AwsError("ValidationError", validation_message(errors))
            if operation == "AssumeRole":
                return query_response(ctx, self.sts.assume_role(ctx, params, now()))
            if operation == "GetCallerIdentity":
                return query_response(ctx, self.sts.caller_identity(ctx))
            raise AwsError("NotImplemented", f"The emulator does not implement STS {operation}.", 501)

        return await self._run(ctx, query_error, call)


async def serve(
    emulator: Emulator,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_ready: Callable[[str], None],
) -> None:
    """Serve until ``stop`` is set; ``on_ready`` receives the base URL once listening."""
    runner = web.AppRunner(emulator.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        addresses = runner.addresses
        bound = addresses[0][1] if addresses else port
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"http://{shown}:{bound}")
        await stop.wait()
    finally:
        await runner.cleanup()


class EmulatorThread:
    """Run the emulator on a background thread; use as a context manager.

    >>> with EmulatorThread() as emu:          # durations default to 0 here
    ...     boto3.client("sagemaker", endpoint_url=emu.url, ...)
    ...     emu.admin.set_alarm("my-alarm", "ALARM")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        create_seconds: float = 0.0,
        update_seconds: float = 0.0,
        delete_seconds: float = 0.0,
        transform_seconds: float = 0.0,
        validate_responses: bool = True,
        seed: int | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.emulator = Emulator(
            EmulatorConfig(
                region=region,
                account_id=account_id,
                durations=Durations(
                    create=create_seconds, update=update_seconds, delete=delete_seconds, transform=transform_seconds
                ),
                validate_responses=validate_responses,
                seed=seed,
            )
        )
        self.url = ""
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def admin(self) -> AdminClient:
        """An admin client bound to this server."""
        return AdminClient(self.url)

    def start(self) -> EmulatorThread:
        """Start serving; returns once the port is bound."""
        self._thread = threading.Thread(target=self._main, name="sagemaker-emulator", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)
        if self._error is not None:
            raise RuntimeError("emulator failed to start") from self._error
        if not self.url:
            raise RuntimeError("emulator did not start within 30 seconds")
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._stop = asyncio.Event()

            def ready(url: str) -> None:
                self.url = url
                self._ready.set()

            loop.run_until_complete(serve(self.emulator, self.host, self.port, self._stop, ready))
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()
            loop.close()

    def stop(self) -> None:
        """Stop the server and join its thread."""
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            stop = self._stop
            # The loop may close between the check and the call.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=30)
        self._thread = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
