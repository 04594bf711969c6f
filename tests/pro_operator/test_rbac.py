"""The operator's RBAC rules (pro_operator.rbac) are exactly what its code calls.

The API requests are derived from the source: ``kube.py`` (every ``with self._call(verb, resource, …)``
and which argument the resource comes from), the controllers' ``ctx.kube.<method>(ref, …)`` calls (which
plural each ``ref`` is, followed through assignments, parameters and ``if plural in …`` guards), and the
kopf registry ``handlers.register`` fills (every watch: list + watch).
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.unit

PKG = Path(__file__).resolve().parents[2] / "operator" / "pro_operator"
Triple = tuple[str, str, str]


# ----------------------------------------------------------------------------- kube.py
#: a resource as the code builds it: literal text, ("ref", param) for ``param.resource`` (a Ref's
#: ``plural.group``), ("param", name) for a string parameter, resolved where the method is called
Part = str | tuple[str, str]
Template = tuple[Part, ...]


@dataclass(frozen=True)
class Call:
    verb: str
    resource: Template


@dataclass(frozen=True)
class RefObj:
    param: str


Env = dict[str, Any]  # name -> a thunk giving the set of values it can have


def _kube_class() -> ast.ClassDef:
    tree = ast.parse((PKG / "kube.py").read_text())
    return next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Kube")


class KubeSource:
    """A small symbolic evaluator of kube.py: which verb and resource each public method requests."""

    def __init__(self) -> None:
        self.methods = {n.name: n for n in _kube_class().body if isinstance(n, ast.FunctionDef)}

    def public(self) -> dict[str, list[Call]]:
        out = {}
        for name, fn in self.methods.items():
            if name.startswith("_"):
                continue
            env: Env = {}
            for a in [*fn.args.args[1:], *fn.args.kwonlyargs]:
                if a.annotation is not None and ast.unparse(a.annotation) == "Ref":
                    env[a.arg] = lambda p=a.arg: {RefObj(p)}
                else:
                    env[a.arg] = lambda p=a.arg: {(("param", p),)}
            out[name] = self.calls(fn, env)
        return out

    def calls(self, fn: ast.FunctionDef, env: Env) -> list[Call]:
        env = dict(env)
        args = fn.args
        for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if a.arg not in env and d is not None:
                env[a.arg] = lambda d=d: self.ev(d, {}, fn)
        positional = args.args[1:]
        for a, d in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True):
            if a.arg not in env:
                env[a.arg] = lambda d=d: self.ev(d, {}, fn)
        out: list[Call] = []
        for node in ast.walk(fn):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "self"
            ):
                continue
            if node.func.attr == "_call":
                verb = node.args[0]
                assert isinstance(verb, ast.Constant), f"kube.py:{node.lineno}: the verb is not a literal"
                for value in self.ev(node.args[1], env, fn):
                    assert isinstance(value, tuple), f"kube.py:{node.lineno}: {value}"
                    out.append(Call(str(verb.value), value))
            elif node.func.attr in self.methods:  # a helper: its calls with these arguments
                callee = self.methods[node.func.attr]
                bound: Env = {}
                params = [a.arg for a in callee.args.args[1:]]
                for p, arg in zip(params, node.args, strict=False):
                    bound[p] = lambda arg=arg, env=env: self.ev(arg, env, fn)
                for kw in node.keywords:
                    if kw.arg is not None:
                        bound[kw.arg] = lambda arg=kw.value, env=env: self.ev(arg, env, fn)
                out += self.calls(callee, bound)
        return out

    def ev(self, expr: ast.expr, env: Env, fn: ast.FunctionDef) -> set[Any]:
        where = f"kube.py:{expr.lineno}: {ast.unparse(expr)}"
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {(expr.value,) if expr.value else ()}
        if isinstance(expr, ast.Name):
            if expr.id in env:
                return set(env[expr.id]())
            assigned = [
                n.value
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)
            ]
            assert assigned, f"{where}: unknown name"
            return {v for a in assigned for v in self.ev(a, env, fn)}
        if isinstance(expr, ast.Attribute) and expr.attr == "resource":
            return {(("ref", o.param),) for o in self.ev(expr.value, env, fn) if isinstance(o, RefObj)}
        if isinstance(expr, ast.IfExp):  # decided when the test is a string known here
            if isinstance(expr.test, ast.Name):
                known = self.ev(expr.test, env, fn)
                if all(isinstance(v, tuple) and all(isinstance(x, str) for x in v) for v in known):
                    truth = {bool("".join(v)) for v in known}
                    if truth == {True}:
                        return self.ev(expr.body, env, fn)
                    if truth == {False}:
                        return self.ev(expr.orelse, env, fn)
            return self.ev(expr.body, env, fn) | self.ev(expr.orelse, env, fn)
        if isinstance(expr, ast.JoinedStr):
            acc: set[Template] = {()}
            for part in expr.values:
                inner = part.value if isinstance(part, ast.FormattedValue) else part
                options = self.ev(inner, env, fn)
                assert all(isinstance(o, tuple) for o in options), where
                acc = {a + b for a in acc for b in options}
            return set(acc)
        raise AssertionError(f"{where}: cannot evaluate")


def kube_methods() -> dict[str, list[Call]]:
    """Every public Kube method and the API requests it makes."""
    return KubeSource().public()


def test_every_api_request_in_kube_py_goes_through_call() -> None:
    """A request outside ``with self._call(...)`` would escape the derivation below (and the counter)."""
    cls = _kube_class()
    inside: set[int] = set()
    for node in ast.walk(cls):
        if isinstance(node, ast.With) and any(
            isinstance(i.context_expr, ast.Call) and ast.unparse(i.context_expr.func) == "self._call"
            for i in node.items
        ):
            inside |= {id(n) for n in ast.walk(node)}
    escaped = [
        f"kube.py:{node.lineno}: {ast.unparse(node.func)}"
        for node in ast.walk(cls)
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) in ("self._request", "self._pool.request", "pool.request")
        and id(node) not in inside
        and not _in_method(cls, node, "_request")
    ]
    assert escaped == []
    # and no other operator module talks to the API itself
    for path in PKG.glob("*.py"):
        if path.name != "kube.py":
            imported = {
                (n.module if isinstance(n, ast.ImportFrom) else a.name).split(".")[0]  # type: ignore[union-attr]
                for n in ast.walk(ast.parse(path.read_text()))
                if isinstance(n, ast.Import | ast.ImportFrom)
                for a in n.names
            }
            assert not imported & {"kubernetes", "urllib3", "requests", "aiohttp", "http"}, path.name


def _in_method(cls: ast.ClassDef, node: ast.AST, name: str) -> bool:
    method = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name)
    return any(n is node for n in ast.walk(method))


# ----------------------------------------------------------------------------- the controllers
#: expressions the data flow cannot narrow, with the fact that narrows them (checked below):
#: pipeline.py looks up the plural of a composed stage's kind (any kind of the table), which is a stage kind
NARROWED = {("pipeline", "kind_named(stage.kind).plural")}
#: calls whose argument is known only at run time, taken at their default, which covers every run
#: (handlers.py watches the job backends the cluster serves; by default every backend: checked below)
DEFAULTED = {("handlers", "watched(self.ctx.jobs)"), ("handlers", "watched(rt.ctx.jobs)")}


def test_the_defaulted_calls_cover_every_run() -> None:
    from pro_operator.backends import JobSupport
    from pro_operator.handlers import watched
    from pro_operator.jobs import BACKENDS

    everything = set(watched())
    for served in ((), ("PyTorchJob",), ("TrainJob",), tuple(BACKENDS)):
        assert set(watched(JobSupport(served))) <= everything
    source = (PKG / "handlers.py").read_text()
    assert all(expr in source for _, expr in DEFAULTED)


def test_the_narrowing_holds_composed_stages_are_stage_kinds() -> None:
    import yaml

    from pro.planner.compose import compose
    from pro.spec.kinds import stage_kinds
    from pro.spec.pipeline import AlignmentPipeline

    root = PKG.parents[1]
    for path in ("examples/production/pipeline-ultrafeedback.yaml", "examples/toy/pipeline.yaml"):
        doc = yaml.safe_load((root / path).read_text())
        kinds = {s.kind for s in compose(AlignmentPipeline.model_validate(doc)).stages}
        assert kinds and kinds <= {k.name for k in stage_kinds()}, path
    source = (PKG / "pipeline.py").read_text()
    assert all(expr in source for _, expr in NARROWED)


@dataclass
class Module:
    name: str
    tree: ast.Module
    parents: dict[int, ast.AST]
    obj: Any


def _modules() -> dict[str, Module]:
    out = {}
    for path in sorted(PKG.glob("*.py")):
        name = path.stem
        tree = ast.parse(path.read_text())
        parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        out[name] = Module(name, tree, parents, importlib.import_module(f"pro_operator.{name}"))
    return out


class Resolver:
    """Which plurals an expression in the operator's source can be (a small, conservative data flow)."""

    def __init__(self) -> None:
        self.mods = _modules()
        self.functions: dict[str, list[tuple[Module, ast.FunctionDef]]] = {}
        for mod in self.mods.values():
            for node in ast.walk(mod.tree):
                if isinstance(node, ast.FunctionDef):
                    self.functions.setdefault(node.name, []).append((mod, node))

    def enclosing(self, mod: Module, node: ast.AST) -> ast.FunctionDef:
        cur = mod.parents.get(id(node))
        while cur is not None and not isinstance(cur, ast.FunctionDef):
            cur = mod.parents.get(id(cur))
        assert cur is not None, f"{mod.name}.py:{getattr(node, 'lineno', '?')}: not inside a function"
        return cur

    def home(self, fn: ast.FunctionDef) -> Module:
        return next(m for m in self.mods.values() if any(n is fn for n in ast.walk(m.tree)))

    def imports(self, mod: Module, source: Module, name: str) -> bool:
        return any(
            isinstance(n, ast.ImportFrom)
            and n.module == f"pro_operator.{source.name}"
            and any(a.name == name and a.asname is None for a in n.names)
            for n in mod.tree.body
        )

    def callers(self, fn: ast.FunctionDef) -> list[tuple[Module, ast.Call]]:
        """Calls of this very function: by name in its module or where it is imported, or
        ``self.<name>`` in its module when it is a method."""
        home = self.home(fn)
        is_method = isinstance(home.parents.get(id(fn)), ast.ClassDef)
        found = []
        for mod in self.mods.values():
            for node in ast.walk(mod.tree):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                if isinstance(f, ast.Name) and f.id == fn.name and not is_method:
                    if mod is home or self.imports(mod, home, fn.name):
                        found.append((mod, node))
                elif (
                    isinstance(f, ast.Attribute)
                    and f.attr == fn.name
                    and is_method
                    and mod is home
                    and isinstance(f.value, ast.Name)
                    and f.value.id == "self"
                ):
                    found.append((mod, node))
        return found

    def strings(self, mod: Module, value: Any, where: ast.AST) -> set[str]:
        if isinstance(value, str):
            return {value}
        if isinstance(value, dict):
            return {str(k) for k in value}
        if isinstance(value, (tuple, list, set, frozenset)):
            return {str(v) for v in value}
        raise AssertionError(f"{mod.name}.py:{getattr(where, 'lineno', '?')}: {value!r} is not plurals")

    def plurals(self, mod: Module, expr: ast.expr) -> set[str]:
        """The strings ``expr`` can be at run time."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            return {expr.value}
        if (mod.name, ast.unparse(expr)) in NARROWED:
            from pro.spec.kinds import stage_kinds

            return {k.plural for k in stage_kinds()}
        if isinstance(expr, ast.Subscript):  # MAPPING[key]: any of its values
            base = self.value(mod, expr.value)
            assert isinstance(base, dict), f"{mod.name}.py:{expr.lineno}: {ast.unparse(expr)}"
            return {str(v) for v in base.values()}
        if isinstance(expr, ast.Attribute | ast.Call):
            return self.strings(mod, self.value(mod, expr), expr)
        if isinstance(expr, ast.Name):
            fn = self.enclosing_or_none(mod, expr)
            if fn is not None:
                local = self.local(mod, fn, expr, self.plurals)
                if local is not None:
                    return local
            return self.strings(mod, self.value(mod, expr), expr)
        raise AssertionError(f"{mod.name}.py:{expr.lineno}: cannot resolve {ast.unparse(expr)}")

    def refs(self, mod: Module, expr: ast.expr) -> set[tuple[str, str]]:
        """The (group, plural) a ``Ref`` expression can be."""
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name):
            from pro.spec.conventions import API_GROUP
            from pro_operator.jobs import job_backends

            if expr.func.id == "job_ref":  # a job of some backend: every backend's, as rbac.py must grant
                return {(b.group, b.plural) for b in job_backends()}
            if expr.func.id == "custom_ref":
                return {(API_GROUP, p) for p in self.plurals(mod, expr.args[0])}
        if isinstance(expr, ast.Name):
            fn = self.enclosing(mod, expr)
            local = self.local(mod, fn, expr, self.refs)
            if local is not None:
                return local
        raise AssertionError(
            f"{mod.name}.py:{expr.lineno}: cannot tell which resource {ast.unparse(expr)} is"
        )

    def enclosing_or_none(self, mod: Module, node: ast.AST) -> ast.FunctionDef | None:
        try:
            return self.enclosing(mod, node)
        except AssertionError:
            return None

    def local(self, mod: Module, fn: ast.FunctionDef, name: ast.Name, resolve: Any) -> Any:
        """A local name: its assignments, else the guard around its use, else (a parameter) every
        caller's argument; None when it is none of these (a module global)."""
        found: set[Any] = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name.id for t in node.targets
            ):
                found |= resolve(mod, node.value)
        for node in ast.walk(fn):  # for NAME in GLOBAL / for (.., NAME, ..) in GLOBAL
            if isinstance(node, ast.For):
                target = node.target
                if isinstance(target, ast.Name) and target.id == name.id:
                    found |= {str(v) for v in self.value(mod, node.iter)}
                elif isinstance(target, ast.Tuple):
                    names = [t.id if isinstance(t, ast.Name) else None for t in target.elts]
                    if name.id in names:
                        i = names.index(name.id)
                        found |= {str(v[i]) for v in self.value(mod, node.iter)}
        if found:
            return found
        guard = self.guard(mod, fn, name)
        if guard is not None:
            return guard
        params = [a.arg for a in fn.args.args]
        if name.id not in params:
            return None
        index = params.index(name.id)
        if params and params[0] == "self":
            index -= 1
        for caller_mod, call in self.callers(fn):
            arg = next((k.value for k in call.keywords if k.arg == name.id), None)
            if arg is None:
                assert index < len(call.args), f"{caller_mod.name}.py:{call.lineno}: {name.id} not passed"
                arg = call.args[index]
            found |= resolve(caller_mod, arg)
        assert found, f"{mod.name}.py: {fn.name}({name.id}) is never called"
        return found

    def rows(self, mod: Module, call: ast.Call, args: dict[str, ast.expr]) -> list[dict[str, str]]:
        """When several arguments are names unpacked by one ``for (a, b, ...) in GLOBAL`` around the
        call, their values row by row (they go together); else one empty row."""
        by_name = {a.id: param for param, a in args.items() if isinstance(a, ast.Name)}
        cur = mod.parents.get(id(call))
        while cur is not None:
            if isinstance(cur, ast.For) and isinstance(cur.target, ast.Tuple):
                names = [t.id if isinstance(t, ast.Name) else None for t in cur.target.elts]
                shared = [n for n in names if n in by_name]
                if len(shared) > 1:
                    return [
                        {by_name[n]: str(v) for n, v in zip(names, row, strict=True) if n in by_name}
                        for row in self.value(mod, cur.iter)
                    ]
            cur = mod.parents.get(id(cur))
        return [{}]

    def guard(self, mod: Module, fn: ast.FunctionDef, name: ast.Name) -> set[str] | None:
        """``if NAME in MAPPING:`` / ``if NAME == CONST:`` around this use of NAME."""
        child: ast.AST = name
        cur = mod.parents.get(id(name))
        while cur is not None and cur is not fn:
            if isinstance(cur, ast.If) and child in cur.body:
                test = cur.test
                if (
                    isinstance(test, ast.Compare)
                    and isinstance(test.left, ast.Name)
                    and test.left.id == name.id
                    and len(test.ops) == 1
                ):
                    if isinstance(test.ops[0], ast.In):
                        return self.strings(mod, self.value(mod, test.comparators[0]), test)
                    if isinstance(test.ops[0], ast.Eq):
                        return self.plurals(mod, test.comparators[0])
            child, cur = cur, mod.parents.get(id(cur))
        return None

    def value(self, mod: Module, expr: ast.expr) -> Any:
        """The run-time value of a module-level name or ``module.NAME``."""
        if isinstance(expr, ast.Name):
            assert hasattr(mod.obj, expr.id), f"{mod.name}.py:{expr.lineno}: {expr.id} is not a global"
            return getattr(mod.obj, expr.id)
        if isinstance(expr, ast.Attribute):
            return getattr(self.value(mod, expr.value), expr.attr)  # type: ignore[arg-type]
        if isinstance(expr, ast.Call) and (mod.name, ast.unparse(expr)) in DEFAULTED:
            return self.value(mod, expr.func)()
        if isinstance(expr, ast.Call) and not expr.keywords:  # a module function of module-level values
            return self.value(mod, expr.func)(*(self.value(mod, a) for a in expr.args))
        raise AssertionError(f"{mod.name}.py:{expr.lineno}: cannot evaluate {ast.unparse(expr)}")


def _uses_the_client(node: ast.Call) -> str | None:
    """``<…>.kube.<method>(…)``: the method name."""
    f = node.func
    if isinstance(f, ast.Attribute):
        owner = f.value
        if (isinstance(owner, ast.Attribute) and owner.attr == "kube") or (
            isinstance(owner, ast.Name) and owner.id == "kube"
        ):
            return f.attr
    return None


def requests_made() -> dict[Triple, list[str]]:
    """Every (apiGroup, resource, verb) the controllers' calls make, with where."""
    methods = kube_methods()
    kube_params = {
        n.name: [a.arg for a in [*n.args.args[1:], *n.args.kwonlyargs]]
        for n in _kube_class().body
        if isinstance(n, ast.FunctionDef)
    }
    resolver = Resolver()
    out: dict[Triple, list[str]] = {}
    for mod in resolver.mods.values():
        if mod.name == "kube":
            continue
        for node in ast.walk(mod.tree):
            if not isinstance(node, ast.Call):
                continue
            method = _uses_the_client(node)
            if method is None or method not in methods:
                continue
            where = f"{mod.name}.py:{node.lineno} Kube.{method}"
            params = kube_params[method]
            for call in methods[method]:
                args: dict[str, ast.expr] = {}
                for part in call.resource:
                    if not isinstance(part, str):
                        name = part[1]
                        arg = next((k.value for k in node.keywords if k.arg == name), None)
                        args[name] = arg if arg is not None else node.args[params.index(name)]
                texts: set[str] = set()
                for row in resolver.rows(mod, node, args):  # values that go together
                    partial: set[str] = {""}
                    for part in call.resource:
                        if isinstance(part, str):
                            options = {part}
                        elif part[1] in row:
                            options = {row[part[1]]}
                        elif part[0] == "ref":
                            options = {f"{p}.{g}" if g else p for g, p in resolver.refs(mod, args[part[1]])}
                        else:
                            options = resolver.plurals(mod, args[part[1]])
                        partial = {t + o for t in partial for o in options}
                    texts |= partial
                for text in texts:
                    plural, _, rest = text.partition(".")
                    group, _, sub = rest.partition("/") if rest else ("", "", "")
                    resource = f"{plural}/{sub}" if sub else plural
                    if not rest and "/" in plural:
                        resource = plural
                    out.setdefault((group, resource, call.verb), []).append(where)
    return out


def watches() -> set[tuple[str, str]]:
    """(group, plural) of every kopf handler ``register`` installs; only on.event handlers exist."""
    import kopf

    from pro_operator.handlers import Runtime, register

    registry = kopf.OperatorRegistry()
    register(registry, Runtime(object()))  # type: ignore[arg-type]
    assert registry._changing.get_all_handlers() == [], "change handlers: kopf would patch annotations"
    assert registry._spawning.get_all_handlers() == [], "daemons/timers: kopf would patch annotations"
    assert registry._webhooks.get_all_handlers() == []
    out = set()
    for handler in [*registry._watching.get_all_handlers(), *registry._indexing.get_all_handlers()]:
        sel = handler.selector
        assert sel is not None and sel.group, handler
        name = sel.plural or sel.any_name  # register passes plurals (kopf resolves any_name by discovery)
        assert name and name.islower() and name.endswith("s"), f"not a plural: {sel}"
        out.add((sel.group, name))
    return out


def derived() -> set[Triple]:
    from pro_operator import rbac

    # non-resource URLs (API discovery, "/apis/..."): the built-in system:discovery role grants them
    need = {t for t in requests_made() if not t[1].startswith("/")}
    for group, plural in watches():
        need |= {(group, plural, "list"), (group, plural, "watch")}
    # kopf's own requests (standalone, cluster-wide): events it posts, the CRDs it observes
    need.add(("", "events", "create"))
    return need | {t for r in rbac.CLUSTER_RULES for t in r.triples()}


def test_the_derivation_sees_the_calls_it_must() -> None:
    made = requests_made()
    assert ("kubeflow.org", "pytorchjobs", "create") in made
    assert ("pro.alignment.dev", "policyevaluations/status", "patch") in made
    assert ("pro.alignment.dev", "alignmentpipelines/status", "patch") in made  # through publish.publish
    assert ("pro.alignment.dev", "alignmentpipelines", "delete") in made
    assert ("", "configmaps", "get") in made
    assert ("trainer.kubeflow.org", "trainjobs", "create") in made
    assert ("trainer.kubeflow.org", "trainjobs", "patch") in made
    assert ("trainer.kubeflow.org", "clustertrainingruntimes", "list") in made
    assert ("trainer.kubeflow.org", "trainingruntimes", "list") in made
    assert ("", "pods/log", "get") in made
    assert ("", "/apis", "get") in made  # discovery: left out of the rules (system:discovery)
    assert ("pro.alignment.dev", "alignmentschedules") in watches()
    assert ("kubeflow.org", "pytorchjobs") in watches()
    assert ("trainer.kubeflow.org", "trainjobs") in watches()


def test_rbac_rules_are_exactly_what_the_code_calls() -> None:
    from pro_operator import rbac

    granted = rbac.triples(cluster_wide=True) | {t for r in rbac.ELECTION_RULES for t in r.triples()}
    need = derived()
    missing = sorted(need - granted)
    extra = sorted(granted - need)
    assert missing == [], f"the code makes requests rbac.py does not grant: {missing}"
    assert extra == [], f"rbac.py grants what the code never requests: {extra}"


def test_the_lease_is_granted_apart_only_for_what_the_election_calls() -> None:
    """The leader election's requests (and only those) go to the Role in the operator's own namespace;
    the watched namespaces' rules grant no Lease."""
    from pro_operator import rbac

    made = requests_made()
    election = {t for t, where in made.items() if all(w.startswith("leader.py:") for w in where)}
    assert election == {t for r in rbac.ELECTION_RULES for t in r.triples()}
    assert election == {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}
    assert not election & rbac.triples(cluster_wide=True)
    assert rbac.election_rules() == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]}
    ]


def test_namespaced_rules_leave_out_only_the_cluster_scoped_ones() -> None:
    from pro_operator import rbac

    cluster_scoped = {t for r in rbac.CLUSTER_RULES for t in r.triples()}
    assert rbac.triples(cluster_wide=False) == rbac.triples(cluster_wide=True) - cluster_scoped
    assert {r for _, r, _ in cluster_scoped} == {"customresourcedefinitions", "clustertrainingruntimes"}


def test_no_wildcards_and_every_rule_says_why() -> None:
    from pro_operator import rbac

    for rule in (*rbac.namespaced_rules(), *rbac.CLUSTER_RULES, *rbac.ELECTION_RULES):
        assert "*" not in (*rule.api_groups, *rule.resources, *rule.verbs)
        assert rule.why
    assert rbac.rules(cluster_wide=False)[0] == {
        "apiGroups": ["pro.alignment.dev"],
        "resources": list(rbac.our_plurals()),
        "verbs": ["list", "watch"],
    }
