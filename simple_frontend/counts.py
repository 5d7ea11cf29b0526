"""Answers of the count endpoints: each asks the batch index for its part of the range
and the live indices for theirs (see `merge.Plan`), and adds the answers up."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from . import queries, results
from .merge import Plan, merge_counts, merge_timeline, merge_values
from .params import bucket_keys
from .queries import BATCH, LIVE, Target, Window
from .store import CountsStore

Build = Callable[[Target, Window], dict[str, Any]]


class Counts:
    def __init__(self, store: CountsStore) -> None:
        self.store = store

    def _ask(self, plan: Plan, build: Build) -> list[Mapping[str, Any]]:
        """The answers of the parts of `plan`, each in the batch answer's shape."""
        batch = build(BATCH, plan.batch) if plan.batch is not None else None
        live = build(LIVE, plan.live) if plan.live is not None else None
        answers = self.store.search_parts(batch, live)
        if live is not None:
            answers[-1] = queries.unwrap(answers[-1], LIVE)
        return answers

    @staticmethod
    def _stored(plan: Plan, target: Target):
        return plan.stored if target is BATCH else None

    def totals(self, plan: Plan) -> tuple[list[tuple[str, int]], int, bool]:
        """(count per label, biggest first; the total; whether labels were cut off)."""
        answers = self._ask(
            plan,
            lambda target, window: queries.totals_body(
                self._stored(plan, target), plan.query, target=target, window=window
            ),
        )
        counts = merge_counts(*(results.label_counts(answer) for answer in answers))
        total = sum(results.total(answer) for answer in answers)
        truncated = any(results.labels_truncated(answer) for answer in answers)
        return counts, total, truncated

    def top(self, plan: Plan) -> list[tuple[str, int]]:
        # Merged, the n busiest of each part need not be the n busiest overall: each
        # part then lists all its labels (a few dozen), and the merge keeps n.
        size = queries.MAX_TERMS if plan.both else plan.query.top
        answers = self._ask(
            plan,
            lambda target, window: queries.totals_body(
                self._stored(plan, target), plan.query, target=target, window=window, size=size
            ),
        )
        return merge_counts(*(results.label_counts(answer) for answer in answers))[: plan.query.top]

    def distinct(self, field: str, plan: Plan) -> list[str]:
        answers = self._ask(
            plan,
            lambda target, window: queries.distinct_body(
                field, self._stored(plan, target), plan.query, target=target, window=window
            ),
        )
        return merge_values(*(results.distinct_values(answer) for answer in answers))

    def timeline(self, plan: Plan) -> dict[str, list[dict[str, Any]]]:
        query = plan.query
        keys = bucket_keys(query.time_range, query.interval)
        labels = list(query.labels)
        if not labels and plan.both:
            # the busiest labels of the whole range, batch and live together, first
            labels = [label for label, _ in self.top(plan)]
            if not labels:
                return {}
            plan = replace(plan, query=replace(query, labels=tuple(labels)))
        answers = self._ask(
            plan,
            lambda target, window: queries.timeline_body(
                self._stored(plan, target), plan.query, target=target, window=window
            ),
        )
        parts = [results.timeline(answer, plan.query.labels, keys) for answer in answers]
        order = labels or (list(parts[0]) if parts else [])
        return merge_timeline(parts, order, keys, query.interval, plan.cutoff)
