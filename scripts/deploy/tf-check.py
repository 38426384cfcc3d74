#!/usr/bin/env python3
"""Offline checks of Terraform code where `terraform validate` cannot run (no terraform here).

For each folder of .tf files under the given paths: every file parses as HCL2 (python-hcl2);
every var.X, local.X, data.T.N, module.M(.OUT) and resource T.N reference names something the
folder declares; every module call passes only variables the module declares, and all that
it requires. Exit status 1 on any finding.

Runs in its own venv: checkov installs a different module named hcl2.
"""

import re
import sys
from pathlib import Path

import hcl2

META_ARGUMENTS = {"source", "version", "providers", "count", "for_each", "depends_on"}
REFERENCE = re.compile(
    r"(?<![\w.])(?:"
    r"var\.(?P<var>[A-Za-z_][\w-]*)"
    r"|local\.(?P<local>[A-Za-z_][\w-]*)"
    r"|module\.(?P<module>[A-Za-z_][\w-]*)(?:\.(?P<output>[A-Za-z_][\w-]*))?"
    r"|data\.(?P<data_type>[a-z][\w]*)\.(?P<data_name>[A-Za-z_][\w-]*)"
    r"|(?P<resource_type>(?:aws|random|null|archive|tls|local|time)_[\w]+)\.(?P<resource_name>[A-Za-z_][\w-]*)"
    r")"
)


def unquote(label):
    return label[1:-1] if label.startswith('"') and label.endswith('"') else label


def expressions(value):
    """The text of every ${...} in a parsed value (comments excluded)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key != "__comments__":
                yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)
    elif isinstance(value, str):
        start = value.find("${")
        while start != -1:
            depth, index = 0, start + 1
            while index < len(value):
                if value[index] == "{":
                    depth += 1
                elif value[index] == "}":
                    depth -= 1
                    if depth == 0:
                        break
                index += 1
            yield value[start + 2 : index]
            start = value.find("${", index)


class Folder:
    def __init__(self, path):
        self.path = path
        self.files = {}
        self.errors = []
        for file in sorted(path.glob("*.tf")):
            try:
                with file.open() as handle:
                    self.files[file] = hcl2.load(handle)
            except Exception as error:  # python-hcl2 raises lark errors of several kinds
                self.errors.append(f"{file}: not valid HCL2: {str(error).splitlines()[0]}")
        self.variables, self.locals, self.modules, self.outputs = {}, set(), {}, set()
        self.data, self.resources = set(), set()
        for parsed in self.files.values():
            for block in parsed.get("variable", []):
                for name, body in block.items():
                    self.variables[unquote(name)] = body
            for block in parsed.get("locals", []):
                self.locals.update(k for k in block if not k.startswith("__"))
            for block in parsed.get("module", []):
                for name, body in block.items():
                    self.modules[unquote(name)] = body
            for block in parsed.get("output", []):
                self.outputs.update(unquote(name) for name in block)
            for kind, target in (("data", self.data), ("resource", self.resources)):
                for block in parsed.get(kind, []):
                    for rtype, named in block.items():
                        target.update((unquote(rtype), unquote(n)) for n in named)


def check_folder(folder, load):
    findings = list(folder.errors)
    for file, parsed in folder.files.items():
        for text in expressions(parsed):
            for match in REFERENCE.finditer(text):
                where = f"{file}: ${{{text[:60]}...}}"
                if match["var"] and match["var"] not in folder.variables:
                    findings.append(f"{where}: var.{match['var']} is not declared")
                elif match["local"] and match["local"] not in folder.locals:
                    findings.append(f"{where}: local.{match['local']} is not declared")
                elif match["module"]:
                    if match["module"] not in folder.modules:
                        findings.append(f"{where}: module.{match['module']} is not declared")
                    elif match["output"]:
                        called = load(module_path(folder, match["module"]))
                        if called and match["output"] not in called.outputs:
                            findings.append(f"{where}: module.{match['module']} has no output {match['output']}")
                elif match["data_type"] and (match["data_type"], match["data_name"]) not in folder.data:
                    findings.append(f"{where}: data.{match['data_type']}.{match['data_name']} is not declared")
                elif match["resource_type"] and (match["resource_type"], match["resource_name"]) not in folder.resources:
                    findings.append(f"{where}: resource {match['resource_type']}.{match['resource_name']} is not declared")
    for name, body in folder.modules.items():
        path = module_path(folder, name)
        if path is None or not path.is_dir():
            findings.append(f"{folder.path}: module {name}: source is not a local folder")
            continue
        called = load(path)
        passed = {k for k in body if not k.startswith("__")} - META_ARGUMENTS
        for argument in sorted(passed - set(called.variables)):
            findings.append(f"{folder.path}: module {name} passes {argument}, which {path} does not declare")
        required = {v for v, spec in called.variables.items() if "default" not in spec}
        for missing in sorted(required - passed):
            findings.append(f"{folder.path}: module {name} does not pass the required variable {missing}")
    return findings


def module_path(folder, name):
    source = unquote(str(folder.modules[name].get("source", "")))
    if not source.startswith("."):
        return None
    return (folder.path / source).resolve()


def main(paths):
    cache = {}

    def load(path):
        if path is None:
            return None
        if path not in cache:
            cache[path] = Folder(path)
        return cache[path]

    folders = sorted({f.parent.resolve() for p in paths for f in Path(p).rglob("*.tf")})
    if not folders:
        print(f"tf-check: no .tf files under {paths}", file=sys.stderr)
        return 1
    findings = []
    for path in folders:
        findings.extend(check_folder(load(path), load))
    for finding in findings:
        print(f"tf-check: {finding}", file=sys.stderr)
    if findings:
        return 1
    print(f"tf-check: {len(folders)} Terraform folders parse and their references resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["infra"]))
