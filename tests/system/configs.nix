# The configs the system test deploys, as NixOS would evaluate them (the
# defaults spelled out by nix/tests/fixtures.nix). `pkg` names a fake store
# path (render.nix); `docScripts` is what doc_scripts.py found in README,
# docs/ and examples/.
#
#   v1      timers mode: an active target, a target pushed by hand, a script
#           whose command is missing, one to be removed, every doc script
#   v2      v1 after a switch: `sys-removed` gone, `sys-added` new
#   daemon  v2 in daemon mode
#   daemon2 daemon after a switch that adds `sys-added2`
#   prom    v2 with the prometheus backend beside nixcloud, its textfile in the
#           node exporter's directory (as the module sets it with the exporter on)
#   notify  v2 with the notify destination beside nixcloud: mail through msmtp's
#           sendmail and over SMTP to 127.0.0.1 (smtpPort: a real SMTP server on
#           the host), watched units that fail and recover, a target pushed by
#           hand that stops reporting
#   page    v2 with the page backend beside nixcloud, in the module's directory
{
  apiHost,
  docScripts,
  pkg,
  smtpPort ? 0,
}:
let
  f = import ../../nix/tests/fixtures.nix;
  docs = builtins.fromJSON (builtins.readFile docScripts);

  passive =
    name: attrs:
    f.passive (
      {
        host = "sys";
        inherit name;
        timers = {
          check = 60;
          timeout = 180;
        };
      }
      // attrs
    );

  docTargets = builtins.genList (
    i:
    let
      d = builtins.elemAt docs i;
    in
    passive "doc${toString (i + 1)}" {
      inherit (d) script serviceConfig;
      path = map pkg d.path;
    }
  ) (builtins.length docs);

  common = f.base // {
    inherit apiHost;
    apiKeyFile = "/run/keys/nixcloud-monitoring";
  };

  # Watched units: one that succeeds, one that fails, one that never runs; the
  # failed-units check sees the one that failed. (The units themselves are in
  # `services` below.)
  watching = {
    watch = {
      resticBackups = false;
      borgbackupJobs = false;
    }
    // builtins.mapAttrs (name: unit: {
      inherit unit;
      host = null;
      timers = {
        check = null;
        timeout = 60;
      };
    }) {
      job-ok = "sys-job-ok.service";
      job-bad = "sys-job-bad.service";
      job-never = "sys-job-never.service";
    };
    hostChecks.failedUnits = {
      enable = true;
      interval = 5;
    };
  };

  v1 = common // watching // {
    targets = {
      active = f.noTargets // {
        check_http = [ (f.http { host = "example.org"; contains = "Example"; }) ];
      };
      passive = [
        (passive "manual" { })
        (passive "missing" {
          script = ''
            used=$(no-such-tool --percent /)
            exit=0; status="used: $used"
          '';
        })
        (passive "removed" { })
        # timers.calendar: a run every minute, and one at midnight UTC that only a run
        # caught up at boot (Persistent=true) brings during the test.
        (passive "cal" {
          script = "exit=0; status='on time'";
          timers.calendar = "minutely";
        })
        (passive "catchup" {
          script = "exit=0; status='caught up'";
          timers.calendar = "*-*-* 00:00:00 UTC";
        })
      ]
      ++ docTargets;
    };
  };

  v2 = v1 // {
    targets = v1.targets // {
      passive = builtins.filter (t: t.name != "removed") v1.targets.passive ++ [ (passive "added" { }) ];
    };
  };
  daemon = v2 // {
    mode = "daemon";
  };
in
rec {
  inherit v1 v2 daemon;
  # The admin's own units (systemd.services) that are watched.
  services = {
    sys-job-ok = {
      description = "a backup that works";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "/bin/sh -c 'echo backed up 42 files'";
      };
    };
    sys-job-bad = {
      description = "a backup that fails";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "/bin/sh -c 'echo fatal: repository is locked >&2; exit 3'";
      };
    };
    sys-job-never = {
      description = "a backup that never runs";
      serviceConfig = {
        Type = "oneshot";
        ExecStart = "/bin/true";
      };
    };
  }
  # Jobs that fail until their flag file exists (the notify cases).
  // builtins.listToAttrs (
    map (name: {
      name = "sys-job-${name}";
      value = {
        description = "a job that fails while /run/${name}-broken exists";
        serviceConfig = {
          Type = "oneshot";
          ExecStart = "/bin/sh -c 'if [ -e /run/${name}-broken ]; then echo \"fatal: ${name} cannot reach its repository\" >&2; exit 3; fi; echo ${name} done'";
        };
      };
    }) [
      "flaky"
      "flaky2"
      "flaky3"
      "loop"
    ]
  );
  prom = v2 // {
    backends = [
      "nixcloud"
      "prometheus"
    ];
    prometheus.textfile = "/var/lib/nixcloud-monitoring-textfile/nixcloud-monitoring.prom";
  };
  notify =
    let
      watched = builtins.mapAttrs (name: unit: {
        inherit unit;
        host = null;
        timers = {
          check = null;
          timeout = 600;
        };
      }) {
        flaky = "sys-job-flaky.service";
        flaky2 = "sys-job-flaky2.service";
        flaky3 = "sys-job-flaky3.service";
        loop = "sys-job-loop.service";
      };
      inherit (f) channel;
    in
    v2
    // {
      backends = [
        "nixcloud"
        "notify"
      ];
      watch = v2.watch // watched;
      # Its CRITICAL about the flaky units would share the notices' windows.
      hostChecks.failedUnits = {
        enable = false;
        interval = 5;
      };
      notify = f.base.notify // {
        channels = {
          # msmtp's sendmail at /run/wrappers/bin/sendmail (programs.msmtp).
          mail = channel {
            type = "sendmail";
            command = "/run/wrappers/bin/sendmail";
            to = [ "sendmail-channel@example.org" ];
          };
          # A relay on this machine: plain SMTP to 127.0.0.1, no privilege needed.
          relay = channel {
            type = "smtp";
            host = "127.0.0.1";
            port = smtpPort;
            tls = "none";
            to = [ "smtp-channel@example.org" ];
            from = "monitor@nixcloud-test.example.org";
          };
        };
        targets = { };
      };
      targets = v2.targets // {
        passive = v2.targets.passive ++ [
          (passive "silent" {
            timers = {
              check = 1;
              timeout = 2;
            };
          })
        ];
      };
    };
  notify-daemon = notify // {
    mode = "daemon";
  };
  page = v2 // {
    backends = [
      "nixcloud"
      "page"
    ];
  };
  # daemon after a switch that adds a target
  daemon2 = daemon // {
    targets = daemon.targets // {
      passive = daemon.targets.passive ++ [ (passive "added2" { }) ];
    };
  };
}
