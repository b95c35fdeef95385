# Assertions and warnings for an evaluated `nixcloud.monitoring` config, as
# plain data ({ assertion; message; } and strings) so module.nix can hand them
# to NixOS and the tests can look at them without nixpkgs.
#
# Every message starts with "nixcloud.monitoring:" and names the targets it is
# about, so the admin sees what to change without reading this file.
let
  names = import ./names.nix;
  inventory = import ./inventory.nix;
  escape = import ./escape.nix;
  inherit (builtins)
    attrNames
    concatStringsSep
    filter
    groupBy
    length
    stringLength
    ;

  # One "  - " line per entry; long lists (a thousand keyless targets) are cut
  # after 20 lines with a count of the rest.
  bullet =
    lines:
    let
      shown = if length lines > 20 then builtins.genList (builtins.elemAt lines) 20 else lines;
      rest = length lines - length shown;
    in
    concatStringsSep "\n" (
      map (l: "  - ${l}") shown ++ (if rest > 0 then [ "  ... and ${toString rest} more" ] else [ ])
    );

  hasKey = t: (t.apiKey or null) != null || (t.apiKeyFile or null) != null;

  inherit (import ./render.nix) backendsOf uses;
in
rec {
  # Ids used by more than one target: [ { id; kinds = [ ... ]; } ], sorted by id.
  duplicateIds =
    entries:
    let
      groups = groupBy (e: e.id) entries;
    in
    map (id: {
      inherit id;
      kinds = map (e: e.kind) groups.${id};
    }) (filter (id: length groups.${id} > 1) (attrNames groups));

  # Different ids that escape to the same name: [ { escaped; ids = [ ... ]; } ].
  escapeCollisions =
    entries:
    let
      distinctIds = attrNames (groupBy (e: e.id) entries);
      byEscaped = groupBy (import ./escape.nix).escapeId distinctIds;
    in
    map (escaped: {
      inherit escaped;
      ids = byEscaped.${escaped};
    }) (filter (escaped: length byEscaped.${escaped} > 1) (attrNames byEscaped));

  assertions =
    cfg:
    let
      all = inventory.allTargets cfg;
      active = inventory.activeTargets cfg;
      passive = inventory.passiveTargets cfg;

      dups = duplicateIds all;
      collisions = escapeCollisions all;
      noFamily = filter (e: !e.target.ipv4 && !e.target.ipv6) active;
      intervals = filter (e: inventory.calendarOf e.target == null) passive;
      badTimers = filter (e: inventory.checkMinutes e.target >= inventory.timeoutMinutes e.target) intervals;
      calendarAndInterval = filter (
        e: inventory.calendarOf e.target != null && ((e.target.timers.check or null) != null || (e.target.timers.timeout or null) != null)
      ) passive;
      graceWithoutCalendar = filter (e: (e.target.timers.grace or null) != null) intervals;
      emptyParts = filter (e: e.target.host == "" || e.target.name == "") all;
      controlParts = filter (e: escape.hasControlChar e.target.host || escape.hasControlChar e.target.name) all;
      tooLong = filter (e: stringLength e.escaped > names.maxEscapedIdLength) all;
      # Healthchecks names each check by target id and takes at most 100 characters
      # (the agent refuses longer ones too, src/config/limits.rs). Characters, not bytes:
      # the continuation bytes of UTF-8 do not count.
      tooLongForHealthchecks = filter (e: escape.charLength e.id > names.maxHealthchecksName) passive;
      twoKeys = filter (e: e.target.apiKey != null && e.target.apiKeyFile != null) all;

      needsGlobalKey = uses cfg "nixcloud" && !(builtins.all (e: hasKey e.target) all);
      backends = backendsOf cfg;
      repeatedBackends = filter (k: length (filter (b: b == k) backends) > 1) (attrNames (groupBy (b: b) backends));
      hasGlobalKey = cfg.apiKey != null || cfg.apiKeyFile != null;
      keyless = filter (e: !hasKey e.target) all;

      icinga = cfg.icinga2;
      missingIcinga = filter (k: icinga.${k} == null) [
        "url"
        "user"
        "passwordFile"
      ];
    in
    [
      {
        assertion = dups == [ ];
        message = ''
          nixcloud.monitoring: every target's "<host>-<name>" must be unique over all
          active and passive targets together. These are defined more than once:
          ${bullet (map (d: "${d.id} (${concatStringsSep ", " d.kinds})") dups)}
          Give them different `name`s.'';
      }
      {
        assertion = collisions == [ ];
        message = ''
          nixcloud.monitoring: these different target ids escape to the same unit/command
          name (characters other than A-Z a-z 0-9 . _ - become "_"):
          ${bullet (map (c: "${concatStringsSep " and " (map (i: ''"${i}"'') c.ids)} -> ${c.escaped}") collisions)}
          Give them different `name`s.'';
      }
      {
        assertion = noFamily == [ ];
        message = ''
          nixcloud.monitoring: these active targets have both ipv4 and ipv6 set to false;
          enable at least one address family:
          ${bullet (map (e: "${e.id} (${e.kind})") noFamily)}'';
      }
      {
        assertion = badTimers == [ ];
        message = ''
          nixcloud.monitoring: a passive target's timers.check (minutes between results)
          must be smaller than its timers.timeout (minutes of silence before the alarm):
          ${bullet (map (e: "${e.id}: check = ${toString (inventory.checkMinutes e.target)}, timeout = ${toString (inventory.timeoutMinutes e.target)}") badTimers)}'';
      }
      {
        assertion = calendarAndInterval == [ ];
        message = ''
          nixcloud.monitoring: a passive target has timers.calendar and timers.check or
          timers.timeout: a calendar target waits for its calendar's longest gap (plus
          timers.grace); remove check and timeout:
          ${bullet (map (e: e.id) calendarAndInterval)}'';
      }
      {
        assertion = graceWithoutCalendar == [ ];
        message = ''
          nixcloud.monitoring: timers.grace belongs to timers.calendar; with timers.check the
          silence allowed is timers.timeout:
          ${bullet (map (e: e.id) graceWithoutCalendar)}'';
      }
      {
        assertion = emptyParts == [ ];
        message = ''
          nixcloud.monitoring: every target needs a non-empty `host` and `name`:
          ${bullet (map (e: ''${e.kind} target host = "${e.target.host}", name = "${e.target.name}"'') emptyParts)}'';
      }
      {
        assertion = controlParts == [ ];
        message = ''
          nixcloud.monitoring: a target's `host` and `name` must not contain control characters
          (a newline, a tab, ...), bidirectional controls or line separators (shown here as "_"):
          ${bullet (map (e: ''${e.kind} target host = "${escape.printable e.target.host}", name = "${escape.printable e.target.name}"'') controlParts)}'';
      }
      {
        assertion = tooLong == [ ];
        message = ''
          nixcloud.monitoring: target ids longer than ${toString names.maxEscapedIdLength} characters cannot become unit names:
          ${bullet (map (e: e.id) tooLong)}'';
      }
      {
        assertion = !(uses cfg "healthchecks") || tooLongForHealthchecks == [ ];
        message = ''
          nixcloud.monitoring: Healthchecks names each check by target id and takes at most ${toString names.maxHealthchecksName} characters; these ids are longer:
          ${bullet (map (e: e.id) tooLongForHealthchecks)}'';
      }
      {
        assertion = !(needsGlobalKey && !hasGlobalKey);
        message = ''
          nixcloud.monitoring: no API key. Set nixcloud.monitoring.apiKeyFile (a file outside
          the Nix store, e.g. "/run/keys/nixcloud-monitoring") or nixcloud.monitoring.apiKey,
          or give each target its own apiKeyFile/apiKey, or use backend = "local".
          Targets without a key of their own:
          ${bullet (map (e: e.id) keyless)}'';
      }
      {
        assertion = !(cfg.apiKey != null && cfg.apiKeyFile != null);
        message = "nixcloud.monitoring: set either apiKey or apiKeyFile, not both (apiKeyFile is preferred).";
      }
      {
        assertion = twoKeys == [ ];
        message = ''
          nixcloud.monitoring: these targets set both apiKey and apiKeyFile; keep one:
          ${bullet (map (e: e.id) twoKeys)}'';
      }
      {
        assertion = !(uses cfg "icinga2") || missingIcinga == [ ];
        message = ''
          nixcloud.monitoring: backend = "icinga2" needs ${
            concatStringsSep ", " (map (k: "nixcloud.monitoring.icinga2.${k}") missingIcinga)
          }.'';
      }
      {
        # Healthchecks only waits for pings: an active target needs a backend that runs it.
        assertion = active == [ ] || backends != [ "healthchecks" ];
        message = ''
          nixcloud.monitoring: Healthchecks does not run checks, it only waits for pings, so
          these active targets need another backend that runs them (backends = [ "healthchecks"
          "icinga2" ], or "prometheus" with the blackbox exporter), or must become passive
          targets with a script:
          ${bullet (map (e: e.id) active)}'';
      }
      {
        assertion = !(uses cfg "healthchecks") || (cfg.healthchecks.apiKeyFile or null) != null;
        message = "nixcloud.monitoring: backend \"healthchecks\" needs nixcloud.monitoring.healthchecks.apiKeyFile.";
      }
      {
        assertion = backends != [ ] && repeatedBackends == [ ];
        message =
          if backends == [ ] then
            "nixcloud.monitoring.backends is empty; name at least one backend."
          else
            "nixcloud.monitoring.backends names ${concatStringsSep ", " repeatedBackends} more than once.";
      }
    ];

  # Only the messages of the assertions that fail (what NixOS would print).
  failedAssertions = cfg: map (a: a.message) (filter (a: !a.assertion) (assertions cfg));

  warnings =
    cfg:
    let
      inlineKeys = filter (e: e.target.apiKey != null) (inventory.allTargets cfg);
    in
    (
      if cfg.apiKey != null then
        [
          ''
            nixcloud.monitoring.apiKey is set: the key ends up in the Nix store (and in
            /etc/nixcloud-monitoring/config.toml), which every local user can read. Put it in a
            root-only file outside the store and set nixcloud.monitoring.apiKeyFile instead.''
        ]
      else
        [ ]
    )
    ++ (
      if inlineKeys != [ ] then
        [
          ''
            nixcloud.monitoring: these targets set apiKey, which ends up world-readable in the
            Nix store; use the target's apiKeyFile instead:
            ${bullet (map (e: e.id) inlineKeys)}''
        ]
      else
        [ ]
    );
}
