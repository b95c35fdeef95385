# Flake interface. The module also works without flakes:
#   imports = [ ./nixcloud-monitoring/module.nix ];
{
  description = "nixcloud-monitoring: declarative monitoring agent and NixOS module (nixcloud.monitoring)";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # pkgs.nixcloud-monitoring; module.nix uses it as the default package
      # when the overlay is applied.
      overlays.default = final: _prev: {
        nixcloud-monitoring = final.callPackage ./nix/package.nix { };
      };

      packages = forAllSystems (pkgs: rec {
        nixcloud-monitoring = pkgs.callPackage ./nix/package.nix { };
        default = nixcloud-monitoring;
      });

      # The module builds the agent with the system's own nixpkgs (same
      # toolchain as everything else on the machine) unless
      # nixcloud.monitoring.package is set.
      nixosModules.default = ./module.nix;
      nixosModules.nixcloud-monitoring = ./module.nix;

      checks = forAllSystems (
        pkgs:
        let
          inherit (pkgs.stdenv.hostPlatform) system;

          # The seed README's example on a minimal NixOS, evaluated with the
          # real NixOS modules. Forcing the toplevel's drvPath runs every
          # assertion; nothing is built.
          example = nixpkgs.lib.nixosSystem {
            inherit system;
            modules = [
              ./examples/configuration.nix
              {
                boot.loader.grub.enable = false;
                fileSystems."/" = {
                  device = "none";
                  fsType = "tmpfs";
                };
                system.stateVersion = "25.05";
              }
            ];
          };
          units = builtins.attrNames example.config.systemd.units;
        in
        {
          package = self.packages.${system}.default;

          # nix/tests/run.sh (parse + helper tests) and eval-module.sh with
          # the lib of this flake's nixpkgs.
          nix-tests =
            pkgs.runCommand "nixcloud-monitoring-nix-tests"
              {
                nativeBuildInputs = [
                  pkgs.nix
                  pkgs.gawk
                ];
              }
              ''
                cp -r ${self} src
                chmod -R u+w src
                cd src
                bash nix/tests/run.sh
                bash nix/tests/eval-module.sh ${nixpkgs}/lib
                touch $out
              '';

          example-evaluates = pkgs.writeText "nixcloud-monitoring-example-units" (
            builtins.seq example.config.system.build.toplevel.drvPath (
              builtins.concatStringsSep "\n" (builtins.filter (nixpkgs.lib.hasPrefix "nixcloud") units)
            )
          );

          vm = pkgs.testers.runNixOSTest ./nix/tests/vm.nix;
        }
      );
    };
}
