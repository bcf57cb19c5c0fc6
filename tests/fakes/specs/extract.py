#!/usr/bin/env python3
"""Extracts the response schemas the fakes' spec test needs from the vendors' OpenAPI documents
(see ../../../shared/specs/SOURCES.md, copied here in README.md), with every $ref resolved inline,
so the test runs without the 4 MB of specs. Run from this folder:

    python3 extract.py /work/shared/specs

Writes jira-platform.json, jsm.json, zendesk.json and servicenow-table.json: {"source": {...}, "operations":
{"<METHOD> <path> <status>": <schema>}}. A $ref that recurses into itself is cut to {} (any).
Needs PyYAML for the Zendesk document.
"""
import hashlib, json, os, sys

import yaml

OPS = {
    "jira-platform.json": ("swagger-v3.v3.json", [
        ("get", "/rest/api/3/search/jql", "200"),
        ("post", "/rest/api/3/search/jql", "200"),
        ("get", "/rest/api/3/issue/{issueIdOrKey}", "200"),
        ("get", "/rest/api/3/issue/{issueIdOrKey}/transitions", "200"),
        ("post", "/rest/api/3/issue", "201"),
        ("get", "/rest/api/3/myself", "200"),
        ("post", "/rest/api/3/issue/{issueIdOrKey}/attachments", "200"),
        ("get", "/rest/api/3/user/assignable/search", "200"),
        ("get", "/rest/api/3/issue/{issueIdOrKey}/comment", "200"),
        ("post", "/rest/api/3/issue/{issueIdOrKey}/comment", "201"),
        ("post", "/rest/api/3/comment/list", "200"),
    ]),
    "jsm.json": ("jsm.v3.json", [
        ("get", "/rest/servicedeskapi/request/{issueIdOrKey}/comment", "200"),
        ("post", "/rest/servicedeskapi/request/{issueIdOrKey}/comment", "201"),
        ("get", "/rest/servicedeskapi/request/{issueIdOrKey}/sla", "200"),
    ]),
    "zendesk.json": ("openapi-src.yaml", [
        ("get", "/api/v2/incremental/tickets/cursor", "200"),
        ("get", "/api/v2/search/export", "200"),
        ("get", "/api/v2/tickets/{ticket_id}", "200"),
        ("put", "/api/v2/tickets/{ticket_id}", "200"),
        ("get", "/api/v2/tickets/{ticket_id}/comments", "200"),
        ("get", "/api/v2/tickets", "200"),
        ("post", "/api/v2/tickets", "201"),
        ("get", "/api/v2/users/me", "200"),
        ("get", "/api/v2/users/show_many", "200"),
        ("get", "/api/v2/users/search", "200"),
        ("get", "/api/v2/groups", "200"),
        ("get", "/api/v2/tickets/{ticket_id}/audits", "200"),
    ]),
    # A community-written sketch (API Evangelist), not ServiceNow's: see README.md for the two
    # places where it contradicts the real Table API and how the test treats them.
    "servicenow-table.json": ("servicenow-table-api-openapi.yml", [
        ("get", "/table/{tableName}", "200"),
        ("get", "/table/{tableName}/{sys_id}", "200"),
        ("post", "/table/{tableName}", "201"),
        ("patch", "/table/{tableName}/{sys_id}", "200"),
        ("get", "/table/{tableName}/{sys_id}", "404"),
        ("get", "/table/{tableName}", "401"),
    ]),
}

# Keywords that describe the shape; prose, examples and read/write flags are dropped.
KEEP = {"type", "properties", "items", "required", "nullable", "enum", "allOf", "oneOf", "anyOf",
        "additionalProperties", "format"}


class Loader(yaml.SafeLoader):
    pass


# The Zendesk document uses a bare `=` scalar (tag:yaml.org,2002:value) and unquoted dates.
Loader.add_constructor("tag:yaml.org,2002:value", lambda l, n: l.construct_scalar(n))
Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda l, n: l.construct_scalar(n))


def load(path):
    with open(path, "rb") as f:
        raw = f.read()
    doc = json.loads(raw) if path.endswith(".json") else yaml.load(raw, Loader=Loader)
    return doc, hashlib.sha256(raw).hexdigest()


def resolve(doc, node, stack):
    if isinstance(node, list):
        return [resolve(doc, x, stack) for x in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in stack:
            return {}
        target = doc
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        return resolve(doc, target, stack + [ref])
    out = {}
    for k, v in node.items():
        if k not in KEEP:
            continue
        if k == "properties":
            out[k] = {name: resolve(doc, s, stack) for name, s in v.items()}
        elif k == "additionalProperties" and isinstance(v, bool):
            out[k] = v
        else:
            out[k] = resolve(doc, v, stack)
    return out


def main(src):
    here = os.path.dirname(os.path.abspath(__file__))
    for out_name, (spec, ops) in OPS.items():
        doc, sha = load(os.path.join(src, spec))
        result = {"source": {"file": spec, "sha256": sha, "info_version": doc["info"]["version"]},
                  "operations": {}}
        for method, path, status in ops:
            resp = doc["paths"][path][method]["responses"][status]
            if "$ref" in resp:
                node = doc
                for part in resp["$ref"].lstrip("#/").split("/"):
                    node = node[part]
                resp = node
            schema = resp["content"]["application/json"]["schema"]
            result["operations"][f"{method.upper()} {path} {status}"] = resolve(doc, schema, [])
        with open(os.path.join(here, out_name), "w") as f:
            json.dump(result, f, indent=None, sort_keys=True, separators=(",", ":"))
            f.write("\n")
        print(out_name, os.path.getsize(os.path.join(here, out_name)), "bytes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/specs")
