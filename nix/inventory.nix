# The flat list of all targets of an evaluated `nixcloud.monitoring` config,
# each with its kind, raw id and escaped id. checks.nix and units.nix work on
# this list so that every target is named the same way everywhere.
let
  names = import ./names.nix;
  escape = import ./escape.nix;

  entry = kind: target: rec {
    inherit kind target;
    passive = kind == "passive";
    id = escape.targetId target;
    escaped = escape.escapeId id;
  };
in
rec {
  # Active targets in kind order (names.activeKinds), each kind's list in
  # definition order. A kind missing from `targets.active` counts as [].
  activeTargets =
    cfg:
    builtins.concatMap (kind: map (entry kind) (cfg.targets.active.${kind} or [ ])) names.activeKinds;

  passiveTargets = cfg: map (entry "passive") (cfg.targets.passive or [ ]);

  allTargets = cfg: activeTargets cfg ++ passiveTargets cfg;

  # Passive targets that carry a script: these get a result service and timer.
  scriptedTargets = cfg: builtins.filter (t: (t.target.script or "") != "") (passiveTargets cfg);

  # A passive target's schedule with the agent's defaults (docs/config.md):
  # its calendar as a list (null: an interval), and the interval's minutes.
  calendarOf =
    t:
    let
      c = t.timers.calendar or null;
    in
    if c == null then null else if builtins.isList c then c else [ c ];
  checkMinutes = t: if (t.timers.check or null) == null then 60 else t.timers.check;
  timeoutMinutes = t: if (t.timers.timeout or null) == null then 180 else t.timers.timeout;
}
