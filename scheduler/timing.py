"""Cron expressions and fire times (pure, on APScheduler's CronTrigger)."""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger


class CronError(ValueError):
    """A schedule that is not a cron expression."""


def cron_trigger(expression: str, timezone: str = "UTC") -> CronTrigger:
    """Five fields (minute hour day month day-of-week, as crontab) or six with seconds
    first (`*/10 * * * * *`: every ten seconds)."""
    fields = expression.split()
    try:
        if len(fields) == 5:
            return CronTrigger.from_crontab(expression, timezone=timezone)
        if len(fields) == 6:
            second, minute, hour, day, month, day_of_week = fields
            return CronTrigger(
                second=second,
                minute=minute,
                hour=hour,
                day=day,
                month=month,
                day_of_week=day_of_week,
                timezone=timezone,
            )
    except (ValueError, LookupError) as error:  # LookupError: an unknown time zone
        raise CronError(f"{expression!r}: {error}") from None
    raise CronError(
        f"{expression!r}: expected 5 fields (minute hour day month day-of-week) or 6 (second first), got {len(fields)}"
    )


def latest_fire_time(trigger: CronTrigger, now: datetime, since: datetime, limit: int = 100_000) -> datetime | None:
    """The last fire time in (since, now], or None when there is none."""
    latest = None
    moment = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    for _ in range(limit):
        if moment is None or moment > now:
            return latest
        latest = moment
        moment = trigger.get_next_fire_time(moment, now)
        if moment is not None and moment <= latest:  # get_next_fire_time never goes back; be sure
            return latest
    return latest


def missed_since(trigger: CronTrigger, last: datetime | None, now: datetime) -> datetime | None:
    """The fire time a scheduler that was down missed: the latest one after `last` (the
    fire time the newest recorded run served) up to `now`; `last` None means nothing
    ever ran, which counts as missed (the first run happens at start)."""
    if last is None:
        return now
    next_after = trigger.get_next_fire_time(last, now)
    if next_after is None or next_after > now:
        return None
    return latest_fire_time(trigger, now, last) or next_after
