# The web server's side of the page backend: pure helpers (builtins only,
# tested without nixpkgs by nix/tests/test-page.nix) and `module`, the NixOS
# module module.nix imports.
#
# The agent writes the page (index.html, status.json, badges/, targets/) into
# one directory, every file replaced atomically with mode 0644. The module
# makes that directory /var/lib/nixcloud-monitoring-page (unless page.dir says
# otherwise), owned by the agent's user with the group `page.group` (the web
# server's), mode 2750: the agent writes, the web server's group reads, others
# see nothing; setgid keeps new files in that group. The agent's units write
# it through ReadWritePaths= (they run under ProtectSystem=strict). Nothing is
# served unless asked: `page.nginx.virtualHost` adds a location to a virtual
# host the admin declares, optionally behind basic auth.
let
  names = import ./names.nix;
  inherit (import ./render.nix) uses;
  inherit (builtins) substring stringLength;
  hasPrefix = p: s: substring 0 (stringLength p) s == p;
in
rec {
  # The page's directory when the backend is used (render.nix writes it into
  # the config file), else null.
  dirOf =
    cfg:
    if !(uses cfg "page") then
      null
    else if (cfg.page.dir or null) != null then
      cfg.page.dir
    else
      names.pageDir;

  tmpfilesRules = dir: group: [ "d ${dir} 2750 ${names.user} ${group} - -" ];

  # What the units must write besides the state directory (units.nix
  # `writablePaths`). The module creates the directory, so no "-" prefix.
  writablePaths =
    cfg:
    let
      dir = dirOf cfg;
    in
    if dir == null || hasPrefix "${names.stateDir}/" dir then [ ] else [ dir ];

  # The nginx location serving the directory: as files (alias), never cached
  # by browsers (the page changes with every result), behind basic auth when
  # a file is given.
  nginxLocation = dir: basicAuthFile: {
    alias = "${dir}/";
    index = "index.html";
    extraConfig = ''
      expires epoch;
    '';
  }
  // (if basicAuthFile == null then { } else { inherit basicAuthFile; });

  # The virtual host names a list of NixOS option definitions
  # (options.services.nginx.virtualHosts.definitionsWithLocations) declares,
  # looking through mkIf/mkMerge/mkOverride/mkOrder.
  declaredHosts =
    defs:
    let
      namesIn =
        v:
        let
          type = v._type or null;
        in
        if type == "if" || type == "override" || type == "order" then
          namesIn v.content
        else if type == "merge" then
          builtins.concatMap namesIn v.contents
        else if builtins.isAttrs v then
          builtins.attrNames v
        else
          [ ];
    in
    builtins.concatMap (d: namesIn d.value) defs;

  # Assertions of the nginx wiring: the virtual host must be declared by the
  # admin too (this module's own definition is one of `declared`, so a
  # misspelt name would otherwise make a new, empty virtual host), and nginx
  # must be on.
  nginxAssertions =
    {
      virtualHost,
      declared,
      nginxEnabled,
    }:
    if virtualHost == null then
      [ ]
    else
      [
        {
          assertion = builtins.length (builtins.filter (n: n == virtualHost) declared) >= 2;
          message = "nixcloud.monitoring.page.nginx.virtualHost = \"${virtualHost}\": services.nginx.virtualHosts has no such virtual host; the page is added to a virtual host you declare (declare it, or fix the name).";
        }
        {
          assertion = nginxEnabled;
          message = "nixcloud.monitoring.page.nginx.virtualHost is set, but services.nginx.enable is not.";
        }
      ];

  # ---- NixOS ----------------------------------------------------------------

  # Reads only the declared options (not module.nix's cfg with the automatic
  # targets, which reads nginx's virtual hosts: this module adds to them).
  module =
    {
      config,
      options,
      lib,
      ...
    }:
    let
      inherit (lib) mkOption types literalExpression;
      mon = config.nixcloud.monitoring;
      page = mon.page;
      secretPath = import ./secret-path.nix { inherit lib; };
      used = mon.enable && uses mon "page";
      dir = dirOf mon;
      vhost = page.nginx.virtualHost;
      nginx = config.services.nginx;
    in
    {
      options.nixcloud.monitoring.page = {
        group = mkOption {
          type = types.str;
          default = if page.nginx.virtualHost != null then nginx.group else names.group;
          defaultText = literalExpression ''if page.nginx.virtualHost != null then config.services.nginx.group else "${names.group}"'';
          example = "caddy";
          description = ''
            The group that may read the page's directory: the web server's.
            Nobody else may (mode 2750, owned by the agent's user).
          '';
        };
        nginx = {
          virtualHost = mkOption {
            type = types.nullOr types.str;
            default = null;
            example = "status.example.org";
            description = ''
              A virtual host you declare in services.nginx.virtualHosts that
              gets a location serving the page. `null`: nothing is served.
            '';
          };
          location = mkOption {
            type = types.strMatching "/(.*/)?";
            default = "/status/";
            description = "Where on that virtual host the page is (a path ending in /).";
          };
          basicAuthFile = mkOption {
            type = types.nullOr secretPath;
            default = null;
            example = "/run/keys/status-htpasswd";
            description = ''
              An htpasswd file nginx reads (it must be readable by nginx's
              user); the page then asks for a login. Given as a string,
              never copied to the Nix store.
            '';
          };
        };
      };

      config = lib.mkIf used {
        systemd.tmpfiles.rules = tmpfilesRules dir page.group;
        assertions = nginxAssertions {
          virtualHost = vhost;
          declared = declaredHosts options.services.nginx.virtualHosts.definitionsWithLocations;
          nginxEnabled = nginx.enable;
        };
        # (optionalAttrs: a null name must not become an attribute name.)
        services.nginx.virtualHosts = lib.optionalAttrs (vhost != null) {
          ${vhost}.locations.${page.nginx.location} = nginxLocation dir page.nginx.basicAuthFile;
        };
      };
    };
}
