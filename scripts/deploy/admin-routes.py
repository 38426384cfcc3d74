#!/usr/bin/env python3
"""The Lambda module's admin routes are the contract's admin routes.

  admin-routes.py SERVER MODULE_DIR

With auth_mode = "iam" the function serves every caller as admin, and only the module's admin
routes (API Gateway routes of their own, denied to clients by its client policy) keep clients
off the admin handlers. So the module must name every admin route of the server, no more: this
starts SERVER (a session-server binary) on a free loopback port, on the embedded store in a
temporary folder, reads its /openapi.json, where an operation that needs an admin token is the
one with a 403 answer, and compares them with `local.admin_routes` in MODULE_DIR's .tf files,
the admin route resource and the client policy's Deny. Exit status 1 on any finding.

Runs in the python-hcl2 venv of scripts/validate-deploy.
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import hcl2


def unquote(text):
    return text[1:-1] if text.startswith('"') and text.endswith('"') else text


def contract_admin_routes(server):
    """Route keys ("GET /sessions") of the operations the server answers 403 to a client token,
    plus HEAD for each GET among them, which the server treats as the same route."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, PORT=str(port), BIND_ADDRESS="127.0.0.1", LOG_FORMAT="json", RUST_LOG="warn",
                   SESSION_STORE="embedded", EMBEDDED_DB_PATH=f"{work}/sessions.redb")
        for name in ("API_TOKENS", "ADMIN_TOKENS", "API_TOKENS_FILE", "ADMIN_TOKENS_FILE", "AUTH_DISABLED"):
            env.pop(name, None)
        log = open(f"{work}/server.log", "w+")
        process = subprocess.Popen([server, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            document = None
            for _ in range(100):
                if process.poll() is not None:
                    log.seek(0)
                    raise SystemExit(f"admin-routes: {server} exited with {process.returncode}:\n{log.read()}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2) as response:
                        document = json.load(response)
                    break
                except OSError:
                    time.sleep(0.1)
            if document is None:
                raise SystemExit(f"admin-routes: {server} did not answer GET /openapi.json within 10 s")
        finally:
            process.terminate()
            process.wait()
            log.close()
    routes = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "403" in operation.get("responses", {}):
                routes.add(f"{method.upper()} {path}")
                if method == "get":
                    routes.add(f"HEAD {path}")
    return routes


def module_blocks(folder):
    """(locals, resources, data) of every .tf file in folder, as python-hcl2 parses them."""
    found = {"locals": {}, "resource": [], "data": []}
    for file in sorted(Path(folder).glob("*.tf")):
        with file.open() as handle:
            parsed = hcl2.load(handle)
        for block in parsed.get("locals", []):
            found["locals"].update(block)
        found["resource"].extend(parsed.get("resource", []))
        found["data"].extend(parsed.get("data", []))
    return found


def named(blocks, kind, name):
    for block in blocks:
        for rtype, by_name in block.items():
            for rname, body in by_name.items():
                if unquote(rtype) == kind and unquote(rname) == name:
                    return body
    return None


def check(server, folder):
    findings = []
    expected = contract_admin_routes(server)
    if not expected:
        return [f"{server}: its /openapi.json has no operation with a 403 answer, so no admin route"]
    blocks = module_blocks(folder)
    routes = {unquote(k): unquote(v) for k, v in blocks["locals"].get("admin_routes", {}).items()}
    for key in sorted(expected - set(routes)):
        findings.append(f"{folder}: local.admin_routes lacks the admin route {key}")
    for key in sorted(set(routes) - expected):
        findings.append(f"{folder}: local.admin_routes has {key}, which is not an admin route of the server")
    for key, suffix in sorted(routes.items()):
        arn_suffix = re.sub(r"\{[^}]+\}", "*", key.replace(" ", "", 1))
        if suffix != arn_suffix:
            findings.append(f"{folder}: local.admin_routes[\"{key}\"] is \"{suffix}\", not \"{arn_suffix}\"")
    route = named(blocks["resource"], "aws_apigatewayv2_route", "admin") or {}
    if route.get("for_each") != "${local.admin_routes}" or route.get("route_key") != "${each.key}":
        findings.append(f"{folder}: aws_apigatewayv2_route.admin must be one route per key of local.admin_routes")
    policy = named(blocks["data"], "aws_iam_policy_document", "invoke_client") or {}
    denies = [s for s in policy.get("statement", []) if unquote(str(s.get("effect", ""))) == "Deny"]
    if not any(s.get("resources") == "${local.admin_route_arns}" for s in denies):
        findings.append(f"{folder}: the client policy (invoke_client) must deny local.admin_route_arns")
    return findings


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    findings = check(*argv)
    for finding in findings:
        print(f"admin-routes: {finding}", file=sys.stderr)
    if findings:
        return 1
    print(f"admin-routes: {argv[1]} gives every admin route of the server a route of its own, denied to clients")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
