#!/usr/bin/env python3
"""Writes what NixOS would install for one rendered config (render.nix's JSON) into a
container tree, as the activation of `nixos-rebuild switch` does, and prints which of our
units were added, changed or removed compared to what was installed before (JSON).

    install.py RENDERED.json ROOT AGENT_BINARY
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

rendered = json.load(open(sys.argv[1]))
root = Path(sys.argv[2])
agent_bin = sys.argv[3]
units_dir = root / "etc/systemd/system"
manifest = units_dir / ".nixcloud-units.json"


def inside(path):
    return root / path.lstrip("/")


def programs_of(deb):
    """The programs (bin and sbin) a Debian package ships, from dpkg's file list."""
    info = root / "var/lib/dpkg/info"
    for name in (f"{deb}.list", f"{deb}:amd64.list"):
        if (info / name).exists():
            lines = (info / name).read_text().splitlines()
            break
    else:
        sys.exit(f"install.py: package {deb} is not installed in {root}")
    for line in lines:
        d, _, prog = line.rpartition("/")
        if d in ("/bin", "/usr/bin", "/sbin", "/usr/sbin") and prog:
            yield ("sbin" if d.endswith("sbin") else "bin"), prog, line


# The store: each path holds only the programs of the package it names.
for entry in rendered["store"]:
    store = inside(entry["path"])
    if store.exists():
        continue
    for sub in ("bin", "sbin"):
        (store / sub).mkdir(parents=True, exist_ok=True)
    for deb in entry["debs"]:
        for sub, prog, target in programs_of(deb):
            link = store / sub / prog
            if not link.exists() and not link.is_symlink():
                link.symlink_to(target)
    if "gawk" in entry["debs"]:
        (store / "bin/awk").symlink_to("/usr/bin/gawk")  # nixpkgs' gawk has bin/awk
    if entry["path"].endswith("-restic"):
        # Stand-in for restic (README's backup example): lists one snapshot, as
        # `restic snapshots --latest 1 --json` does.
        f = store / "bin/restic"
        f.write_text(f'#!{rendered["bash"]}\necho \'[{{"time":"2026-11-30T03:00:00Z","id":"0f1e2d3c"}}]\'\n')
        f.chmod(0o755)

agent = inside(rendered["agent"]) / "bin/nixcloud-monitoring"
if not agent.exists():
    agent.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(agent_bin, agent)

# /etc/nixcloud-monitoring/config.toml -> the config's store path.
config_store = inside(rendered["configFile"])
config_store.parent.mkdir(parents=True, exist_ok=True)
config_store.write_text(rendered["config"])
etc_config = inside(rendered["configPath"])
etc_config.parent.mkdir(parents=True, exist_ok=True)
if etc_config.exists() or etc_config.is_symlink():
    etc_config.unlink()
etc_config.symlink_to(rendered["configFile"])

(root / "etc/tmpfiles.d").mkdir(parents=True, exist_ok=True)
(root / "etc/tmpfiles.d/nixcloud-monitoring.conf").write_text("\n".join(rendered["tmpfilesRules"]) + "\n")

# The commands, built as runCommand would, and put on the system PATH.
commands = root / "nix/store/commands-tmp"
shutil.rmtree(commands, ignore_errors=True)
subprocess.run(["bash", "-euc", rendered["commandsBuildScript"]], env={**os.environ, "out": str(commands)}, check=True)
for old in (root / "usr/local/bin").glob("nixcloud.monitoring-*"):
    old.unlink()
for cmd in (commands / "bin").iterdir():
    dest = root / "usr/local/bin" / cmd.name
    shutil.copy2(cmd, dest)

# The units, and the .wants links for wantedBy.
before = json.loads(manifest.read_text()) if manifest.exists() else {}
after = {}
for u in rendered["unitFiles"]:
    path = units_dir / u["file"]
    after[u["file"]] = u["text"]
    path.write_text(u["text"])
    for target in u["wantedBy"]:
        wants = units_dir / f"{target}.wants"
        wants.mkdir(exist_ok=True)
        link = wants / u["file"]
        if not link.is_symlink():
            link.symlink_to(f"../{u['file']}")
for gone in set(before) - set(after):
    (units_dir / gone).unlink(missing_ok=True)
    for link in units_dir.glob(f"*.wants/{gone}"):
        link.unlink()
manifest.write_text(json.dumps(after))

json.dump(
    {
        "added": sorted(set(after) - set(before)),
        "changed": sorted(f for f in set(after) & set(before) if after[f] != before[f]),
        "removed": sorted(set(before) - set(after)),
    },
    sys.stdout,
)
