#!/usr/bin/env python3
"""Every passive script shown in README.md, docs/*.md and examples/, as JSON for the system
test, which runs each one unchanged under the PATH a NixOS unit gets.

A script is found as (1) a ```bash block that sets `exit=`, (2) a `script` in a TOML file or a
```toml block, (3) a `script = ''...''` in a ```nix block or a .nix file, with that target's
`path = [ pkgs.X ... ]` and the `serviceConfig` keys it sets. The one change made: IPv4
addresses outside 127.0.0.0/8 become 127.0.0.1, since tests send nothing off the machine.
"""
import json
import re
import sys
import textwrap
import tomllib
from pathlib import Path

root = Path(sys.argv[1])
found = []


def add(source, script, path=(), service_config=None):
    script = re.sub(r"\b(?!127\.)\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "127.0.0.1", script)
    found.append(
        {
            "source": source,
            "script": script,
            "path": list(path),
            "serviceConfig": service_config or {},
        }
    )


def toml_scripts(source, text):
    data = tomllib.loads(text)
    for t in data.get("targets", {}).get("passive", []):
        if t.get("script"):
            add(f"{source} ({t.get('host')}-{t.get('name')})", t["script"])


def nix_indented(body):
    """The value of a Nix '' string: first line dropped if blank, common indent removed."""
    if "\n" not in body:
        return body
    first, rest = body.split("\n", 1)
    text = textwrap.dedent(rest) if not first.strip() else first + "\n" + textwrap.dedent(rest)
    return re.sub(r"\n[ \t]*$", "\n", text)


def nix_service_config(block):
    m = re.search(r"serviceConfig = \{(.*?)\n\s*\};", block, re.S)
    if not m:
        return {}
    sc = {}
    for key, val in re.findall(r"^\s*([A-Za-z]+) = (.*?);\s*$", m.group(1), re.M):
        items = re.findall(r'"([^"]*)"', val)
        if val.strip().startswith("["):
            sc[key] = items
        elif items:
            sc[key] = items[0]
        else:
            sc[key] = {"true": True, "false": False}.get(val.strip(), val.strip())
    return sc


def nix_scripts(source, block):
    # A block or file shows one target per `script`; its path and serviceConfig are searched
    # in the text between the previous script and the next one.
    matches = list(re.finditer(r"script = ''(.*?)'';", block, re.S))
    for i, m in enumerate(matches):
        start = matches[i - 1].end() if i > 0 else 0
        end = matches[i + 1].start() if i + 1 < len(matches) else len(block)
        target = block[start:end]
        path = re.findall(r"pkgs\.([A-Za-z0-9_-]+)", (re.search(r"path = \[([^\]]*)\]", target) or [None, ""])[1])
        add(f"{source} (line {block[:m.start()].count(chr(10)) + 1})", nix_indented(m.group(1)), path, nix_service_config(target))


for md in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
    text = md.read_text()
    for m in re.finditer(r"^```(\w+)\n(.*?)^```", text, re.S | re.M):
        lang, block = m.group(1), m.group(2)
        line = text[: m.start()].count("\n") + 1
        src = f"{md.relative_to(root)}:{line}"
        if lang == "bash" and re.search(r"\bexit=", block):
            add(src, block)
        elif lang == "toml" and "script" in block:
            toml_scripts(src, block)
        elif lang == "nix" and "script = ''" in block:
            nix_scripts(src, block)

for f in sorted((root / "examples").glob("*.toml")):
    toml_scripts(str(f.relative_to(root)), f.read_text())
for f in sorted((root / "examples").glob("*.nix")):
    nix_scripts(str(f.relative_to(root)), f.read_text())

json.dump(found, sys.stdout, indent=1)
