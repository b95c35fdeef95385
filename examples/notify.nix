# A machine without a monitoring server: results stay on the machine
# (`local`), and changes are told by mail and to a phone (`notify`). README's
# quick start; the system test deploys the same options.
{ config, ... }:
{
  imports = [ ../module.nix ];

  nixcloud.monitoring = {
    enable = true;
    backends = [
      "local"
      "notify"
    ];
    notify.channels = {
      # programs.msmtp gives /run/wrappers/bin/sendmail and /etc/msmtprc.
      mail = {
        type = "sendmail";
        to = [ "admin@example.org" ];
      };
      phone = {
        type = "ntfy";
        topic = "web1-alerts";
        tokenFile = "/run/keys/ntfy-token";
      };
    };
    # The nightly backup, reported when each run ends (OnSuccess=/OnFailure=).
    watch.backup = {
      unit = "restic-backups-daily.service";
      timers.timeout = 26 * 60;
    };
    # A watched unit's own options hold no notify settings: set them by id.
    notify.targets."${config.networking.hostName}-backup".repeat = 24 * 60;
    targets.passive = [
      {
        host = config.networking.hostName;
        name = "disk";
        timers = {
          check = 10;
          timeout = 30;
        };
        # Two bad readings in a row before anyone is told.
        failureThreshold = 2;
        script = ''
          used=$(df --output=pcent / | tail -1 | tr -dc 0-9)
          perfdata="used=$used%;80;90"
          if [ "$used" -ge 90 ]; then exit=2; status="/ is $used% full"
          elif [ "$used" -ge 80 ]; then exit=1; status="/ is $used% full"
          else exit=0; status="/ is $used% full"; fi
        '';
      }
    ];
  };
  programs.msmtp = {
    enable = true;
    accounts.default = {
      host = "mail.example.org";
      from = "web1@example.org";
    };
  };
}
