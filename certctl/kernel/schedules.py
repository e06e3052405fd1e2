"""What an app's `schedules.py` lists: a named periodic task and its interval (registered by certctl.schedules)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: float
    variable: str = ""  # the environment variable the interval comes from, named in start-up warnings
