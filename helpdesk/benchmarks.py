"""What the benchmark commands share (every `manage.py bench_*` and the soak test): one
percentile, and one way to time a page.

The figures they print are read beside each other in the README's tables, so a p95 means
the same in each: the value at index `round(fraction × (n − 1))` of the sorted values.
"""

import statistics
import time
from dataclasses import dataclass

from django.core.management.base import CommandError
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import override_settings


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0.95 for the p95) of the sorted values; NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


@dataclass(frozen=True)
class PageTimes:
    """A page asked for `repeat` times: the times in ms, the number of SQL queries of one
    request, and the last response."""

    timings: list[float]
    queries: int
    response: HttpResponse

    @property
    def median(self) -> float:
        return statistics.median(self.timings)

    @property
    def p95(self) -> float:
        return percentile(self.timings, 0.95)


def time_page(client: Client, url: str, repeat: int) -> PageTimes:
    """GET `url` through the test client `repeat` times, as production renders it (DEBUG
    off, plain HTTP: no SSL redirect), after three requests that warm up the templates, the
    connection and the caches; one request more counts the queries. A page that does not
    answer 200 stops the benchmark rather than timing an error page."""
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False, SECURE_SSL_REDIRECT=False):
        for _ in range(3):
            response = client.get(url)
            if response.status_code != 200:
                raise CommandError(f"{url} answered {response.status_code}")
        queries = []

        def count(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            client.get(url)
        timings = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
    return PageTimes(timings, len(queries), response)
