"""The running emulator: settings, clock, state, faults and counters, held by the app."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from app.emulator.clock import Clock
from app.emulator.directory import Directory, read_directory_file
from app.emulator.faults import FaultInjector
from app.emulator.settings import EmulatorSettings
from app.emulator.stats import Stats
from app.emulator.store import Store


class Emulator:
    """Everything one emulator instance owns; built by `create_emulator_app`."""

    def __init__(self, settings: EmulatorSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.zone = ZoneInfo(settings.timezone)
        self.store = Store.open(
            settings.state_file,
            read_directory_file(settings.resolved_directory_file),
            clock.now(),
            settings.password_validity_days,
        )
        self.faults = FaultInjector()
        self.stats = Stats()

    def reset(self) -> None:
        """Forget invoices, attachments, duplicates, faults and counters; reload the seed."""
        seed = read_directory_file(self.settings.resolved_directory_file)
        self.store.reset(Directory(seed, self.clock.now(), self.settings.password_validity_days))
        self.faults.clear()
        self.stats.clear()

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return self.clock.now()

    def today(self) -> date:
        """Today's date in Chorus's time zone."""
        return self.clock.now().astimezone(self.zone).date()

    def format_moment(self, moment: datetime) -> str:
        """A date-time the way Chorus prints it (local time, `datetime_format`)."""
        return moment.astimezone(self.zone).strftime(self.settings.datetime_format)

    def format_instant(self, moment: datetime) -> str:
        """An ISO 8601 date-time with milliseconds and offset, as Chorus's date-time fields."""
        return moment.astimezone(self.zone).isoformat(timespec="milliseconds")
