# The agent, built from this source tree.
#
#   pkgs.callPackage ./nix/package.nix { }
#
# Only Cargo.toml, Cargo.lock and src/ go into the build, so editing the
# module, docs or tests does not rebuild the agent.
{
  lib,
  rustPlatform,
  # callPackage passes nixpkgs' own; the default only serves
  # nix/tests/eval-suite.nix, which imports this file without it.
  installShellFiles ? null,
}:
let
  cargoToml = builtins.fromTOML (builtins.readFile ../Cargo.toml);
in
rustPlatform.buildRustPackage {
  pname = cargoToml.package.name;
  inherit (cargoToml.package) version;

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      # man pages and shell completions from the clap definitions in src/cli.rs
      ../build.rs
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

  nativeBuildInputs = lib.optional (installShellFiles != null) installShellFiles;

  # build.rs writes the man pages and completions there (no .git here, so
  # `--version` prints the bare version).
  preBuild = ''
    export NIXCLOUD_MONITORING_ASSETS_DIR="$PWD/assets"
  '';

  postInstall = ''
    installManPage assets/man/*.1
    installShellCompletion --cmd nixcloud-monitoring \
      --bash assets/nixcloud-monitoring.bash \
      --zsh assets/_nixcloud-monitoring \
      --fish assets/nixcloud-monitoring.fish
  '';

  # The integration tests start the agent against a server on 127.0.0.1 and
  # run passive scripts with bash; `cargo test` runs in CI (.ci/), where both
  # are at hand, not in the Nix build sandbox.
  doCheck = false;

  meta = {
    description = cargoToml.package.description;
    homepage = cargoToml.package.repository;
    license = lib.licenses.mit;
    mainProgram = "nixcloud-monitoring";
    platforms = lib.platforms.linux;
  };
}
