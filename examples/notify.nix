# README's quick start, as NixOS evaluates it (nix/tests/eval-module.nix "notify"; tests/it
# checks that README shows exactly this): a machine without a monitoring server whose results
# stay on it (`local`) and whose changes are mailed (`notify`).
{ config, ... }:
{
  imports = [ ../module.nix ];

  nixcloud.monitoring = {
    enable = true;
    backends = [ "local" "notify" ];
    notify.channels.mail = {
      type = "sendmail";                 # msmtp's /run/wrappers/bin/sendmail, below
      to = [ "admin@example.org" ];
    };
    # Every run of the backup is reported when it ends; no run for 26 h is an alarm too.
    watch.backup = {
      unit = "restic-backups-daily.service";
      timers.timeout = 26 * 60;
    };
    targets.passive = [
      {
        host = config.networking.hostName;
        name = "disk";
        timers = { check = 10; timeout = 30; };
        failureThreshold = 2;            # two bad readings in a row before anyone is told
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
    accounts.default = { host = "mail.example.org"; from = "web1@example.org"; };
  };
}
