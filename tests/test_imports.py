"""The import rules the import-linter contracts cannot say, in one place.

Which app may import which is a set of import-linter contracts (`[tool.importlinter]` in
pyproject.toml, run by `make test` as `lint-imports`). This module adds:
- no import circle: no module imports another that imports it back, directly or through
  others — over every module of every project package, imports inside functions included
  (import-linter's `acyclic_siblings` contract works on whole subpackages and does not see a
  package's `__init__` and its own modules importing each other, so the check is here);
- the finer rules of single apps: routing's engine reaches none of its callers and its pure
  modules no database layer; notifications reads no other app's model by name;
- the task names that stand in for an import name registered tasks.

The graph is grimp's (import-linter's own graph library): it resolves `from package import
module` to the module and includes imports inside functions and under `TYPE_CHECKING`.
"""

import ast
from itertools import pairwise
from pathlib import Path

import grimp
import pytest

PACKAGES = (
    "helpdesk", "channels_cfg", "routing", "notifications", "mailroom", "demo", "whatsapp",
    "webforms",  # webforms app
    "calls",  # calls app
    "livechat",  # livechat app
    "people",  # people app
)  # fmt: skip

Edges = dict[str, set[str]]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def edges_of(graph: grimp.ImportGraph) -> Edges:
    """Each project module → the project modules it imports (anywhere in its code)."""
    return {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}


def import_cycles(edges: Edges) -> list[list[str]]:
    """One circle [a, b, …, a] for each group of modules that import each other (a strongly
    connected component of the graph, Tarjan's algorithm, iterative); [] when there is none."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in edges.get(node, ()):
                        components.append(component)
    return [circle_in(component, edges) for component in components]


def circle_in(component: set[str], edges: Edges) -> list[str]:
    """A shortest circle through the first module of `component` (breadth first)."""
    start = min(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges.get(node, set()) & component):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no circle in {component}")  # a component always has one


def describe(circle: list[str], graph: grimp.ImportGraph) -> str:
    lines = [" → ".join(circle)]
    for importer, imported in pairwise(circle):
        for detail in graph.get_import_details(importer=importer, imported=imported):
            lines.append(f"  {importer}:{detail['line_number']}: {detail['line_contents']}")
    return "\n".join(lines)


def test_the_cycle_finder_finds_every_circle_and_only_circles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"a"}}
    assert sorted(import_cycles(edges)) == [["a", "b", "c", "a"], ["d", "e", "d"]]
    assert import_cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []
    assert import_cycles({"p": {"p.m"}, "p.m": {"p"}}) == [["p", "p.m", "p"]]


def test_the_graph_sees_imports_inside_functions_and_modules_imported_from_packages(
    tmp_path, monkeypatch
):
    package = tmp_path / "pkgx"
    package.mkdir()
    (package / "__init__.py").write_text("from pkgx.sub import thing\nfrom pkgx import leaf\n")
    (package / "sub.py").write_text("thing = 1\n\n\ndef f():\n    from pkgx import other\n")
    (package / "other.py").write_text("from pkgx import sub\n")
    (package / "leaf.py").write_text("import pkgx\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    circles = import_cycles(edges_of(grimp.build_graph("pkgx", cache_dir=None)))
    assert sorted(circles) == [
        ["pkgx", "pkgx.leaf", "pkgx"],
        ["pkgx.other", "pkgx.sub", "pkgx.other"],
    ]


def test_the_project_graph_has_the_imports_the_apps_are_built_on(graph):
    edges = edges_of(graph)
    assert "notifications.tasks" in edges["notifications.receivers"]
    assert "notifications.announce" in edges["notifications.tasks"]
    assert "notifications.services" in edges["notifications.announce"]
    assert {"routing.engine", "routing.sweeps", "routing.mail"} <= edges["routing.tasks"]
    assert "routing.engine" in edges["routing.sweeps"]
    assert "routing.engine" in edges["routing.preview"]
    assert "helpdesk.services.groups" in edges["helpdesk.apps"]  # inside AppConfig.ready()


def test_no_module_imports_another_that_imports_it_back(graph):
    circles = import_cycles(edges_of(graph))
    assert not circles, "import circles:\n" + "\n".join(describe(c, graph) for c in circles)


# ---------------------------------------------------------------------------------------
# routing
# ---------------------------------------------------------------------------------------

ROUTING_CALLERS = (
    "routing.tasks",
    "routing.sweeps",
    "routing.receivers",
    "routing.preview",
    "routing.views",
    "routing.urls",
)
PURE = ("routing.strategies", "routing.explanations", "routing.eligibility", "routing.decision")
STDLIB = {"random", "collections", "dataclasses", "datetime", "typing"}


def module_tree(module: str) -> ast.Module:
    import importlib.util

    path = Path(importlib.util.find_spec(module).origin)
    return ast.parse(path.read_text(), filename=str(path))


def imported_names(tree: ast.Module) -> set[str]:
    """Every module name an import anywhere in `tree` gives, project or not."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_engine_reaches_neither_tasks_nor_sweeps_nor_the_pages(graph):
    below = graph.find_upstream_modules("routing.engine")
    assert not below & set(ROUTING_CALLERS)
    # …and names the owner-email task instead of importing the tasks module
    assert "routing.tasks" not in below


@pytest.mark.parametrize("module", PURE)
def test_the_pure_modules_use_no_database_layer_or_services(module):
    names = imported_names(module_tree(module))
    assert not {n for n in names if n.startswith("django.db")}, module
    assert not names & {"helpdesk.services", "helpdesk.jobs", "helpdesk.events"}, module


def test_the_strategies_import_only_the_standard_library():
    names = imported_names(module_tree("routing.strategies"))
    assert {n.split(".")[0] for n in names} <= STDLIB  # not even Django


# ---------------------------------------------------------------------------------------
# notifications
# ---------------------------------------------------------------------------------------


def test_notifications_read_no_other_apps_model_by_name(graph):
    modules = sorted(m for m in graph.find_descendants("notifications") if ".migrations" not in m)
    assert "notifications.announce" in modules
    for module in ["notifications", *modules]:
        calls = {
            node.func.attr
            for node in ast.walk(module_tree(module))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert "get_model" not in calls, f"{module} reads another app's model by name"


# ---------------------------------------------------------------------------------------
# Task names that stand in for an import
# ---------------------------------------------------------------------------------------


def named_tasks():
    from livechat import tasks as livechat_tasks  # livechat app
    from livechat import webhooks as livechat_webhooks  # livechat app
    from mailroom import outbound
    from mailroom import tasks as mailroom_tasks
    from notifications import services
    from notifications import tasks as notifications_tasks
    from routing import engine
    from routing import tasks as routing_tasks
    from whatsapp import outbound as wa_outbound
    from whatsapp import tasks as wa_tasks

    return [
        (
            "notifications.services.DELIVER_TASK",
            services.DELIVER_TASK,
            notifications_tasks.deliver_task,
        ),
        (
            "routing.engine.EMAIL_OWNER_TASK",
            engine.EMAIL_OWNER_TASK,
            routing_tasks.email_submission_to_owner_task,
        ),
        ("mailroom.outbound.SEND_TASK", outbound.SEND_TASK, mailroom_tasks.send_outbound_task),
        # whatsapp app
        ("whatsapp.outbound.SEND_TASK", wa_outbound.SEND_TASK, wa_tasks.send_whatsapp_task),
        # livechat app
        (
            "livechat.webhooks.SEND_TASK",
            livechat_webhooks.SEND_TASK,
            livechat_tasks.send_chat_webhook_task,
        ),
    ]


def test_every_task_named_instead_of_imported_is_registered_under_that_name():
    from helpdesk.celery import app

    for constant, name, task in named_tasks():
        assert task.name == name, constant
        assert name in app.tasks, f"{constant} = {name!r} names no registered task"
