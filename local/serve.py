"""``meterbill serve``: the API on 127.0.0.1, run by the very handlers deployed to Lambda.

Each HTTP request goes through ``LocalApiGateway`` (``local/apigateway.py``): it becomes an API Gateway proxy
event for the REQUEST authorizer (``functions/ingest/authorizer_handler.py``) and the API handler
(``functions/ingest/ingest_handler.py``). Like their Lambda functions, the handlers build their stores from
the environment (CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE, AWS_REGION, DYNAMODB_ENDPOINT_URL).

Two ways to run (``run``):

- locally (``LocalPlatform``): moto's DynamoDB on 127.0.0.1 (a free port), the three tables created there,
  the environment set for the handlers (fake credentials, region, table names, the moto endpoint), and a demo
  account whose admin and ingest keys are printed once;
- on AWS (``--aws``): the tables the environment names, as they are; nothing is created.

The building blocks (``MotoDynamoDb``, ``create_local_tables``, ``LocalPlatform``, ...) are also what the
end to end tests start in-process. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import importlib
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Final, TextIO, TypeVar, cast

from moto.server import ThreadedMotoServer

from local.alerts import AlertPump, create_local_alerts
from local.apigateway import GatewayResponse, LambdaFunction, LocalApiGateway
from local.mail import DEFAULT_MAIL_DIR, LocalSesMailer, MailPump
from meterbill import email_wiring, invoice_wiring
from meterbill.adapters.dynamodb import DynamoDb, build_stores, create_tables
from meterbill.api import authorizer, dependencies
from meterbill.api.gate import CONSOLE_PREFIX, OPENAPI_PATH, PUBLIC_PATHS
from meterbill.ports import Scope, SigningKeyStore, Stores
from meterbill.services.apikeys import create_account, create_key
from meterbill.settings import ApiSettings, StorageSettings

T = TypeVar("T")

HOST: Final = "127.0.0.1"
LOCAL_REGION: Final = "eu-central-1"
LOCAL_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
# Variables that would take the local server's clients away from the fake credentials or the moto endpoint.
AMBIENT_AWS_VARIABLES: Final = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_DYNAMODB",
)
# Powertools as in a quiet local run; a variable already set wins (POWERTOOLS_METRICS_DISABLED=false shows the
# metrics Lambda would publish, as EMF lines on stdout).
POWERTOOLS_DEFAULTS: Final = {
    "POWERTOOLS_SERVICE_NAME": "meterbill-api",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
LOCAL_TABLES: Final = ("meterbill-catalog", "meterbill-readings", "meterbill-idempotency")
LOCAL_INVOICES_BUCKET: Final = "meterbill-invoices"
LOCAL_INVOICE_QUEUE: Final = "meterbill-invoice-work"
LOCAL_EMAIL_QUEUE: Final = "meterbill-email"
IDEMPOTENCY_PARTITION_KEY: Final = "id"
IDEMPOTENCY_TTL_ATTRIBUTE: Final = "expiration"  # powertools' DynamoDBPersistenceLayer default
DEMO_ACCOUNT_ID: Final = "acc_demo"
DEMO_ACCOUNT_NAME: Final = "Demo"
INGEST_KEY_NAME: Final = "collector"
EXIT_OK: Final = 0
EXIT_CANNOT_LISTEN: Final = 2
EXIT_INTERRUPTED: Final = 130  # what a shell reports for a process ended by SIGINT
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def local_settings(dynamodb_url: str, *, region: str = LOCAL_REGION) -> ApiSettings:
    """The settings of the local platform: the local table names, on ``dynamodb_url``."""
    catalog_table, readings_table, idempotency_table = LOCAL_TABLES
    storage = StorageSettings(
        catalog_table=catalog_table, readings_table=readings_table, region=region, endpoint_url=dynamodb_url
    )
    # http://127.0.0.1: a Secure cookie would never be sent back
    return ApiSettings(storage=storage, idempotency_table=idempotency_table, secure_cookies=False)


def handler_environment(settings: ApiSettings) -> dict[str, str]:
    """The variables the functions read their settings from, as the deployed stack sets them."""
    storage = settings.storage
    variables = {
        "CATALOG_TABLE": storage.catalog_table,
        "READINGS_TABLE": storage.readings_table,
        "IDEMPOTENCY_TABLE": settings.idempotency_table,
        "AWS_REGION": storage.region,
        "AWS_DEFAULT_REGION": storage.region,
    }
    if not settings.secure_cookies:
        variables["SESSION_COOKIE_SECURE"] = "false"
    if storage.endpoint_url is not None:
        variables["DYNAMODB_ENDPOINT_URL"] = storage.endpoint_url
    return variables


def local_environment(settings: ApiSettings) -> dict[str, str]:
    """The handlers' variables and moto's fake credentials: what a process needs to reach the local tables."""
    return {**handler_environment(settings), **LOCAL_CREDENTIALS}


@contextmanager
def environment(set_to: Mapping[str, str], *, unset: tuple[str, ...] = ()) -> Iterator[None]:
    """``os.environ`` with ``set_to`` set and ``unset`` removed; as it was afterwards."""
    names = {*set_to, *unset}
    before = {name: os.environ.get(name) for name in names}
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(set_to)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def forget_built_backends() -> None:
    """The handlers build their stores from the environment once and keep them: make them build anew."""
    dependencies.reset()
    authorizer.configure(None)
    invoice_wiring.reset()
    email_wiring.reset()


class MotoDynamoDb:
    """moto's server on 127.0.0.1 (a free port unless ``port`` is given), quiet; a context manager."""

    def __init__(self, *, port: int = 0) -> None:
        self._server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
        self._started = False

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per DynamoDB call otherwise
        self._server.start()
        self._started = True

    def stop(self) -> None:
        """Empty the tables, stop serving and close the port. Safe to call twice."""
        if not self._started:
            return
        try:
            # The server keeps its tables in this process's moto backends, which outlive it: empty them.
            reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
            urllib.request.urlopen(reset, timeout=10).close()
        finally:
            self._server.stop()
            # ThreadedMotoServer.stop() ends serve_forever but leaves the listening socket open.
            werkzeug_server = self._server._server
            if werkzeug_server is not None:
                werkzeug_server.server_close()
            self._started = False

    def __enter__(self) -> MotoDynamoDb:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


class MotoProcess:
    """moto's server in a process of its own on 127.0.0.1 (a free port): its work runs beside this process's
    on another core instead of sharing its interpreter (the demo's bulk loads and passes run ~2x faster).
    The same interface as ``MotoDynamoDb``; stopping ends the process and its state."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}"

    def start(self) -> None:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self._port = probe.getsockname()[1]
        # moto's server with local/moto_server.py's speed-ups (the same answers, far fewer cycles per Query)
        command = [sys.executable, "-m", "local.moto_server", "-H", HOST, "-p", str(self._port)]
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto's server did not start on {self.url}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Ends the server process. Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> MotoProcess:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def create_local_tables(settings: ApiSettings) -> None:
    """The catalog and readings tables (``create_tables``), and powertools' idempotency table: partition key
    ``id`` (S), TTL on ``expiration``, on-demand. Tables that exist are left as they are."""
    create_tables(settings.storage)
    client = DynamoDb(settings.storage).client
    name = settings.idempotency_table
    if name in client.list_tables()["TableNames"]:
        return
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": IDEMPOTENCY_PARTITION_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": IDEMPOTENCY_PARTITION_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": IDEMPOTENCY_TTL_ATTRIBUTE},
    )


def create_local_queue(sqs_url: str, *, region: str = LOCAL_REGION) -> dict[str, str]:
    """The bill run's work queue and the email queue on moto's SQS at ``sqs_url``; the variables naming them
    (INVOICE_QUEUE_URL, EMAIL_QUEUE_URL, SQS_ENDPOINT_URL; SES_ENDPOINT_URL: moto SES, same server)."""
    import boto3  # type: ignore[import-untyped]

    sqs = boto3.client("sqs", region_name=region, endpoint_url=sqs_url, **_boto_credentials())
    queue_url: str = sqs.create_queue(QueueName=LOCAL_INVOICE_QUEUE)["QueueUrl"]
    email_queue_url: str = sqs.create_queue(QueueName=LOCAL_EMAIL_QUEUE)["QueueUrl"]
    return {
        "INVOICE_QUEUE_URL": queue_url,
        "EMAIL_QUEUE_URL": email_queue_url,
        "SQS_ENDPOINT_URL": sqs_url,
        "SES_ENDPOINT_URL": sqs_url,
    }


def create_local_bucket(s3_url: str, *, region: str = LOCAL_REGION) -> dict[str, str]:
    """The invoices bucket on moto's S3 at ``s3_url``, with Object Lock as deployed; the variables naming it
    (INVOICES_BUCKET, S3_ENDPOINT_URL) as the stack sets the first for the API and the invoice functions, and
    the same moto for the accounts' signing keys in Secrets Manager (SECRETSMANAGER_ENDPOINT_URL)."""
    import boto3

    s3 = boto3.client("s3", region_name=region, endpoint_url=s3_url, **_boto_credentials())
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if LOCAL_INVOICES_BUCKET not in existing:
        location = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=LOCAL_INVOICES_BUCKET, ObjectLockEnabledForBucket=True, **location)
    return {
        "INVOICES_BUCKET": LOCAL_INVOICES_BUCKET,
        "S3_ENDPOINT_URL": s3_url,
        "SECRETSMANAGER_ENDPOINT_URL": s3_url,
    }


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


@dataclass(frozen=True, slots=True)
class AccountKeys:
    """A new account and the keys made for it; the keys' texts exist only here."""

    account_id: str
    admin_key: str
    ingest_key: str


def create_demo_account(stores: Stores, now: datetime) -> AccountKeys:
    """Account ``acc_demo`` with its first admin key and a collector's ingest key."""
    return create_account_with_keys(stores, now, name=DEMO_ACCOUNT_NAME, account_id=DEMO_ACCOUNT_ID)


def create_account_with_keys(
    stores: Stores,
    now: datetime,
    *,
    name: str,
    account_id: str | None = None,
    signing_keys: SigningKeyStore | None = None,
) -> AccountKeys:
    """An account, its first admin key and an ingest key named ``collector`` (and its document signing key
    in ``signing_keys``, when given)."""
    account, admin_key = create_account(
        name, stores.accounts, stores.keys, now, account_id=account_id, signing_keys=signing_keys
    )
    ingest: frozenset[Scope] = frozenset({"ingest"})
    _, ingest_key = create_key(account.account_id, INGEST_KEY_NAME, ingest, stores.keys, now)
    return AccountKeys(account_id=account.account_id, admin_key=admin_key, ingest_key=ingest_key)


@dataclass(frozen=True, slots=True)
class LambdaFunctions:
    authorizer: LambdaFunction
    handler: LambdaFunction


def lambda_functions() -> LambdaFunctions:
    """The deployed handlers. ``functions/`` is in the repository, not in the layer: its root must be on
    ``sys.path`` (it is when ``local.serve`` itself was imported from there). Imported on call, after the
    environment is set: powertools reads it when the modules load."""
    authorizer_module = importlib.import_module("functions.ingest.authorizer_handler")
    handler_module = importlib.import_module("functions.ingest.ingest_handler")
    return LambdaFunctions(
        authorizer=cast(LambdaFunction, authorizer_module.lambda_handler),
        handler=cast(LambdaFunction, handler_module.lambda_handler),
    )


# The answers infra/cdk/constructs/api.py (GATEWAY_PROBLEMS) configures for API Gateway's own errors, so the
# local API answers as the deployed one does; tests/infra checks the stack's side.
DEPLOYED_GATEWAY_RESPONSES: Final = {
    "UnauthorizedException": GatewayResponse(
        401, "Unauthorized", "this route needs a valid API key: Authorization: Bearer <key>"
    ),
    "AccessDeniedException": GatewayResponse(403, "Forbidden"),
    "MissingAuthenticationTokenException": GatewayResponse(404, "Not Found", "no such route"),
    "AuthorizerConfigurationException": GatewayResponse(500, "Internal Server Error"),
}


def api_gateway(*, port: int, region: str, verbose: bool = False) -> LocalApiGateway:
    """The handlers behind a local API Gateway on 127.0.0.1:``port`` (0: a free port); not started."""
    functions = lambda_functions()
    return LocalApiGateway(
        authorizer=functions.authorizer,
        handler=functions.handler,
        public_paths=PUBLIC_PATHS | {CONSOLE_PREFIX.rstrip("/")},
        public_prefixes=(CONSOLE_PREFIX,),
        host=HOST,
        port=port,
        region=region,
        gateway_responses=DEPLOYED_GATEWAY_RESPONSES,
        verbose=verbose,
    )


class CannotListenError(Exception):
    """The API's port is taken (or not ours to take)."""

    def __init__(self, port: int, error: OSError) -> None:
        super().__init__(f"cannot listen on {HOST}:{port}: {error.strerror or error}")


@contextmanager
def listening(gateway: LocalApiGateway) -> Iterator[LocalApiGateway]:
    """The gateway started, stopped on the way out; CannotListenError when its port cannot be bound."""
    try:
        gateway.start()
    except OSError as error:
        raise CannotListenError(gateway.port, error) from error
    try:
        yield gateway
    finally:
        gateway.stop()


class LocalPlatform:
    """moto's DynamoDB, the tables, the handlers' environment and the API, all on 127.0.0.1.

    ``start()`` (or ``with``) brings them up in that order and ``stop()`` takes them down in reverse, putting
    ``os.environ`` back as it was. No account exists until ``create_account`` (or ``create_demo_account``).
    ``moto_process``: moto's server in a process of its own (``MotoProcess``) rather than a thread.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        region: str = LOCAL_REGION,
        verbose: bool = False,
        mail_dir: Path | None = None,
        moto_process: bool = False,
    ) -> None:
        self.port = port
        self.moto_process = moto_process
        self.region = region
        self.verbose = verbose
        self.mail_dir = DEFAULT_MAIL_DIR if mail_dir is None else mail_dir
        self.mailer: LocalSesMailer | None = None
        self._started = ExitStack()
        self._gateway: LocalApiGateway | None = None
        self._stores: Stores | None = None
        self._settings: ApiSettings | None = None
        self._queue_variables: dict[str, str] = {}

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` of the API."""
        return _running(self._gateway).url

    @property
    def settings(self) -> ApiSettings:
        return _running(self._settings)

    @property
    def stores(self) -> Stores:
        """The stores on the local tables, as the handlers see them."""
        return _running(self._stores)

    @property
    def environment(self) -> dict[str, str]:
        """What another process needs to reach these tables and the invoice queue (``meterbill accounts
        create``, ``meterbill schedules run``)."""
        return {**local_environment(self.settings), **self._queue_variables}

    def start(self) -> None:
        if self._settings is not None:
            raise RuntimeError("the local platform is already started")
        with ExitStack() as starting:
            moto: MotoDynamoDb | MotoProcess
            if self.moto_process:
                moto = starting.enter_context(MotoProcess())
            else:
                moto = starting.enter_context(MotoDynamoDb())
            settings = local_settings(moto.url, region=self.region)
            variables = {**local_environment(settings), **_unset_defaults(POWERTOOLS_DEFAULTS)}
            starting.enter_context(environment(variables, unset=AMBIENT_AWS_VARIABLES))
            forget_built_backends()
            starting.callback(forget_built_backends)
            create_local_tables(settings)
            queue_variables = create_local_queue(moto.url, region=self.region)
            queue_variables |= create_local_bucket(moto.url, region=self.region)
            queue_variables |= create_local_alerts(moto.url, region=self.region)
            starting.enter_context(environment(queue_variables))
            gateway = starting.enter_context(
                listening(api_gateway(port=self.port, region=self.region, verbose=self.verbose))
            )
            self._started = starting.pop_all()
        self._settings, self._stores, self._gateway = settings, build_stores(settings.storage), gateway
        self._queue_variables = queue_variables
        # SES on moto; every email sent is also written into the mail folder.
        self.mailer = LocalSesMailer(self.mail_dir, region=self.region, endpoint_url=moto.url)

    def stop(self) -> None:
        """Stops the API, forgets the handlers' stores, restores the environment, stops moto. Safe twice."""
        self._settings = self._stores = self._gateway = None
        self.mailer = None
        self._started.close()

    def create_account(self, name: str, *, account_id: str | None = None) -> AccountKeys:
        """A new account with its first admin key, an ingest key and its document signing key (Secrets
        Manager on moto, as the stack keeps it)."""
        return create_account_with_keys(
            self.stores,
            datetime.now(UTC),
            name=name,
            account_id=account_id,
            signing_keys=self.signing_keys(),
        )

    def signing_keys(self) -> SigningKeyStore:
        """The accounts' document signing keys, in Secrets Manager on this platform's moto."""
        from meterbill.adapters.secrets import SecretsManagerSigningKeys
        from meterbill.settings import DocumentSettings

        settings = DocumentSettings.from_env(os.environ)
        return SecretsManagerSigningKeys(
            settings.signing_key_secret_prefix,
            region=self.region,
            endpoint_url=self._queue_variables["SECRETSMANAGER_ENDPOINT_URL"],
        )

    def create_demo_account(self) -> AccountKeys:
        return create_demo_account(self.stores, datetime.now(UTC))

    def __enter__(self) -> LocalPlatform:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _running(value: T | None) -> T:
    if value is None:
        raise RuntimeError("the local platform is not started")
    return value


def _unset_defaults(defaults: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in defaults.items() if name not in os.environ}


# --- the command ------------------------------------------------------------------------------------------


def run(
    *,
    port: int,
    aws_settings: ApiSettings | None,
    verbose: bool = False,
    out: TextIO | None = None,
    schedules: bool = True,
    mail_dir: Path = DEFAULT_MAIL_DIR,
) -> int:
    """Serve until SIGINT (Ctrl-C) or SIGTERM; ``aws_settings`` None: on moto with a demo account, else on
    the tables they name. Prints the API's address (and the demo keys) on ``out``; problems on stderr.
    Locally, with ``schedules``, the rating pass and the bill run fire on the wall clock as EventBridge
    Scheduler fires them in AWS (``local.schedules.LocalScheduler``); on AWS, AWS runs them. Locally the
    email queue is drained every few seconds, through SES on moto, each email also written into
    ``mail_dir`` as ``.eml``."""
    output = sys.stdout if out is None else out
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if verbose:  # the gateway's access log; the AWS SDK's INFO lines stay out
        logging.getLogger(LocalApiGateway.__module__).setLevel(logging.INFO)
    # Routes that publish no metric make powertools warn once each; Lambda puts that in the logs, we drop it.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stop = _StopRequest()
    try:
        with stop.on_signals():
            if aws_settings is None:
                return _serve_locally(port, verbose, output, stop, schedules=schedules, mail_dir=mail_dir)
            return _serve_on_aws(aws_settings, port, verbose, output, stop)
    except KeyboardInterrupt:  # a signal before the API was up: everything started is stopped by now
        print("meterbill serve: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _serve_locally(
    port: int, verbose: bool, out: TextIO, stop: _StopRequest, *, schedules: bool, mail_dir: Path
) -> int:
    platform = LocalPlatform(port=port, verbose=verbose, mail_dir=mail_dir)
    try:
        platform.start()
    except CannotListenError as error:
        return _cannot_listen(error)
    try:
        demo = platform.create_demo_account()
        settings = platform.settings
        scheduler = None
        if schedules:
            from local.schedules import LocalScheduler

            scheduler = LocalScheduler(on_pass=(lambda line: _print(out, line)) if verbose else None)
        schedule_line = (
            "schedules: alerts every 5 minutes, the rating pass every 15, the bill run hourly (on the wall "
            "clock; --no-schedules turns them off; meterbill schedules run fires one as of any moment)"
            if schedules
            else "schedules: off (meterbill schedules run rate|invoice|alerts --at TIME fires one)"
        )
        if scheduler is not None:
            scheduler.start()
        pump = MailPump(_running(platform.mailer))
        pump.start()
        alert_pump = AlertPump(mail_dir)
        alert_pump.start()
        try:
            stop.serving()  # from here a signal ends wait(), even one that comes while the lines are printed
            _print(
                out,
                f"meterbill API: {platform.url} (OpenAPI document: {platform.url}{OPENAPI_PATH})",
                f"console: {platform.url}{CONSOLE_PREFIX} (sign in with the admin key below)",
                f"DynamoDB: moto at {settings.storage.endpoint_url}, tables {_table_names(settings)}",
                f"SQS: moto, invoice work queue {platform.environment['INVOICE_QUEUE_URL']}",
                f"email: SES on moto; every email sent is also written to {mail_dir}/ as .eml",
                f"alerts: SNS on moto, topic {platform.environment['ALERTS_TOPIC_ARN']}; each notification "
                f"is written to {mail_dir}/ as the email each admitting subscriber would get",
                schedule_line,
                f"demo account {demo.account_id}; its keys are shown this once:",
                f"  admin key:  {demo.admin_key}",
                f"  ingest key: {demo.ingest_key}",
                "meterbill accounts create NAME and meterbill schedules run reach this server with:",
                "  export "
                + " ".join(f"{name}={shlex.quote(value)}" for name, value in platform.environment.items()),
                "Ctrl-C stops.",
            )
            stop.wait()
        finally:
            pump.stop()
            alert_pump.stop()
            if scheduler is not None:
                scheduler.stop()  # a pass under way ends before the tables go
    finally:
        platform.stop()
    _print(out, "meterbill serve: stopped")
    return EXIT_OK


def _serve_on_aws(settings: ApiSettings, port: int, verbose: bool, out: TextIO, stop: _StopRequest) -> int:
    with ExitStack() as serving:
        serving.enter_context(
            environment({**handler_environment(settings), **_unset_defaults(POWERTOOLS_DEFAULTS)})
        )
        forget_built_backends()
        serving.callback(forget_built_backends)
        gateway = api_gateway(port=port, region=settings.storage.region, verbose=verbose)
        try:
            serving.enter_context(listening(gateway))
        except CannotListenError as error:
            return _cannot_listen(error)
        where = settings.storage.endpoint_url or f"AWS {settings.storage.region}"
        _print(
            out,
            f"meterbill API: {gateway.url} (OpenAPI document: {gateway.url}{OPENAPI_PATH})",
            f"console: {gateway.url}{CONSOLE_PREFIX}",
            f"DynamoDB: {where}, tables {_table_names(settings)}",
            "API keys: meterbill accounts create NAME --aws",
            "Ctrl-C stops.",
        )
        stop.serving()
        stop.wait()
    _print(out, "meterbill serve: stopped")
    return EXIT_OK


def _table_names(settings: ApiSettings) -> str:
    storage = settings.storage
    return f"{storage.catalog_table}, {storage.readings_table}, {settings.idempotency_table}"


def _cannot_listen(error: CannotListenError) -> int:
    print(f"meterbill serve: {error}", file=sys.stderr)
    return EXIT_CANNOT_LISTEN


def _print(out: TextIO, *lines: str) -> None:
    for line in lines:
        print(line, file=out)
    out.flush()  # a pipe (a test, a supervisor) reads the address and keys before the first request


class _StopRequest:
    """SIGINT and SIGTERM end the server: while it serves they end ``wait()``; before, they interrupt the
    start (KeyboardInterrupt), so whatever started is stopped on the way out."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._serving = False

    def serving(self) -> None:
        """From now on a signal ends ``wait()`` (one that came as the start finished ends it at once)."""
        self._serving = True

    def wait(self) -> None:
        while not self._requested.wait(timeout=0.5):
            pass

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._requested.set()
        if not self._serving:
            raise KeyboardInterrupt

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
