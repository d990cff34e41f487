"Foundation checks that belong to no single notebook: nbdev configuration, export/clean idempotence, the CLI."
import ast, json, re, shutil, subprocess, sys, tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _nbdev(cmd, cwd, *args):
    exe = BIN / cmd
    res = subprocess.run([str(exe) if exe.exists() else cmd, *args], cwd=cwd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res


def _project_copy(tmp_path):
    "A copy of the project's nbdev sources (pyproject, nbs/, package) to run nbdev commands on."
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "nbs", tmp_path / "nbs", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copytree(ROOT / "sacroiliitis_dlr", tmp_path / "sacroiliitis_dlr", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_allowed_cell_metadata_keys_is_a_list():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbdev"]
    # a plain string would be split into characters by nbdev 3 and the tag would be lost
    assert cfg["allowed_cell_metadata_keys"] == ["tags"]


def test_parameters_tag_survives_nbdev_clean(tmp_path):
    proj = _project_copy(tmp_path)
    nb = {"cells": [
            {"cell_type": "code", "execution_count": 3, "id": "abc",
             "metadata": {"tags": ["parameters"], "collapsed": True, "scrolled": True},
             "outputs": [], "source": ["run_dir = 'x'"]},
            {"cell_type": "code", "execution_count": 4, "metadata": {"scrolled": True}, "outputs": [], "source": ["1"]}],
          "metadata": {"kernelspec": {"display_name": "python3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    f = proj / "nbs" / "tagged.ipynb"
    f.write_text(json.dumps(nb))
    _nbdev("nbdev-clean", proj, "--fname", str(f))
    cleaned = json.loads(f.read_text())
    assert cleaned["cells"][0]["metadata"] == {"tags": ["parameters"]}
    assert cleaned["cells"][1]["metadata"] == {}
    assert cleaned["cells"][0]["execution_count"] is None


def test_committed_tree_is_clean_and_exported(tmp_path):
    "nbdev-clean and nbdev-export on the committed notebooks change nothing."
    proj = _project_copy(tmp_path)
    _nbdev("nbdev-clean", proj)
    _nbdev("nbdev-export", proj)
    changed = [str(p.relative_to(proj)) for p in sorted(proj.rglob("*"))
               if p.is_file() and p.suffix in (".ipynb", ".py") and "__pycache__" not in p.parts
               and (not (ROOT / p.relative_to(proj)).exists() or (ROOT / p.relative_to(proj)).read_bytes() != p.read_bytes())]
    assert not changed, f"run nbdev-export and nbdev-clean, then commit: {changed}"


def test_cli_help_lists_subcommands():
    res = subprocess.run([str(BIN / "sacroiliitis-dlr"), "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    for cmd in ("synth", "validate", "run", "report", "profile", "import-dicom", "predict"): assert cmd in res.stdout


def test_readme_is_generated_from_index():
    "README.md is what tools/readme.py makes of nbs/index.ipynb (edit the notebook, then `make readme`)."
    res = subprocess.run([str(BIN / "python"), str(ROOT / "tools" / "readme.py"), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_docs_processing_passes(tmp_path):
    "nbdev-proc-nbs (what the docs workflow runs before Quarto) executes the notebooks' import, export and show_doc cells."
    proj = _project_copy(tmp_path)
    res = subprocess.run([str(BIN / "nbdev-proc-nbs")], cwd=proj, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "Error in notebook" not in res.stderr, res.stderr[-3000:]
    assert (proj / "_proc" / "nbs" / "20_metrics.ipynb").exists() or list((proj / "_proc").rglob("20_metrics.ipynb"))


LIBRARY_NBS = sorted((ROOT / "nbs").glob("[0-9]*.ipynb"))
SHOWING = {"round", "head", "tail", "describe", "to_frame", "sort_values", "query", "show_doc", "set_index", "reset_index"}


def _shows_something(src: str) -> bool:
    "Whether a lesson cell shows a reader something: it prints, displays or plots, or ends in a value."
    code = "\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("#|", "%", "!")))
    try: tree = ast.parse(code)
    except SyntaxError: return False
    if re.search(r"\b(print|display)\(|plt\.show\(\)", code): return True
    if not tree.body or not isinstance(tree.body[-1], ast.Expr): return False
    v = tree.body[-1].value
    if isinstance(v, ast.Call):
        f = v.func
        return (f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")) in SHOWING
    return not isinstance(v, ast.Constant)


def _lesson_cells(nb):
    for c in nb["cells"]:
        src = "".join(c["source"])
        if c["cell_type"] == "code" and not re.search(r"^#\|\s*(export|exporti|eval:\s*false)", src, re.M): yield c, src


def test_notebooks_are_committed_with_their_outputs():
    "Every lesson cell that shows something has its output committed (`make notebooks`), and 6+ notebooks show a figure."
    missing, with_figure = [], []
    for f in LIBRARY_NBS:
        nb = json.loads(f.read_text())
        missing += [f"{f.name}:{c['id']}" for c, src in _lesson_cells(nb) if _shows_something(src) and not c.get("outputs")]
        if any("image/png" in o.get("data", {}) for c, _ in _lesson_cells(nb) for o in c.get("outputs", [])): with_figure.append(f.name)
    assert not missing, f"lesson cells without their outputs (run `make notebooks`, then commit): {missing[:12]}"
    assert len(with_figure) >= 6, with_figure


# what a committed output must not hold: machine paths, memory addresses, progress bars and run-time stamps
NONDETERMINISTIC = re.compile(r"/tmp/|/work/|/root/|/home/|\b0x[0-9a-f]{6,}|<progress|\[pipeline \d\d:\d\d|\d+:\d\d<\d")


def test_committed_outputs_are_deterministic():
    bad = []
    for f in LIBRARY_NBS:
        for c, _ in _lesson_cells(json.loads(f.read_text())):
            for o in c.get("outputs", []):
                text = "".join(o.get("text", "")) + "".join("".join(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
                if m := NONDETERMINISTIC.search(text): bad.append(f"{f.name}:{c['id']}: {m.group(0)!r}")
    assert not bad, bad[:10]


def test_scrub_outputs_hides_temporary_folders(tmp_path):
    "tools/scrub_outputs.py (run by `make notebooks`) shows a mkdtemp folder as <tmp>, drops library warnings, keeps the rest."
    import importlib.util, tempfile
    spec = importlib.util.spec_from_file_location("scrub_outputs", ROOT / "tools" / "scrub_outputs.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    d = tempfile.mkdtemp()
    nb = {"cells": [{"cell_type": "code", "source": [], "metadata": {}, "outputs": [
            {"output_type": "stream", "name": "stdout", "text": [f"Cohort({d}/c, 10 patients)\n"]},
            {"output_type": "execute_result", "data": {"text/plain": [f"'{d}/x'"], "image/png": "iVBOR"}, "metadata": {}},
            {"output_type": "stream", "name": "stderr", "text": ["/x/site-packages/torch/jit.py:1: FutureWarning: deprecated\n"]}]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    f = tmp_path / "n.ipynb"; f.write_text(json.dumps(nb))
    assert mod.scrub_notebook(f) and not mod.scrub_notebook(f)  # changed once, then nothing left to change
    out = json.loads(f.read_text())["cells"][0]["outputs"]
    assert len(out) == 2 and out[0]["text"] == ["Cohort(<tmp>/c, 10 patients)\n"] and out[1]["data"] == {"text/plain": ["'<tmp>/x'"], "image/png": "iVBOR"}


def test_no_figure_is_shown_twice():
    "A lesson cell that ends in its figure would show it twice (the inline backend, then the returned value)."
    twice = [f"{f.name}:{c['id']}" for f in LIBRARY_NBS for c, _ in _lesson_cells(json.loads(f.read_text()))
             if sum("image/png" in o.get("data", {}) for o in c.get("outputs", []) if o["output_type"] == "execute_result")
             and any("image/png" in o.get("data", {}) for o in c.get("outputs", []) if o["output_type"] == "display_data")]
    assert not twice, twice


# Issue 17 ("One home for each idea"): structural goals that keep holding once reached.
PACKAGE = ROOT / "sacroiliitis_dlr"
MODULES = sorted(p for p in PACKAGE.glob("*.py") if not p.name.startswith("_"))
MAX_EXPORTED_LINES = 40


def _exported(tree) -> list:
    "The names in a module's `__all__` (nbdev writes it as one list literal)."
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def _package_exports() -> set:
    return {name for p in MODULES for name in _exported(ast.parse(p.read_text()))}


def _long_exported_functions(source: str, module: str = "m", limit: int = MAX_EXPORTED_LINES) -> list:
    "'module.name (n lines)' for each exported top-level function, and method of an exported class, longer than `limit`."
    tree = ast.parse(source)
    names, out = set(_exported(tree)), []
    def check(f, qual):
        n = f.end_lineno - f.lineno + 1
        if n > limit: out.append(f"{module}.{qual} ({n} lines)")
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names: check(node, node.name)
        if isinstance(node, ast.ClassDef) and node.name in names:
            for f in node.body:
                if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)): check(f, f"{node.name}.{f.name}")
    return out


def test_long_function_check_counts_what_it_should():
    "The check counts from `def` to the last line, includes methods of exported classes and skips private helpers."
    body = "\n".join(f"    x{i} = {i}" for i in range(40))
    src = (f"__all__ = ['big', 'small', 'C']\ndef big():\n{body}\ndef small():\n    return 1\ndef _helper():\n{body}\n"
           f"class C:\n    def m(self):\n{body.replace('    ', '        ')}\n")
    assert _long_exported_functions(src) == ["m.big (41 lines)", "m.C.m (41 lines)"]
    assert _long_exported_functions(src, limit=41) == []


def test_no_exported_function_is_longer_than_40_lines():
    "Every exported function and method of an exported class fits in 40 lines (issue 17): one idea each."
    long = [f for p in MODULES for f in _long_exported_functions(p.read_text(), p.stem)]
    assert not long, f"split these into named steps: {long}"


def test_no_simple_namespace_in_the_package():
    "Results are frozen dataclasses with named, typed fields, not `SimpleNamespace` bags (issue 17)."
    uses = [f"{p.name}:{i}" for p in MODULES for i, line in enumerate(p.read_text().splitlines(), 1) if "SimpleNamespace" in line]
    assert not uses, uses


def _template_functions(nb: dict) -> set:
    "Names of the functions (and classes) a papermill template's code cells define."
    names = set()
    for c in nb["cells"]:
        if c["cell_type"] != "code": continue
        code = "\n".join(l for l in "".join(c["source"]).splitlines() if not l.lstrip().startswith(("%", "!")))
        try: tree = ast.parse(code)
        except SyntaxError: continue
        names |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return names


def test_template_function_check_finds_definitions():
    nb = {"cells": [{"cell_type": "code", "source": ["%matplotlib inline\n", "def load_predictions(d):\n", "    def inner(): pass\n"]},
                    {"cell_type": "markdown", "source": ["def not_code(): pass"]}]}
    assert _template_functions(nb) == {"load_predictions", "inner"}


# template helpers that the package now holds under another name (issue 17)
TEMPLATE_HELPERS_IN_THE_PACKAGE = {"save": "plots.save_report_figure", "ci": "plots.format_ci"}


def test_templates_do_not_redefine_the_package():
    "A report template loads artefacts and calls the library: it defines no function the package exports (issue 17)."
    exported = _package_exports()
    assert {"format_ci", "auc_ci"} <= exported  # the names are read from __all__
    clash = [f"{t.name}: {name} ({TEMPLATE_HELPERS_IN_THE_PACKAGE.get(name, 'exported')})"
             for t in sorted((PACKAGE / "templates").glob("*.ipynb"))
             for name in sorted(_template_functions(json.loads(t.read_text())) & (exported | set(TEMPLATE_HELPERS_IN_THE_PACKAGE)))]
    assert not clash, f"use the package's own function instead: {clash}"


# Issue 26 ("Rooms that do one job"): the package's import structure. Every import counts, also one inside a
# function (a deferred import hides a circle from Python, not from a reader), and a room takes only public names.
PKG = "sacroiliitis_dlr"
_NAMED_IMPORT = re.compile(PKG + r"\.(\w+)(?::[\w.]+)?")  # a module, or a function, named by a string for a lazy import


def _package_modules() -> dict:
    "Module name -> source of every module of the package (the generated index `_modidx` aside)."
    return {p.stem: p.read_text() for p in sorted(PACKAGE.glob("*.py")) if p.stem != "_modidx"}


def _imported_module(node, name=None):
    "The package module an import node (with `name`, one of its aliases) refers to, or None for any other import."
    if isinstance(node, ast.Import):
        parts = name.split(".")
        return parts[1] if parts[0] == PKG and len(parts) > 1 else None
    mod = node.module or ""
    if node.level == 0 and not (mod == PKG or mod.startswith(PKG + ".")): return None
    parts = mod.split(".")[1:] if node.level == 0 else (mod.split(".") if mod else [])
    return parts[0] if parts else name  # `from . import x`, `from sacroiliitis_dlr import x`: x is the module


def _imports(source: str) -> tuple:
    "(modules imported, private names taken) of one module's source: [(module, line)], [(module, name, line)]."
    tree, mods, private, bound = ast.parse(source), [], [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if m := _imported_module(node, a.name):
                    mods.append((m, node.lineno))
                    if a.asname: bound[a.asname] = m
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                m = _imported_module(node, a.name)
                if m is None: continue
                mods.append((m, node.lineno))
                if m == a.name and (node.module is None or node.module == PKG): bound[a.asname or a.name] = m
                elif a.name.startswith("_") and not a.name.startswith("__"): private.append((m, a.name, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := _NAMED_IMPORT.fullmatch(node.value)):
            mods.append((m[1], node.lineno))  # "sacroiliitis_dlr.x:f" (a stage's function, imported when it runs)
    for node in ast.walk(tree):  # `x._y` where x names a package module; `sacroiliitis_dlr.x._y`
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")): continue
        v = node.value
        if isinstance(v, ast.Name) and v.id in bound: private.append((bound[v.id], node.attr, node.lineno))
        elif isinstance(v, ast.Attribute) and isinstance(v.value, ast.Name) and v.value.id == PKG:
            private.append((v.attr, node.attr, node.lineno))
    return mods, private


def _import_graph(sources: dict) -> dict:
    "Module -> {imported package module: first line}, self-imports left out."
    graph = {}
    for name, src in sources.items():
        edges = {}
        for m, line in _imports(src)[0]:
            if m != name and m in sources: edges.setdefault(m, line)
        graph[name] = edges
    return graph


def _import_circles(graph: dict) -> list:
    "Each group of modules that import one another in a circle (Tarjan's strongly connected components), sorted."
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, {}):
            if w not in index: visit(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(sorted(comp))
    for v in sorted(graph):
        if v not in index: visit(v)
    return sorted(out)


def _describe_circle(graph: dict, comp: list) -> str:
    "The imports inside one circle, as 'a:12 -> b' lines (module, line of its import, imported module)."
    return "; ".join(f"{a}:{graph[a][b]} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp)


def test_import_structure_check_finds_what_it_should():
    "Circles through imports inside functions, absolute and relative forms, private names by import and by attribute."
    src = {"a": "from .b import f\n", "b": "def g():\n    from sacroiliitis_dlr.c import h\n",
           "c": "def k():\n    import sacroiliitis_dlr.a as A\n    return A._secret\n",
           "d": "from .core import _hidden, public\nfrom . import core\nx = core._other\nimport numpy as np\n",
           "core": "from sacroiliitis_dlr import __version__\n",
           "e": "STAGE = 'sacroiliitis_dlr.a:run_a_stage'\nNOTE = 'see sacroiliitis_dlr.a for more'\n"}
    graph = _import_graph(src)
    assert _import_circles(graph) == [["a", "b", "c"]]
    assert _describe_circle(graph, ["a", "b", "c"]) == "a:1 -> b; b:2 -> c; c:2 -> a"
    assert _imports(src["c"])[1] == [("a", "_secret", 3)]
    assert sorted(_imports(src["d"])[1]) == [("core", "_hidden", 1), ("core", "_other", 3)]
    assert _imports(src["core"])[1] == []  # a dunder such as __version__ is not a private name
    assert _imports(src["e"])[0] == [("a", 1)]  # a stage named by a string is an import; prose naming a module is not


def test_no_import_circle_between_package_modules():
    "No two modules of the package import each other, directly or round a longer circle (issue 26)."
    graph = _import_graph(_package_modules())
    circles = [f"{' <-> '.join(c)}: {_describe_circle(graph, c)}" for c in _import_circles(graph)]
    print("\n".join(circles) or "no import circle")
    assert not circles, f"import circles (module:line -> imported module): {circles}"


def test_no_module_imports_another_modules_private_name():
    "A module takes only public names of another (no `from .x import _y`, no `x._y`) (issue 26)."
    found = [f"{name}:{line} takes {m}.{attr}" for name, src in _package_modules().items()
             for m, attr, line in _imports(src)[1] if m != name]
    print("\n".join(found) or "no private name crosses modules")
    assert not found, f"make these public in their module, or move the code that needs them there: {found}"


def _unused_parameters(func)->list:
    "The parameters of `func` (besides the first, the run folder) that its body never names."
    import inspect, textwrap
    func = inspect.unwrap(func)
    tree = ast.parse(textwrap.dedent(inspect.getsource(func))).body[0]
    named = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    params = [a.arg for a in (*tree.args.posonlyargs, *tree.args.args, *tree.args.kwonlyargs)][1:]
    return [p for p in params if p not in named]


def test_unused_parameter_check_finds_what_it_should():
    def stage(run_dir, cohort, *, profile, seed=0): return run_dir, profile
    assert _unused_parameters(stage) == ["cohort", "seed"]


def test_no_stage_function_has_an_unused_parameter():
    "Stages take what they use (issue 26): the runner hands each stage only the context fields it names."
    from sacroiliitis_dlr.pipeline import default_stages
    from sacroiliitis_dlr.loso import run_loso_cohort_stage
    funcs = [st.resolve() for st in default_stages()] + [run_loso_cohort_stage]
    unused = {f.__name__: u for f in funcs if (u := _unused_parameters(f))}
    assert not unused, unused
