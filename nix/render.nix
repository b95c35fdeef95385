# The evaluated `nixcloud.monitoring` options -> the attrset written to
# /etc/nixcloud-monitoring/config.toml (through pkgs.formats.toml).
#
# docs/config.md is the contract: its key names are the option names, so this
# file does not rename anything. It only
#   * leaves out what exists for the module alone (enable, mode, package, a
#     passive target's serviceConfig and path, the submodules' `_module`),
#   * leaves out null values (TOML has no null; null means "not set"),
#   * adds `stateDir`, which the module fixes to /var/lib/nixcloud-monitoring,
#   * writes one backend as `backend = "x"` and several as `backends = [ ... ]`
#     (the agent refuses both keys at once; a one-element `backends` becomes
#     `backend`, so configs without several backends render as before),
#   * writes the `icinga2` / `healthchecks` / `notify` / `page` table only
#     when that backend is used (`page` with the agent's keys only), and
#     `prometheus` only when it is used and `textfile` is set;
#     `notify.targets` is no key: each entry is merged into the passive
#     target with that id (nix/notify.nix),
#   * leaves out empty target lists, so the file stays short.
# The agent rejects unknown keys, so anything added to a target submodule
# that is not in docs/config.md has to be listed in moduleOnlyTargetKeys.
let
  names = import ./names.nix;
  notify = import ./notify.nix;
  util = import ./util.nix;
  inherit (util) dropNulls filterAttrs;

  # Option names that never reach the config file.
  moduleOnlyTopKeys = [
    "_module"
    "enable"
    "mode"
    "package"
    # nix/watch-options.nix: they become passive targets and units.
    "watch"
    "hostChecks"
  ];
  moduleOnlyTargetKeys = [
    "_module"
    "serviceConfig"
    "path"
  ];
  # Nested options that never reach the file as they are.
  moduleOnlyPaths = [
    [
      "notify"
      "targets"
    ]
  ];

  # Nested submodules (passive `timers`) carry `_module` too, and nulls.
  stripModule = v: if builtins.isAttrs v then dropNulls (builtins.removeAttrs v [ "_module" ]) else v;

  renderTarget =
    target: builtins.mapAttrs (_: stripModule) (dropNulls (builtins.removeAttrs target moduleOnlyTargetKeys));

  nonEmpty = filterAttrs (_: v: v != [ ] && v != { });

  renderTargets =
    cfg: targets:
    let
      active = nonEmpty (
        builtins.listToAttrs (
          map (kind: {
            name = kind;
            value = map renderTarget (targets.active.${kind} or [ ]);
          }) names.activeKinds
        )
      );
      passive = map (t: renderTarget (notify.withOverrides cfg t)) (targets.passive or [ ]);
    in
    nonEmpty { inherit active passive; };
  # The backends in use: `backends` (which NixOS defaults to [ backend ]);
  # evaluated configs without it (the tests' fixtures) mean `backend` alone.
  backendsOf = cfg: cfg.backends or [ cfg.backend ];
  uses = cfg: kind: builtins.elem kind (backendsOf cfg);

  table = attrs: dropNulls (builtins.removeAttrs attrs [ "_module" ]);
in
{
  inherit
    moduleOnlyTopKeys
    moduleOnlyTargetKeys
    moduleOnlyPaths
    backendsOf
    uses
    ;

  renderConfig =
    cfg:
    let
      backends = backendsOf cfg;
      one = builtins.length backends == 1;
    in
    nonEmpty (dropNulls {
      backend = if one then builtins.head backends else null;
      backends = if one then null else backends;
      inherit (cfg)
        apiHost
        public
        apiKey
        apiKeyFile
        ;
      failureThreshold = cfg.failureThreshold or null;
      stateDir = names.stateDir;
      queue = {
        inherit (cfg.queue) maxCount maxBytes;
      };
      delivery = {
        inherit (cfg.delivery) attempts timeout concurrency;
      };
      icinga2 = if uses cfg "icinga2" then table cfg.icinga2 else null;
      healthchecks = if uses cfg "healthchecks" then table cfg.healthchecks else null;
      notify = notify.table cfg;
      # Only the agent's keys: page.group and page.nginx are the module's (nix/page.nix).
      page =
        if uses cfg "page" then
          {
            dir = if (cfg.page.dir or null) != null then cfg.page.dir else names.pageDir;
            showOutput = cfg.page.showOutput or true;
          }
        else
          null;
      prometheus =
        if uses cfg "prometheus" && (cfg.prometheus.textfile or null) != null then
          { inherit (cfg.prometheus) textfile; }
        else
          null;
      targets = renderTargets cfg (cfg.targets or { });
    });
}
