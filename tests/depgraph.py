"""The vidlab code each DVC stage runs, derived from the import graph, against dvc.yaml's deps.

A stage's code is its CLI command (the function ``vidlab <command>`` calls, found in
``src/vidlab/cli``), every module that function or its module imports, and, transitively, every
module those import (at module level or inside a function: a function may be called). The
packages above each module are run too (their ``__init__.py``), so they count, though only their
module-level imports are followed. ``python -m tests.depgraph`` prints each stage's code deps as
dvc.yaml should list them and checks dvc.yaml; ``--write`` rewrites them in dvc.yaml.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "vidlab"
# listed whole wherever a stage runs any of it: small, shared by every stage, rarely changed
COARSE = {"core": f"src/{PACKAGE}/core"}


@dataclass
class Source:
    """The modules under one ``src`` folder, parsed once."""

    src: Path
    files: dict[str, Path] = field(default_factory=dict)  # module name -> file
    trees: dict[str, ast.Module] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for path in sorted((self.src / PACKAGE).rglob("*.py")):
            parts = path.relative_to(self.src).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            self.files[name] = path
            self.trees[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))

    def is_package(self, module: str) -> bool:
        return self.files[module].name == "__init__.py"

    def imports(self, module: str, nodes: list[ast.AST] | None = None) -> set[str]:
        """vidlab modules imported anywhere in ``nodes`` (default: the whole module)."""
        found: set[str] = set()
        package = module if self.is_package(module) else module.rpartition(".")[0]
        for node in nodes if nodes is not None else [self.trees[module]]:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import):
                    found |= {a.name for a in sub.names}
                elif isinstance(sub, ast.ImportFrom):
                    base = sub.module or ""
                    if sub.level:
                        anchor = package.split(".")[: len(package.split(".")) - sub.level + 1]
                        base = ".".join([*anchor, *([base] if base else [])])
                    modules = {f"{base}.{a.name}" for a in sub.names} & set(self.files)
                    found |= modules  # `from pkg import mod`: pkg itself runs as a parent
                    if len(modules) < len(sub.names):  # names defined in base
                        found.add(base)
        return {m for m in found if m in self.files}

    def top_level_imports(self, module: str) -> set[str]:
        body = [n for n in self.trees[module].body
                if not isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)]
        return self.imports(module, body)

    def closure(self, start: set[str], top_only: set[str] = frozenset()) -> set[str]:
        """Every module ``start`` can run, with the packages above each. Of the modules in
        ``top_only`` and of parent packages, only the module-level imports are followed."""
        seen: set[str] = set()
        todo = [(m, m in top_only) for m in start]
        while todo:
            module, top = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            todo += [(m, False) for m in
                     (self.top_level_imports(module) if top else self.imports(module))]
            parts = module.split(".")
            todo += [(".".join(parts[:k]), True) for k in range(1, len(parts))]
        return seen

    def command(self, name: str) -> tuple[str, ast.FunctionDef]:
        """The CLI module and function of ``vidlab <name>``."""
        for module in sorted(m for m in self.files if m.startswith(f"{PACKAGE}.cli")):
            for node in self.trees[module].body:
                if isinstance(node, ast.FunctionDef) and _command_name(node) == name:
                    return module, node
        raise LookupError(f"no CLI command {name!r} under {self.src / PACKAGE / 'cli'}")

    def stage_modules(self, command: str) -> set[str]:
        module, func = self.command(command)
        # the command's module runs, but of its function-level imports only this command's
        return self.closure({module, *self.imports(module, [func])}, top_only={module})


def _command_name(func: ast.FunctionDef) -> str | None:
    for deco in func.decorator_list:
        if isinstance(deco, ast.Call) and getattr(deco.func, "attr", "") == "command":
            if deco.args and isinstance(deco.args[0], ast.Constant):
                return str(deco.args[0].value)
            return func.name.replace("_", "-")
    return None


def stages(dvc_yaml: Path) -> dict[str, dict]:
    """dvc.yaml's stages with ``foreach`` expanded to its first item (all items share code)."""
    out = {}
    for name, spec in yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"].items():
        if "foreach" in spec:
            item = spec["foreach"][0]
            text = yaml.safe_dump(spec["do"]).replace("${item}", str(item))
            out[f"{name}@{item}"] = yaml.safe_load(text)
        else:
            out[name] = spec
    return out


def command_of(spec: dict) -> str:
    words = spec["cmd"].split()
    return words[words.index(PACKAGE) + 1]


def code_deps(spec: dict) -> list[str]:
    return [d for d in spec.get("deps", []) if str(d).startswith(f"src/{PACKAGE}")]


def covers(dep: str, path: str) -> bool:
    """Whether dvc.yaml dep ``dep`` (a file or a folder) covers ``path``."""
    return path == dep or path.startswith(dep.rstrip("/") + "/")


def files_of(source: Source, modules: set[str], root: Path) -> set[str]:
    return {source.files[m].relative_to(root).as_posix() for m in modules}


def check(root: Path = ROOT, src: Path | None = None, dvc_yaml: Path | None = None) -> list[str]:
    """Problems, one line each: a module a stage runs that no dep covers, or a code dep that
    covers nothing the stage runs (it would rerun the stage for nothing)."""
    source = Source(src or root / "src")
    problems = []
    for name, spec in stages(dvc_yaml or root / "dvc.yaml").items():
        used = files_of(source, source.stage_modules(command_of(spec)), source.src.parent)
        deps = code_deps(spec)
        for path in sorted(used):
            if not any(covers(dep, path) for dep in deps):
                problems.append(f"{name}: runs {path} but dvc.yaml does not list it")
        for dep in deps:
            if not any(covers(dep, path) for path in used):
                problems.append(f"{name}: lists {dep}, which it does not run")
    return problems


def suggested(root: Path = ROOT) -> dict[str, list[str]]:
    """Each stage's code deps, folders where the stage runs every module in them."""
    source = Source(root / "src")
    every = files_of(source, set(source.files), root)
    out = {}
    for name, spec in stages(root / "dvc.yaml").items():
        used = files_of(source, source.stage_modules(command_of(spec)), root)
        deps: set[str] = set()
        for path in used:
            # the highest package folder whose every module the stage runs, else the file
            parts = path.split("/")
            best = path
            for k in range(len(parts) - 1, 2, -1):  # src/vidlab/<...>: never src/vidlab itself
                folder = "/".join(parts[:k])
                if all(p in used for p in every if p.startswith(folder + "/")):
                    best = folder
                else:
                    break
            deps.add(COARSE.get(best.split("/")[2], best) if len(parts) > 3 else best)
        # a folder inside a listed folder is covered already
        out[name] = sorted(d for d in deps if not any(d != o and covers(o, d) for o in deps))
    return out


def write(root: Path = ROOT) -> None:
    """Rewrite the code deps (``src/vidlab/...``) of every stage in dvc.yaml from the import
    graph, keeping its other deps, comments and layout."""
    import io

    from ruamel.yaml import YAML

    found = suggested(root)
    rt = YAML()
    rt.preserve_quotes, rt.width = True, 4096
    rt.indent(mapping=2, sequence=4, offset=2)
    doc = rt.load((root / "dvc.yaml").read_text(encoding="utf-8"))
    for name, spec in doc["stages"].items():
        body = spec["do"] if "foreach" in spec else spec
        key = f"{name}@{spec['foreach'][0]}" if "foreach" in spec else name
        kept = [d for d in body["deps"] if not str(d).startswith(f"src/{PACKAGE}")]
        body["deps"].clear()
        body["deps"].extend(kept + found[key])
    text = io.StringIO()
    rt.dump(doc, text)
    (root / "dvc.yaml").write_text(text.getvalue(), encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
    else:
        for stage, deps in suggested().items():
            print(stage)
            print("\n".join(f"  - {d}" for d in deps))
    problems = check()
    print("\n".join(problems) or "dvc.yaml lists exactly the code each stage runs")
    sys.exit(1 if problems else 0)
