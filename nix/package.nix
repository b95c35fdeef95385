# The agent, built from this source tree.
#
#   pkgs.callPackage ./nix/package.nix { }
#
# Only Cargo.toml, Cargo.lock and src/ go into the build, so editing the
# module, docs or tests does not rebuild the agent.
{
  lib,
  rustPlatform,
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
      # in case the agent grows a build script (shell completions, say)
      (lib.fileset.maybeMissing ../build.rs)
    ];
  };

  cargoLock.lockFile = ../Cargo.lock;

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
