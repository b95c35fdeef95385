# NixOS VM test (flake check `vm`): the module on a real system, against a
# stand-in for the nixcloud API on 127.0.0.1 that records every request.
#
#   nix build .#checks.x86_64-linux.vm
#
# Node `timers`: the timers mode with a key file, a scripted passive target,
# a hand-pushed one and a group member who cannot read the key.
# Node `daemon`: the same targets in mode = "daemon".
#
# Written on a machine without nixpkgs or KVM, so not run there: run it
# before relying on it.
{ ... }:
let
  # Answers 200 to every POST and appends "<path> <body>" to a log file.
  fakeApi =
    { pkgs, ... }:
    {
      systemd.services.fake-nixcloud-api = {
        wantedBy = [ "multi-user.target" ];
        before = [ "nixcloud.monitoring.service" ];
        serviceConfig.ExecStart = "${pkgs.python3}/bin/python3 ${pkgs.writeText "fake-api.py" ''
          import http.server

          class Handler(http.server.BaseHTTPRequestHandler):
              def do_POST(self):
                  body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                  with open("/tmp/api.log", "a") as log:
                      log.write(self.path + " " + self.headers.get("Authorization", "") + " " + body.decode() + "\n")
                  self.send_response(200)
                  self.send_header("Content-Type", "application/json")
                  self.end_headers()
                  self.wfile.write(b"{}")

          http.server.HTTPServer(("127.0.0.1", 8080), Handler).serve_forever()
        ''}";
        serviceConfig.PrivateTmp = false;
      };
    };

  monitoring = mode: {
    imports = [
      ../../module.nix
      fakeApi
    ];
    users.users.alice = {
      isNormalUser = true;
      extraGroups = [ "nixcloud-monitoring" ];
    };
    # A root-only key file, as /run/keys would hold it.
    systemd.tmpfiles.rules = [ "f+ /run/nixcloud-key 0600 root root - test-key" ];
    nixcloud.monitoring = {
      enable = true;
      inherit mode;
      apiHost = "http://127.0.0.1:8080";
      apiKeyFile = "/run/nixcloud-key";
      targets.active.check_http = [ { host = "example.org"; } ];
      targets.passive = [
        {
          host = "machine";
          name = "manual";
          timers = {
            check = 1;
            timeout = 3;
          };
        }
        {
          host = "machine";
          name = "scripted";
          script = ''
            exit=0
            status="all good"
            perfdata="x=1"
          '';
          timers = {
            check = 1;
            timeout = 3;
          };
        }
      ];
    };
  };
in
{
  name = "nixcloud-monitoring";

  nodes.timers = monitoring "timers";
  nodes.daemon = monitoring "daemon";

  testScript = ''
    start_all()

    with subtest("timers mode: units and timers exist"):
        timers.wait_for_unit("multi-user.target")
        timers.wait_for_unit("fake-nixcloud-api.service")
        out = timers.succeed("systemctl list-timers --all --no-pager")
        for unit in ["nixcloud.monitoring-register.timer",
                     "nixcloud.monitoring-flush.timer",
                     "nixcloud.monitoring-passive-result-machine-scripted.timer"]:
            assert unit in out, f"{unit} missing from list-timers:\n{out}"
        timers.succeed("systemctl is-active nixcloud.monitoring-flush.path")
        timers.succeed("test -x /run/current-system/sw/bin/nixcloud.monitoring-passive-result-machine-manual")

    with subtest("the key stays out of the config file"):
        timers.fail("grep -R test-key /etc/nixcloud-monitoring/")

    with subtest("register sends every target with the key from LoadCredential"):
        timers.succeed("systemctl start nixcloud.monitoring-register.service")
        timers.succeed("grep '^/api/services ApiKey test-key .*example.org' /tmp/api.log")
        timers.succeed("grep '^/api/services ApiKey test-key .*scripted' /tmp/api.log")

    with subtest("a scripted passive target sends its result"):
        timers.succeed("systemctl start nixcloud.monitoring-passive-result-machine-scripted.service")
        timers.succeed("grep '^/api/services/results .*all good' /tmp/api.log")

    with subtest("a group member without the key hands results over through the spool"):
        timers.succeed("su - alice -c \"nixcloud.monitoring-passive-result-machine-manual 'from alice' ''' 1\"")
        timers.wait_until_succeeds("grep '^/api/services/results .*from alice' /tmp/api.log", timeout=60)
        timers.succeed("test -z \"$(ls -A /var/lib/nixcloud-monitoring/spool)\"")

    with subtest("wrong arguments are refused by the agent"):
        timers.fail("nixcloud.monitoring-passive-result-machine-manual only-one-argument")

    with subtest("daemon mode: one notify service does the work"):
        daemon.wait_for_unit("nixcloud.monitoring.service")
        daemon.fail("systemctl list-timers --all --no-pager | grep nixcloud")
        daemon.wait_until_succeeds("grep '^/api/services/results .*all good' /tmp/api.log", timeout=180)
  '';
}
