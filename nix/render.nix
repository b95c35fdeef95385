# The evaluated `nixcloud.monitoring` options -> the attrset written to
# /etc/nixcloud-monitoring/config.toml (through pkgs.formats.toml).
#
# docs/config.md is the contract: its key names are the option names, so this
# file does not rename anything. It only
#   * leaves out what exists for the module alone (enable, mode, package, a
#     passive target's serviceConfig and path, the submodules' `_module`),
#   * leaves out null values (TOML has no null; null means "not set"),
#   * adds `stateDir`, which the module fixes to /var/lib/nixcloud-monitoring,
#   * writes the `icinga2` table only when backend = "icinga2",
#   * leaves out empty target lists, so the file stays short.
# The agent rejects unknown keys, so anything added to a target submodule
# that is not in docs/config.md has to be listed in moduleOnlyTargetKeys.
let
  names = import ./names.nix;
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

  # Nested submodules (passive `timers`) carry `_module` too.
  stripModule = v: if builtins.isAttrs v then builtins.removeAttrs v [ "_module" ] else v;

  renderTarget =
    target: builtins.mapAttrs (_: stripModule) (dropNulls (builtins.removeAttrs target moduleOnlyTargetKeys));

  nonEmpty = filterAttrs (_: v: v != [ ] && v != { });

  renderTargets =
    targets:
    let
      active = nonEmpty (
        builtins.listToAttrs (
          map (kind: {
            name = kind;
            value = map renderTarget (targets.active.${kind} or [ ]);
          }) names.activeKinds
        )
      );
      passive = map renderTarget (targets.passive or [ ]);
    in
    nonEmpty { inherit active passive; };
in
{
  inherit moduleOnlyTopKeys moduleOnlyTargetKeys;

  renderConfig =
    cfg:
    nonEmpty (dropNulls {
      inherit (cfg)
        backend
        apiHost
        public
        apiKey
        apiKeyFile
        ;
      stateDir = names.stateDir;
      queue = {
        inherit (cfg.queue) maxCount maxBytes;
      };
      delivery = {
        inherit (cfg.delivery) attempts timeout concurrency;
      };
      icinga2 =
        if cfg.backend == "icinga2" then dropNulls (builtins.removeAttrs cfg.icinga2 [ "_module" ]) else null;
      targets = renderTargets (cfg.targets or { });
    });
}
