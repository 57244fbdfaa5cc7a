"""Deployment settings, read once at the edge from DUBAN_* variables and a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "change-me"


class Settings(BaseSettings):
    """Everything a deployment may set; the engine receives what it needs as arguments."""

    model_config = SettingsConfigDict(env_prefix="DUBAN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///duban.db"
    timezone: str = "Asia/Shanghai"
    reminder_hour: int = Field(default=9, ge=0, le=23)
    calendar_override: Path | None = None
    plans_dir: Path | None = Field(
        default=None,
        description="the folder of plan files the API and the pages offer (default: the shipped plans)",
    )
    data_dir: Path = Path("data")
    max_upload_mb: int = Field(default=20, ge=1, le=1024)
    secret_key: str = PLACEHOLDER_SECRET
    token_minutes: int = Field(default=12 * 60, ge=5)
    local: bool = Field(default=True, description="a local run may keep placeholder secrets")
    threads: int = Field(default=4, ge=1, le=256, description="threads that run the API's sync routes")
    # 红黄绿灯 of the dashboard: a unit's on-time rate (percent) at or above which its light is green, or yellow.
    light_green: float = Field(default=90.0, ge=0, le=100)
    light_yellow: float = Field(default=70.0, ge=0, le=100)
    trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is believed; "
        "none by default, so a client cannot choose the address its sign-ins are counted under",
    )

    log_format: Literal["text", "json"] = Field(
        default="text", description="the server's log lines: text, or one JSON object per line"
    )
    webhook_hosts: str = Field(
        default="",
        description="comma-separated host names (`*.example.cn` for a domain and its subdomains) webhooks and "
        "robots may post to; empty allows any host but link-local and cloud metadata addresses",
    )

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_sender: str = "duban@localhost"

    sweep_seconds: int = Field(default=60, ge=1)
    deliver_seconds: int = Field(default=5, ge=1)
    deliver_max_attempts: int = Field(default=8, ge=1)
    deliver_backoff_seconds: float = Field(default=30.0, gt=0)
    deliver_backoff_cap_seconds: float = Field(default=6 * 3600.0, gt=0)

    def check_secrets(self) -> None:
        """Refuse placeholder secrets outside a local run."""
        if not self.local and self.secret_key == PLACEHOLDER_SECRET:
            raise ValueError(
                "DUBAN_SECRET_KEY is still the placeholder; set a real secret (DUBAN_LOCAL=false)"
            )

    def plans_folder(self) -> Path:
        """The plan files the API and the pages offer: DUBAN_PLANS_DIR, else the seed's shipped with duban."""
        from duban.seed import seed_plans

        return self.plans_dir or seed_plans()
