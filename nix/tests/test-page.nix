# The page backend in the config file and what nix/page.nix computes: the
# page's directory (tmpfiles, the units' write access), the nginx location and
# its assertions. tests/system runs the same directory under a real systemd.
let
  lib = import ../lib.nix;
  inherit (lib) renderConfig page;
  f = import ./fixtures.nix;

  withPage = extra: f.seed // { backends = [ "nixcloud" "page" ]; } // extra;
  pageCfg = withPage { };
  units =
    cfg:
    lib.units {
      inherit cfg;
      exe = "/agent/bin/nixcloud-monitoring";
      configFile = "/nix/store/cfg-nixcloud-monitoring.toml";
      writablePaths = page.writablePaths cfg;
    };
  ifDef = content: {
    _type = "if";
    condition = true;
    inherit content;
  };
in
[
  {
    name = "config file: [page] only with the backend, the module's directory by default";
    expr = map (c: (renderConfig c).page or null) [
      pageCfg
      (withPage { page.showOutput = [ "mail.lastlog.de-sometest" ]; })
      (withPage { page = { dir = "/srv/status"; showOutput = false; }; })
      (f.seed // { page.showOutput = false; })
    ];
    expected = [
      { dir = "/var/lib/nixcloud-monitoring-page"; showOutput = true; }
      { dir = "/var/lib/nixcloud-monitoring-page"; showOutput = [ "mail.lastlog.de-sometest" ]; }
      { dir = "/srv/status"; showOutput = false; }
      null
    ];
  }
  {
    name = "config file: group and nginx settings never reach it";
    expr = renderConfig (withPage {
      page = {
        dir = null;
        showOutput = true;
        group = "nginx";
        nginx = { virtualHost = "status.example.org"; location = "/status/"; basicAuthFile = null; };
      };
    });
    expected = (renderConfig pageCfg);
  }
  {
    name = "the directory: the agent's, with the web server's group, 2750";
    expr = page.tmpfilesRules (page.dirOf pageCfg) "nginx";
    expected = [ "d /var/lib/nixcloud-monitoring-page 2750 nixcloud-monitoring nginx - -" ];
  }
  {
    name = "writable paths: the page's directory unless it is in the state directory";
    expr = map page.writablePaths [
      pageCfg
      (withPage { page.dir = "/srv/status"; })
      (withPage { page.dir = "/var/lib/nixcloud-monitoring/page/site"; })
      f.seed
    ];
    expected = [
      [ "/var/lib/nixcloud-monitoring-page" ]
      [ "/srv/status" ]
      [ ]
      [ ]
    ];
  }
  {
    name = "every unit may write the page's directory (timers and daemon mode)";
    expr =
      let
        scripted = f.scripted // { backends = [ "page" ]; };
        rw = u: builtins.attrValues (builtins.mapAttrs (_: s: s.serviceConfig.ReadWritePaths or null) u.services);
      in
      [
        (builtins.all (p: p == [ "/var/lib/nixcloud-monitoring-page" ]) (rw (units scripted)))
        (rw (units (scripted // { mode = "daemon"; })))
      ];
    expected = [
      true
      [ [ "/var/lib/nixcloud-monitoring-page" ] ]
    ];
  }
  {
    name = "nginx location: the directory as files, never cached, basic auth when given";
    expr = [
      (page.nginxLocation "/var/lib/nixcloud-monitoring-page" null)
      (page.nginxLocation "/srv/status" "/run/keys/htpasswd").basicAuthFile
    ];
    expected = [
      {
        alias = "/var/lib/nixcloud-monitoring-page/";
        index = "index.html";
        extraConfig = "expires epoch;\n";
      }
      "/run/keys/htpasswd"
    ];
  }
  {
    name = "nginx: the virtual host must be declared by the admin too, nginx on";
    expr =
      let
        failed =
          args: map (a: a.message) (builtins.filter (a: !a.assertion) (page.nginxAssertions args));
        ours = { value = ifDef { "status.example.org".locations."/status/" = { }; }; };
        theirs = { value = { "status.example.org".root = "/srv/www"; }; };
        wrapped = { value = ifDef { "status.example.org".forceSSL = true; }; };
      in
      [
        (failed { virtualHost = null; declared = [ ]; nginxEnabled = false; })
        (failed {
          virtualHost = "status.example.org";
          declared = page.declaredHosts [ ours theirs ];
          nginxEnabled = true;
        })
        (failed {
          virtualHost = "status.example.org";
          declared = page.declaredHosts [ wrapped ours ];
          nginxEnabled = true;
        })
        (failed {
          virtualHost = "status.example.org";
          declared = page.declaredHosts [ ours ];
          nginxEnabled = false;
        })
      ];
    expected = [
      [ ]
      [ ]
      [ ]
      [
        "nixcloud.monitoring.page.nginx.virtualHost = \"status.example.org\": services.nginx.virtualHosts has no such virtual host; the page is added to a virtual host you declare (declare it, or fix the name)."
        "nixcloud.monitoring.page.nginx.virtualHost is set, but services.nginx.enable is not."
      ]
    ];
  }
]
