# The `notify` destination in the module, as plain data (builtins only): the
# [notify] table, the per-target overrides of `notify.targets`, the channels'
# credentials and the assertions. module.nix, render.nix and units.nix use it;
# nix/tests/test-notify.nix checks it without nixpkgs.
let
  util = import ./util.nix;
  escape = import ./escape.nix;
  inherit (util) dropNulls filterAttrs concatMap optional;
  inherit (builtins)
    attrNames
    attrValues
    concatStringsSep
    elem
    filter
    mapAttrs
    match
    ;

  strip = v: removeAttrs v [ "_module" ];
  backendsOf = cfg: cfg.backends or [ cfg.backend ];
  channelsOf = cfg: (cfg.notify or { }).channels or { };
in
rec {
  uses = cfg: elem "notify" (backendsOf cfg);

  # [notify] as the agent reads it; null (left out) unless notify is a backend.
  # A channel's empty `to` and unset keys are left out.
  table =
    cfg:
    if !(uses cfg) then
      null
    else
      {
        inherit (cfg.notify)
          successThreshold
          recovery
          repeat
          window
          ;
        channels = mapAttrs (
          _: c: filterAttrs (k: v: v != null && !(k == "to" && v == [ ])) (strip c)
        ) (channelsOf cfg);
      };

  # A passive target with `notify.targets.<id>` applied; its `notify` table
  # without unset keys, and left out when nothing is set.
  withOverrides =
    cfg: target:
    let
      id = escape.targetId target;
      o = strip (((cfg.notify or { }).targets or { }).${id} or { });
      own = dropNulls (strip (target.notify or { }));
      merged = own // dropNulls (removeAttrs o [ "failureThreshold" ]);
      threshold = if (o.failureThreshold or null) != null then o.failureThreshold else target.failureThreshold or null;
    in
    removeAttrs target [ "notify" "failureThreshold" ]
    // (if merged == { } then { } else { notify = merged; })
    // (if threshold == null then { } else { failureThreshold = threshold; });

  # LoadCredential= entries of the channels' secrets (`notify-<name>-<what>`),
  # only when notify is a backend.
  credentials =
    cfg:
    if !(uses cfg) then
      [ ]
    else
      concatMap (
        name:
        let
          c = (channelsOf cfg).${name};
          one = what: key: optional ((c.${key} or null) != null) "notify-${name}-${what}:${c.${key}}";
        in
        one "password" "passwordFile" ++ one "token" "tokenFile" ++ one "url" "urlFile"
      ) (attrNames (channelsOf cfg));

  assertions =
    cfg:
    let
      channels = channelsOf cfg;
      badNames = filter (n: match "[A-Za-z0-9_-]{1,64}" n == null) (attrNames channels);
      passiveIds = map escape.targetId (cfg.targets.passive or [ ]);
      unknown = filter (id: !(elem id passiveIds)) (attrNames ((cfg.notify or { }).targets or { }));
      mailWithoutTo = filter (n: elem channels.${n}.type [ "sendmail" "smtp" ] && channels.${n}.to == [ ]) (
        attrNames channels
      );
    in
    [
      {
        assertion = !(uses cfg) || channels != { };
        message = ''nixcloud.monitoring: "notify" is among the backends but nixcloud.monitoring.notify.channels is empty; add one, e.g. notify.channels.mail = { type = "sendmail"; to = [ "you@example.org" ]; }.'';
      }
      {
        assertion = badNames == [ ];
        message = "nixcloud.monitoring.notify.channels: names may only hold A-Z a-z 0-9 _ - (at most 64): ${concatStringsSep ", " badNames}";
      }
      {
        assertion = !(uses cfg) || mailWithoutTo == [ ];
        message = "nixcloud.monitoring.notify.channels: these mail channels have no `to` address: ${concatStringsSep ", " mailWithoutTo}";
      }
      {
        assertion = unknown == [ ];
        message = "nixcloud.monitoring.notify.targets: no passive target has the id ${concatStringsSep ", " unknown} (ids are <host>-<name>; watched units use networking.hostName as host)";
      }
    ];

  # Channels set up while notify is not a backend: nothing would be sent.
  warnings =
    cfg:
    optional (!(uses cfg) && channelsOf cfg != { })
      "nixcloud.monitoring.notify.channels is set but \"notify\" is not among nixcloud.monitoring.backends: no notices are sent.";

  # Channel types the admin uses (for the system test and README's examples).
  types = cfg: map (c: c.type) (attrValues (channelsOf cfg));
}
