# Automatic targets: what the services a machine declares bring along
# (`nixcloud.monitoring.auto`). Pure, builtins only, like the other helpers:
# module.nix hands in plain attrsets copied from the NixOS options
# (services.nginx, services.openssh, services.postfix) and gets complete
# active targets back, so nix/tests/test-auto.nix checks the rules without
# nixpkgs.
#
#   services.nginx.virtualHosts.<name>   check_http on 80 for every public name
#                                        (serverName or the attribute name, and
#                                        serverAliases) unless onlySSL;
#                                        check_ssl_cert on 443 for TLS hosts
#   services.openssh                     check_ssh on every port of `ports`
#   services.postfix                     check_smtp on 25 (enableSmtp),
#                                        starttls when the server offers TLS
#
# Every automatic target carries `origin` ("auto: services.…"), which goes
# into the config file; the agent shows it and never sends it. An explicit
# target (from `targets`) with the same id `<host>-<name>` wins: the
# automatic one is dropped, silently.
let
  inherit (builtins)
    any
    attrNames
    concatLists
    concatMap
    elem
    filter
    foldl'
    genList
    match
    stringLength
    substring
    ;

  escape = import ./escape.nix;

  # The defaults of nix/targets.nix, written out (no nixpkgs here); the
  # eval-module test (nix/tests/eval-suite.nix) checks that automatic targets
  # render exactly like explicit ones with the same settings.
  common = public: {
    host = "";
    tags = [ ];
    inherit public;
    apiKey = null;
    apiKeyFile = null;
    ipv4 = true;
    ipv6 = true;
    failureThreshold = null;
  };
  kindDefaults = {
    check_http = {
      name = "HTTP";
      port = 80;
      url = "";
      contains = "";
    };
    check_ssl_cert = {
      name = "SSL";
      port = 443;
      warningDays = 1000;
      timeout = 15;
    };
    check_smtp = {
      name = "SMTP";
      port = 25;
      certificate = 1000;
      starttls = false;
      timeout = 10;
    };
    check_ssh = {
      name = "SSH";
      port = 22;
      remoteVersion = "";
      timeout = 10;
    };
  };

  target =
    public: kind: attrs:
    common public // kindDefaults.${kind} // attrs // { inherit kind; };

  # NixOS's ACME renews a certificate 30 days before it expires
  # (security.acme.defaults.validMinDays = 30). Warning at 21 days leaves the
  # renewal nine days of daily retries before anyone is alarmed, and still
  # three weeks to fix it by hand when it keeps failing.
  defaultWarningDays = 21;

  chars = s: genList (i: substring i 1 s) (stringLength s);
  hasSuffix =
    suffix: s:
    let
      n = stringLength s;
      k = stringLength suffix;
    in
    n >= k && substring (n - k) k s == suffix;

  isIPv4 = s: match "[0-9.]+" s != null;
  isIPv6 = s: elem ":" (chars s) || substring 0 1 s == "[";

  # Whether nginx serves `name` to the public under that very name: not a
  # catch-all (`_`, ""), not a wildcard (`*.example.org`, `.example.org`) or
  # regex (`~^www`), not an address, not a name without a dot (`localhost`,
  # a bare host name) or one that only resolves locally (`.localhost`,
  # `.local`), nothing with a variable or blank.
  isPublicName =
    name:
    name != ""
    && name != "_"
    && elem "." (chars name)
    && substring 0 1 name != "~"
    && substring 0 1 name != "."
    && !(any (c: elem c [ "*" "$" " " "\t" "/" ]) (chars name))
    && !(isIPv4 name)
    && !(isIPv6 name)
    && !(hasSuffix ".localhost" name)
    && !(hasSuffix ".local" name);

  # The names of one virtual host, in order, without repeats.
  vhostNames =
    attrName: vhost:
    let
      primary = if (vhost.serverName or null) != null then vhost.serverName else attrName;
    in
    unique (filter isPublicName ([ primary ] ++ (vhost.serverAliases or [ ])));

  unique = foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];

  isTls =
    vhost:
    (vhost.forceSSL or false)
    || (vhost.onlySSL or false)
    || (vhost.addSSL or false)
    || (vhost.enableACME or false)
    || (vhost.useACMEHost or null) != null;

  nginxTargets =
    {
      public,
      warningDays,
      nginx,
    }:
    concatMap (
      attrName:
      let
        vhost = nginx.virtualHosts.${attrName};
        origin = "auto: services.nginx.virtualHosts.${attrName}";
      in
      if !(vhost.monitoring or true) then
        [ ]
      else
        concatMap (
          name:
          # onlySSL: nginx does not listen on 80, and check_http has no TLS
          # switch, so such a host only gets the certificate check.
          (
            if vhost.onlySSL or false then
              [ ]
            else
              [
                (target public "check_http" {
                  host = name;
                  inherit origin;
                })
              ]
          )
          ++ (
            if isTls vhost then
              [
                (target public "check_ssl_cert" {
                  host = name;
                  inherit warningDays origin;
                })
              ]
            else
              [ ]
          )
        ) (vhostNames attrName vhost)
    ) (attrNames (nginx.virtualHosts or { }));

  # One check_ssh per port; the first on 22 is named "SSH", any other port
  # "SSH-<port>", so several ports do not share an id.
  opensshTargets =
    {
      public,
      host,
      openssh,
    }:
    map (
      port:
      target public "check_ssh" {
        inherit host port;
        name = if port == 22 then "SSH" else "SSH-${toString port}";
        origin = "auto: services.openssh.ports";
      }
    ) (unique (openssh.ports or [ 22 ]));

  # TLS on port 25: main.cf's smtpd_tls_security_level when it is set
  # ("may"/"encrypt": the server offers STARTTLS; "none": it does not);
  # otherwise whether a server certificate is configured, the NixOS 25.11
  # way (settings.main.smtpd_tls_chain_files) or the 24.11/25.05 way
  # (services.postfix.sslCert, which also sets the level to "may").
  postfixTls =
    postfix:
    let
      main = postfix.main or { };
      level = main.smtpd_tls_security_level or null;
    in
    if level != null then
      level != "none" && level != ""
    else
      (main.smtpd_tls_chain_files or [ ]) != [ ] || (postfix.sslCert or "") != "";

  postfixTargets =
    {
      public,
      host,
      postfix,
    }:
    if postfix.enableSmtp or true then
      [
        (target public "check_smtp" {
          inherit host;
          starttls = postfixTls postfix;
          origin = "auto: services.postfix";
        })
      ]
    else
      [ ];

  dropKind = t: removeAttrs t [ "kind" ];
in
rec {
  inherit
    isPublicName
    vhostNames
    isTls
    postfixTls
    defaultWarningDays
    kindDefaults
    ;

  # The automatic targets, each with its `kind`, before explicit ones are
  # taken into account.
  #   auto     { enable; host; failureThreshold; nginx.enable;
  #              nginx.warningDays; openssh.enable; postfix.enable }
  #            (config.nixcloud.monitoring.auto)
  #   public   config.nixcloud.monitoring.public
  #   nginx    { enable; virtualHosts.<name> = { serverName; serverAliases;
  #              forceSSL; onlySSL; addSSL; enableACME; useACMEHost; monitoring; }; }
  #   openssh  { enable; ports; }
  #   postfix  { enable; enableSmtp; main (main.cf settings); sslCert (before 25.11) }
  # A service is only read when its switch is on and it is enabled.
  candidates =
    {
      auto,
      public ? true,
      nginx ? { },
      openssh ? { },
      postfix ? { },
    }:
    let
      on = service: auto.enable && (auto.${service}.enable or true);
      enabled = s: s.enable or false;
      # auto.failureThreshold on every automatic target (null: the top-level one).
      threshold = t: t // { failureThreshold = auto.failureThreshold or null; };
    in
    map threshold (concatLists [
      (
        if on "nginx" && enabled nginx then
          nginxTargets {
            inherit public nginx;
            warningDays = auto.nginx.warningDays or defaultWarningDays;
          }
        else
          [ ]
      )
      (
        if on "openssh" && enabled openssh then
          opensshTargets {
            inherit public openssh;
            inherit (auto) host;
          }
        else
          [ ]
      )
      (
        if on "postfix" && enabled postfix then
          postfixTargets {
            inherit public postfix;
            inherit (auto) host;
          }
        else
          [ ]
      )
    ]);

  # `targets` (config.nixcloud.monitoring.targets) with the automatic targets
  # added to targets.active.<kind>, after the explicit ones. An automatic
  # target whose id an explicit target (active or passive) already has is
  # left out, and so is a second automatic target with an id already taken
  # (two virtual hosts naming the same alias): the first wins.
  withAuto =
    targets: args:
    let
      active = targets.active or { };
      explicitIds = builtins.listToAttrs (
        map (t: {
          name = escape.targetId t;
          value = true;
        }) (concatLists (builtins.attrValues active) ++ (targets.passive or [ ]))
      );
      kept =
        (foldl' (
          acc: t:
          let
            id = escape.targetId t;
          in
          if acc.ids ? ${id} then
            acc
          else
            {
              ids = acc.ids // {
                ${id} = true;
              };
              list = acc.list ++ [ t ];
            }
        ) {
          ids = explicitIds;
          list = [ ];
        } (candidates args)).list;
      ofKind = kind: map dropKind (filter (t: t.kind == kind) kept);
      added = builtins.listToAttrs (
        map (kind: {
          name = kind;
          value = (active.${kind} or [ ]) ++ ofKind kind;
        }) (filter (kind: any (t: t.kind == kind) kept) (attrNames kindDefaults))
      );
    in
    if kept == [ ] then
      targets
    else
      targets
      // {
        active = active // added;
      };

  # `cfg` (config.nixcloud.monitoring) with its targets extended by withAuto.
  apply = cfg: args: cfg // { targets = withAuto (cfg.targets or { }) (args // { inherit (cfg) public; }); };
}
