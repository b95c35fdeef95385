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
        description = "Minutes between two runs, with `timers.timeout`; null: half of it.";
      };
      timers.timeout = mkOption {
        type = types.nullOr types.ints.positive;
        default = null;
        example = 1560;
        description = ''
          Minutes without a run after which the server raises the alarm (a
          unit that never ran, or stopped running). null: the unit's own
          timer says when it runs (`systemd.timers.<unit>`'s `OnCalendar`,
          which `startAt` sets too), or `timers.calendar`.
        '';
      };
      timers.calendar = mkOption {
        type = types.nullOr (types.either types.str (types.listOf types.str));
        default = null;
        example = "Mon..Fri 02:00";
        description = ''
          When the unit runs, as `OnCalendar=` expressions, for a unit whose
          timer the module cannot see (null: its own timer's). The alarm
          comes after the longest gap between two runs plus `timers.grace`.
        '';
      };
      timers.grace = mkOption {
        type = types.nullOr (types.ints.between 1 527040);
        default = null;
        description = "Minutes a calendar run may be late; null: a tenth of the longest gap, at least 5.";
      };
      failureThreshold = mkOption {
        type = types.nullOr (types.ints.between 1 (import ./notify-limits.nix).maxThreshold);
        default = null;
        example = 2;
        description = ''
          Failed runs in a row before the target counts as failing; null:
          `nixcloud.monitoring.failureThreshold`.
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
              on its timer's own OnCalendar (timerConfig.OnCalendar).
            '';
          };
          borgbackupJobs = mkOption {
            type = types.bool;
            default = false;
            description = ''
              Watch every services.borgbackup.jobs.<n> job (target
              borgbackup-<n>), on its startAt calendar.
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
