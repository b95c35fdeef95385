# Options of watched units and the failed-units check (nix/watch.nix turns
# them into passive targets and units; README "Watched units").
{ lib, ... }:
let
  inherit (lib) mkOption types;

  watchOptions = {
    options = {
      unit = mkOption {
        type = types.strMatching ".+[.]service";
        example = "restic-backups-daily.service";
        description = ''
          The service whose every run is reported: OK when it succeeds,
          CRITICAL when it fails, with its result, exit status, run time and the
          last lines of that run's log.
        '';
      };
      host = mkOption {
        type = types.nullOr types.str;
        default = null;
        description = "Host of the passive target <host>-<name>; null: networking.hostName.";
      };
      timers.check = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        description = "Minutes between two runs; null: half of timers.timeout.";
      };
      timers.timeout = mkOption {
        type = types.ints.positive;
        example = 1560;
        description = ''
          Minutes without a run after which the server raises the alarm (a
          unit that never ran, or stopped running).
        '';
      };
    };
  };
in
{
  options.nixcloud.monitoring = {
    watch = mkOption {
      default = { };
      example = lib.literalExpression ''
        {
          backup = { unit = "restic-backups-daily.service"; timers.timeout = 26 * 60; };
          borgbackupJobs = true;
        }
      '';
      description = ''
        Units whose every run becomes a result of the passive target
        `<host>-<name>`, pushed when the unit finishes (OnSuccess=/OnFailure=).
      '';
      type = types.submodule {
        freeformType = types.attrsOf (types.submodule watchOptions);
        options = {
          resticBackups = mkOption {
            type = types.bool;
            default = false;
            description = ''
              Watch every services.restic.backups.<n> job (target restic-<n>),
              with a timeout of 1.5 times the period of its timer.
            '';
          };
          borgbackupJobs = mkOption {
            type = types.bool;
            default = false;
            description = ''
              Watch every services.borgbackup.jobs.<n> job (target
              borgbackup-<n>), with a timeout of 1.5 times the period of its
              startAt.
            '';
          };
        };
      };
    };

    hostChecks.failedUnits = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          A passive target <hostName>-systemd that reports every `interval`
          minutes: OK when no unit has failed, CRITICAL naming the failed units
          with their last log lines.
        '';
      };
      interval = mkOption {
        type = types.ints.positive;
        default = 5;
        description = "Minutes between two reports (the alarm comes after three missed ones).";
      };
    };
  };
}
