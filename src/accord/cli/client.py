"""The CLI's HTTP client: one place for the server URL, credentials, output and exit codes.

Exit codes scripts can rely on:
0 success · 1 unexpected error · 2 usage · 3 not found (404) · 4 not allowed (401/403)
· 5 conflict or locked (409/423) · 6 invalid request (400/406/413) · 7 server error or unreachable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

# httpx and Rich are imported on first use: `accord serve` and `accord up` never need them,
# and together they cost the server process ~10 MiB.

EXIT_NOT_FOUND = 3
EXIT_FORBIDDEN = 4
EXIT_CONFLICT = 5
EXIT_INVALID = 6
EXIT_SERVER = 7

STATUS_EXIT = {
    404: EXIT_NOT_FOUND,
    401: EXIT_FORBIDDEN,
    403: EXIT_FORBIDDEN,
    409: EXIT_CONFLICT,
    423: EXIT_CONFLICT,
}


@cache
def console() -> Console:
    from rich.console import Console

    return Console()


@cache
def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def exit_code_for(status: int) -> int:
    if status in STATUS_EXIT:
        return STATUS_EXIT[status]
    if 400 <= status < 500:
        return EXIT_INVALID
    return EXIT_SERVER


@dataclass
class Client:
    url: str
    token: str | None
    project: str
    roles: str
    as_json: bool = False
    microversion: str = "2.3"
    # --field NAME: print only that field (of the record, or of each row, one a line), for scripts
    field: str | None = None

    @classmethod
    def from_options(
        cls, url: str | None, token: str | None, as_json: bool, field: str | None = None
    ) -> Client:
        return cls(
            url=(url or os.environ.get("ACCORD_URL") or "http://127.0.0.1:6666").rstrip("/"),
            token=token or os.environ.get("ACCORD_TOKEN") or None,
            project=os.environ.get("ACCORD_PROJECT", "admin"),
            roles=os.environ.get("ACCORD_ROLES", "admin,service"),
            as_json=as_json,
            field=field,
        )

    def headers(self) -> dict[str, str]:
        headers = {"OpenStack-API-Version": f"accelerator {self.microversion}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        else:  # a noauth server trusts these (development mode)
            headers.update({"X-Project-Id": self.project, "X-User-Id": "accord-cli", "X-Roles": self.roles})
        return headers

    def call(
        self,
        method: str,
        path: str,
        extra_headers: dict[str, str] | None = None,
        timeout: float | None = 60,
        **kwargs: Any,
    ) -> Any:
        import httpx

        headers = {**self.headers(), **(extra_headers or {})}
        try:
            response = httpx.request(method, self.url + path, headers=headers, timeout=timeout, **kwargs)
        except httpx.HTTPError as exc:
            err_console().print(f"[red]cannot reach Accord at {self.url}: {exc}[/red]")
            raise typer.Exit(EXIT_SERVER) from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("error_message", response.text)
            except ValueError:
                message = response.text or response.reason_phrase
            err_console().print(f"[red]{response.status_code}: {message}[/red]")
            raise typer.Exit(exit_code_for(response.status_code))
        if not response.content:
            return None
        return response.json()

    def print_field(self, data: Any) -> None:
        """`--field NAME`: the field of the record, or of each row, one a line ("" when absent)."""
        for row in data if isinstance(data, list) else [data]:
            value = row.get(self.field) if isinstance(row, dict) else None
            if isinstance(value, list):
                for item in value:
                    console().print(_cell(item), highlight=False, soft_wrap=True)
            else:
                console().print(_cell(value), highlight=False, soft_wrap=True)

    def show(self, data: Any, columns: Sequence[str] = (), title: str | None = None) -> None:
        if self.field:
            self.print_field(data)
            return
        if self.as_json or not columns:
            console().print_json(json.dumps(data))
            return
        rows = data if isinstance(data, list) else [data]
        from rich.table import Table

        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        console().print(table)

    def report(self, data: dict[str, Any], message: str) -> None:
        """The outcome of a command with no resource to show (a delete: the deleted ids)."""
        if self.field:
            self.print_field(data)
        elif self.as_json:
            console().print_json(json.dumps(data))
        else:
            console().print(message, highlight=False, soft_wrap=True)

    def show_record(self, data: dict[str, Any]) -> None:
        if self.field:
            self.print_field(data)
            return
        if self.as_json:
            console().print_json(json.dumps(data))
            return
        from rich.table import Table

        table = Table(show_header=True)
        table.add_column("field")
        table.add_column("value")
        for key, value in data.items():
            table.add_row(key, _cell(value))
        console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)
