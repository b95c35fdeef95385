# Entry point to the pure helpers (builtins only, no nixpkgs), for module.nix
# and the tests in nix/tests/.
let
  escape = import ./escape.nix;
  checks = import ./checks.nix;
in
{
  names = import ./names.nix;
  hardening = import ./hardening.nix;
  inventory = import ./inventory.nix;
  # Automatic targets of nginx, openssh and postfix (nix/auto.nix).
  auto = import ./auto.nix;

  inherit (escape) targetId escapeId isPlainId;
  inherit (import ./render.nix)
    renderConfig
    moduleOnlyTopKeys
    moduleOnlyTargetKeys
    backendsOf
    uses
    ;
  inherit (checks)
    assertions
    failedAssertions
    warnings
    duplicateIds
    escapeCollisions
    ;

  # The notify destination: its table, overrides, credentials, assertions.
  notify = import ./notify.nix;

  # { cfg, exe, configFile, basePath ? [ ] } -> { services; timers; paths; commands; ... }
  units = import ./units.nix;

  # The prometheus backend's textfile wiring and what a Prometheus machine
  # reads (rules, scrape configs, blackbox modules); `module` for module.nix.
  prometheus = import ./prometheus.nix;

  # The page backend's directory and its nginx location; `module` for module.nix.
  page = import ./page.nix;
}
