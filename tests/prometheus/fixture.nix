# What tests/prometheus/run.sh hands to the real Prometheus tools: the output
# of nix/prometheus.nix for a machine "test" with two check_http targets on a
# local web server (one whose text is there, one whose text is not), a
# check_ssl_cert target with warningDays, one of every other probed kind
# (for `promtool check config` and the blackbox exporter's --config.check),
# and the tmpfiles line of the textfile directory. Pure: no nixpkgs.
#
#   nix-instantiate --eval --strict --json tests/prometheus/fixture.nix \
#     --argstr httpPort 8080 --argstr blackboxAddress 127.0.0.1:9115
{
  httpPort,
  blackboxAddress,
}:
let
  prometheus = import ../../nix/prometheus.nix;
  f = import ../../nix/tests/fixtures.nix;
  port = builtins.fromJSON httpPort;
  v4 = {
    ipv6 = false;
  };
  cfg = f.base // {
    targets = {
      passive = [ ];
      active = f.noTargets // {
        check_http = [
          (f.http (
            v4
            // {
              host = "127.0.0.1";
              inherit port;
              url = "/index.html";
              contains = "served by nixcloud-monitoring (test)";
            }
          ))
          (f.http (
            v4
            // {
              host = "127.0.0.1";
              name = "HTTP-missing";
              inherit port;
              contains = "text that is not on the page";
            }
          ))
        ];
        check_ssl_cert = [
          (f.ssl (
            v4
            // {
              host = "www.example.org";
              warningDays = 21;
            }
          ))
        ];
        # failureThreshold = 3 (tests/prometheus/rules-test.yml: the probe
        # alert at the third failed probe in a row); the other one's own 1.
        check_ping = [
          (f.ping {
            host = "gw.example.org";
            failureThreshold = 3;
          })
          (f.ping {
            host = "gw2.example.org";
            failureThreshold = 1;
          })
        ];
        check_dns = [
          (
            f.common
            // f.families
            // {
              host = "example.org";
              name = "DNS";
              server = "192.0.2.53";
              timeout = 10;
              expected-address = "192.0.2.1,192.0.2.2";
              expect-authority = "";
            }
          )
        ];
        check_ssh = [
          (
            f.common
            // f.families
            // {
              host = "git.example.org";
              name = "SSH";
              port = 22;
              remoteVersion = "OpenSSH_9.6";
              timeout = 10;
            }
          )
        ];
        check_smtp = [
          (
            f.common
            // f.families
            // {
              host = "mail.example.org";
              name = "SMTP";
              port = 25;
              certificate = 14;
              starttls = true;
              timeout = 10;
            }
          )
        ];
      };
    };
  };
in
{
  scrapeConfigs = prometheus.scrapeConfigs {
    inherit cfg blackboxAddress;
    hostName = "test";
  };
  blackboxModules = prometheus.blackboxModules cfg;
  rules = prometheus.rules {
    inherit cfg;
    hostName = "test";
  };
  tmpfilesRules = prometheus.tmpfilesRules "node-exporter";
  inherit (prometheus) textfileName;
}
