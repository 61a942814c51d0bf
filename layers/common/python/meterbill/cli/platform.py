"""`meterbill serve`, `meterbill demo`, `meterbill accounts` and `meterbill migrate`: the hosted API, run
locally or reached in AWS, the whole platform's demo, and the repairs of its stored data."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

import meterbill
from meterbill.cli.common import EXIT_OK, EXIT_UNAVAILABLE, InputError
from meterbill.errors import InvalidInputError, StorageUnavailableError
from meterbill.settings import ApiSettings, StorageSettings

if TYPE_CHECKING:
    from meterbill.cli.common import Commands

_REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
_ENDPOINT_VARIABLE = "DYNAMODB_ENDPOINT_URL"
_STORAGE_VARIABLES = {
    "catalog_table": "CATALOG_TABLE",
    "readings_table": "READINGS_TABLE",
    "region": "AWS_REGION",
}
_API_VARIABLES = {**_STORAGE_VARIABLES, "idempotency_table": "IDEMPOTENCY_TABLE"}
# layers/common/python/meterbill/__init__.py: the checkout holding functions/ and local/ is four levels up.
_REPOSITORY_DEPTH = 4
_CHECKOUT_FILES = (
    "functions/ingest/ingest_handler.py",
    "functions/ingest/authorizer_handler.py",
    "functions/rate/rate_handler.py",
    "local/serve.py",
    "local/schedules.py",
    "local/demo.py",
)


def add_commands(commands: Commands) -> None:
    serving = commands.add_parser(
        "serve", help="run the API on 127.0.0.1 (moto, or --aws)", description=_serve.__doc__
    )
    serving.add_argument(
        "--port", type=_port, default=8080, help="the API's port on 127.0.0.1 (default 8080; 0: a free one)"
    )
    serving.add_argument(
        "--aws",
        action="store_true",
        help="use the AWS tables named by CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE and AWS_REGION "
        "instead of moto (nothing is created)",
    )
    serving.add_argument(
        "--verbose", action="store_true", help="log every request on stderr, and every schedule pass"
    )
    serving.add_argument(
        "--no-schedules",
        dest="schedules",
        action="store_false",
        help="do not run the rating pass (every 15 min) and the bill run (hourly) on the wall clock",
    )
    serving.add_argument(
        "--mail-dir",
        type=Path,
        default=Path("mail"),
        metavar="DIR",
        help="locally, every email sent (through SES on moto) is also written here as .eml (default ./mail)",
    )
    serving.set_defaults(run=_serve)

    demo = commands.add_parser(
        "demo",
        help="the whole platform on moto: a portfolio, two months, invoices, alerts",
        description=_demo.__doc__,
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-out"),
        metavar="DIR",
        help="where the demo's files go: the emails as .eml under DIR/mail (default ./demo-out)",
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="afterwards keep the platform and the console up on 127.0.0.1:PORT until Ctrl-C or SIGTERM",
    )
    demo.add_argument("--port", type=_port, default=8080, help="the API's port with --serve (default 8080)")
    demo.set_defaults(run=_demo)

    accounts = commands.add_parser("accounts", help="manage accounts of the hosted API")
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True, metavar="COMMAND")
    creating = account_commands.add_parser(
        "create", help="create an account and print its first admin key", description=_accounts_create.__doc__
    )
    creating.add_argument("name", metavar="NAME", help="the account's name (at most 100 characters)")
    creating.add_argument(
        "--aws",
        action="store_true",
        help=f"the tables are in AWS (without --aws, {_ENDPOINT_VARIABLE} must name a local server)",
    )
    creating.set_defaults(run=_accounts_create)

    migrating = commands.add_parser(
        "migrate", help="repair stored data after a deploy (idempotent)", description=_migrate.__doc__
    )
    migrating.add_argument(
        "migration",
        choices=sorted(_migration_names()),
        help="accounts-listing: put accounts created before the bill run listed accounts into its listing",
    )
    migrating.add_argument(
        "--aws",
        action="store_true",
        help=f"the tables are in AWS (without --aws, {_ENDPOINT_VARIABLE} must name a local server)",
    )
    migrating.set_defaults(run=_migrate)


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535)")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    """Serve the API on 127.0.0.1:PORT: every request becomes an API Gateway proxy event for the Lambda
    authorizer and handler of functions/ingest, run in this process. Without --aws the tables live in
    moto's DynamoDB (started on a free port of 127.0.0.1, emptied when the server stops) and a demo
    account is created, its admin and ingest keys printed once; the bill run's queue is on moto's SQS, and
    the schedules run on the wall clock as EventBridge Scheduler runs them (the rating pass every 15
    minutes, the bill run and its worker hourly) unless --no-schedules; emails go through SES on moto and
    each is also written into --mail-dir (default ./mail) as .eml. With --aws the handlers use the
    tables the environment names (CATALOG_TABLE, READINGS_TABLE, IDEMPOTENCY_TABLE, AWS_REGION, and
    DYNAMODB_ENDPOINT_URL if set) with the ambient AWS credentials; nothing is created. Ctrl-C or SIGTERM
    stops it. Runs from a checkout of the repository (the handlers are not part of the installed package)."""
    aws_settings = _api_settings_from_environment() if args.aws else None
    put_checkout_on_path()
    local_server = importlib.import_module("local.serve")  # loads moto: only this command pays for it
    exit_code: int = local_server.run(
        port=args.port,
        aws_settings=aws_settings,
        verbose=args.verbose,
        schedules=args.schedules,
        mail_dir=args.mail_dir,
    )
    return exit_code


def _demo(args: argparse.Namespace) -> int:
    """Start the local platform on moto, set up the demo portfolio through the API (an office building, a
    colocation room, a compute cluster, a machine park), load two months of readings with four faults, run
    the schedules on a test clock (rating, alerts, the bill runs on the bill days and after the grace days,
    a corrected reading's credit note), let a collector read simulated Modbus meters, and print what the
    platform did: invoices with numbers and totals, the shared parts of each bill, the emails, exactly the
    four alerts, the savings report, and the time it took. Nothing is left running, unless --serve: then
    the platform and the console stay up (the URL, the keys and a few curl lines are printed). Runs from a
    checkout of the repository, as serve does."""
    put_checkout_on_path()
    demo = importlib.import_module("local.demo")  # loads moto and the whole platform: only this command
    exit_code: int = demo.run(args.out, serve=args.serve, port=args.port)
    return exit_code


def _accounts_create(args: argparse.Namespace) -> int:
    """Create an account in the tables the environment names (CATALOG_TABLE, READINGS_TABLE, AWS_REGION) and
    print its id and its first admin key, which is shown this once (only a salted hash is stored). Without
    --aws the tables are those of a local server: DYNAMODB_ENDPOINT_URL must be set (meterbill serve prints
    the variables to export). With --aws they are in AWS, reached with the ambient credentials, and
    DYNAMODB_ENDPOINT_URL must not be set."""
    settings = storage_settings_from_environment(aws=args.aws)
    from meterbill.adapters.dynamodb import build_stores  # loads pynamodb and botocore: only this command
    from meterbill.services.apikeys import create_account

    stores = build_stores(settings)
    try:
        account, key = create_account(args.name, stores.accounts, stores.keys, datetime.now(UTC))
    except InvalidInputError as err:
        raise InputError(f"NAME {args.name!r}: {err.reason}") from None
    except StorageUnavailableError as err:
        where = settings.endpoint_url or f"AWS {settings.region}"
        print(f"meterbill accounts: DynamoDB at {where}: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"account:   {account.account_id}")
    print(f"admin key: {key}")
    print("meterbill accounts: the admin key is shown this once; keep it safe", file=sys.stderr)
    return EXIT_OK


def _migration_names() -> list[str]:
    from meterbill.services.migrations import MIGRATIONS

    return list(MIGRATIONS)


def _migrate(args: argparse.Namespace) -> int:
    """Run one migration against the tables the environment names (CATALOG_TABLE, READINGS_TABLE,
    AWS_REGION; without --aws, DYNAMODB_ENDPOINT_URL must name a local server) and print how many items it
    fixed. Safe to run again: a second run fixes 0."""
    settings = storage_settings_from_environment(aws=args.aws)
    from meterbill.adapters.dynamodb import build_stores  # loads pynamodb and botocore: only this command
    from meterbill.services import migrations

    try:
        report = migrations.run(args.migration, build_stores(settings))
    except StorageUnavailableError as err:
        where = settings.endpoint_url or f"AWS {settings.region}"
        print(f"meterbill migrate: DynamoDB at {where}: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    print(f"{report.name}: {report.fixed} {'item' if report.fixed == 1 else 'items'} fixed")
    return EXIT_OK


def storage_settings_from_environment(*, aws: bool) -> StorageSettings:
    """The tables of a local server (DYNAMODB_ENDPOINT_URL) or, with ``aws``, the AWS tables."""
    endpoint = os.environ.get(_ENDPOINT_VARIABLE)
    if aws and endpoint:
        raise InputError(f"--aws: {_ENDPOINT_VARIABLE} is set ({endpoint}); unset it to use the AWS tables")
    if not aws and not endpoint:
        raise InputError(
            f"{_ENDPOINT_VARIABLE} is not set: start meterbill serve and export the variables it prints, "
            "or pass --aws to create the account in the AWS tables the environment names"
        )
    _require_variables(_STORAGE_VARIABLES.values())
    try:
        return StorageSettings.from_env(os.environ)
    except ValidationError as err:
        raise _variable_error(err, _STORAGE_VARIABLES) from None


def _api_settings_from_environment() -> ApiSettings:
    _require_variables(_API_VARIABLES.values(), option="--aws")
    try:
        return ApiSettings.from_env(os.environ)
    except ValidationError as err:
        raise _variable_error(err, _API_VARIABLES) from None


def _require_variables(names: Iterable[str], *, option: str | None = None) -> None:
    """InputError naming every variable that is unset or empty (the region may be AWS_DEFAULT_REGION)."""
    missing: list[str] = []
    for name in names:
        aliases = _REGION_VARIABLES if name in _REGION_VARIABLES else (name,)
        if not any(os.environ.get(alias) for alias in aliases):
            missing.append(" or ".join(aliases))
    if missing:
        needs = f"{option} needs" if option else "needs"
        plural = "s" if len(missing) > 1 else ""
        raise InputError(f"{needs} the environment variable{plural} {', '.join(missing)}")


def _variable_error(err: ValidationError, variables: dict[str, str]) -> InputError:
    problem = err.errors(include_url=False)[0]
    field = str(problem["loc"][-1])
    return InputError(f"{variables.get(field, field)}: {problem['msg']}")


def put_checkout_on_path() -> None:
    """The handlers (functions/) and the local server (local/) are in the repository, not in the installed
    package: find the checkout this meterbill comes from and let Python import from it."""
    package = Path(meterbill.__file__).resolve().parent
    root = package.parents[_REPOSITORY_DEPTH - 1]
    missing = [name for name in _CHECKOUT_FILES if not (root / name).is_file()]
    if missing:
        raise InputError(
            f"runs from a checkout of the meterbill repository (pip install -e .), but this meterbill is "
            f"installed at {package} and {root / missing[0]} does not exist"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
