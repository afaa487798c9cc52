"""Concurrency tests on PostgreSQL: calls released at the same instant, each in its own
thread and database connection."""

import threading

from django.db import connections


def run_together(*calls) -> list[tuple[str, object]]:
    """Run the calls in threads released together; each result is ("ok", value) or
    ("error", exception), in the order of the calls."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = ("ok", call())
        except Exception as exc:
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert all(not t.is_alive() for t in threads), "a thread is stuck"
    return results


def oks_and_errors(results) -> tuple[list, list]:
    return (
        [value for kind, value in results if kind == "ok"],
        [value for kind, value in results if kind == "error"],
    )
