# The example of the 2018 nixcloud.monitoring README, unchanged, ready to
# import from /etc/nixos/configuration.nix:
#
#   imports = [ ./nixcloud-monitoring/examples/configuration.nix ];
#
# It sets `apiKey`, so evaluation warns that the key lands in the
# world-readable Nix store; see README.md ("The API key") for `apiKeyFile`.
{ ... }:
{
  imports = [ ../module.nix ];

  nixcloud.monitoring = {
    enable = true;
    apiKey = "4d3c5jdl-3kv6-6c92-43c2-bddcd6949e41";
    targets = {
      active = {
        check_ssl_cert = [
          { host = "example.org"; }
          { host = "nixcloud.io"; }
          { host = "fractalide.com"; }
        ];
        check_http = [
          {
            host = "nixcloud.io";
            url = "/main/en";
            contains = "individual";
          }
          {
            host = "kotalla.de";
            contains = "Aktuelles";
          }
        ];
      };
      passive = [
        {
          host = "mail.lastlog.de";
          name = "sometest";
          timers = {
            check = 600;
            timeout = 660;
          };
        }
      ];
    };
  };
}
