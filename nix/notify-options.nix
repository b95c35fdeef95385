# Options of the `notify` destination: `nixcloud.monitoring.notify` (when a
# change is told, the channels that tell it, per-target overrides), declared
# by nix/options.nix. They reach the config file as its [notify] table
# (docs/config.md), except `targets`, which render.nix merges into the
# targets; nix/notify.nix turns them into credentials and assertions.
{ lib }:
let
  inherit (lib) mkOption types literalExpression;
  secretPath = import ./secret-path.nix { inherit lib; };
  limits = import ./notify-limits.nix;

  nullOr = type: description: mkOption {
    type = types.nullOr type;
    default = null;
    inherit description;
  };

  channel = types.submodule (
    { config, ... }:
    {
      options = {
        type = mkOption {
          type = types.enum [
            "sendmail"
            "smtp"
            "ntfy"
            "webhook"
          ];
          example = "smtp";
          description = ''
            How notices leave: `sendmail` (mail through the local sendmail:
            msmtp's `programs.msmtp`, or postfix), `smtp` (mail over SMTP
            directly), `ntfy` (a push message to an ntfy topic) or `webhook`
            (a JSON POST; Gotify, Slack and Discord bodies as presets).
          '';
        };
        to = mkOption {
          type = types.listOf types.str;
          default = [ ];
          example = [ "admin@example.org" ];
          description = "Mail channels: the addresses notices go to (at least one).";
        };
        from = nullOr types.str "Mail channels: the sender; null: `nixcloud-monitoring@<host name>`.";
        command = mkOption {
          type = types.nullOr types.str;
          default = if config.type == "sendmail" then "/run/wrappers/bin/sendmail" else null;
          defaultText = literalExpression ''if type == "sendmail" then "/run/wrappers/bin/sendmail" else null'';
          description = ''
            `sendmail` channels: the sendmail to run (`-i -f FROM -- TO…`, the
            mail on stdin). /run/wrappers/bin/sendmail is msmtp's with
            `programs.msmtp.enable` (its `setSendmail` is on by default).
            postfix's setgid sendmail cannot queue from the agent's sandbox
            (NoNewPrivileges=): with postfix use an `smtp` channel to
            127.0.0.1:25 instead.
          '';
        };
        host = nullOr types.str "`smtp` channels: the SMTP server (127.0.0.1 for a relay on this machine).";
        port = nullOr types.port "`smtp` channels: the port; null: 587 with STARTTLS, 465 with TLS, 25 without.";
        tls = nullOr (types.enum [
          "starttls"
          "tls"
          "none"
        ]) "`smtp` channels: `starttls` (required, the default), `tls` (from the first byte) or `none` (only for a relay on this machine).";
        user = nullOr types.str "`smtp` channels: the login, when the server wants one.";
        passwordFile = nullOr secretPath "`smtp` channels: file holding the password (needs `user`), passed to the units as the credential `notify-<name>-password`; never copied to the Nix store.";
        caFile = nullOr types.path "`smtp` channels: CA certificate of the server's certificate (null: the system's roots).";
        url = mkOption {
          type = types.nullOr types.str;
          default = null;
          example = "https://ntfy.sh";
          description = "`ntfy`: the server (null: https://ntfy.sh). `webhook`: the URL to POST to (use `urlFile` when it holds a token, as Slack's and Discord's do).";
        };
        urlFile = nullOr secretPath "`webhook` channels: file holding the URL, passed as the credential `notify-<name>-url`; wins over `url`.";
        topic = nullOr types.str "`ntfy` channels: the topic (required).";
        tokenFile = nullOr secretPath "`ntfy`: file holding an access token (`Authorization: Bearer`). `webhook`: a token (Gotify's app token as `X-Gotify-Key`, else `Authorization: Bearer`). Passed as the credential `notify-<name>-token`.";
        format = nullOr (types.enum [
          "json"
          "gotify"
          "slack"
          "discord"
        ]) "`webhook` channels: the body: `json` (the documented one, the default), `gotify`, `slack` or `discord`.";
      };
    }
  );

  threshold =
    description:
    mkOption {
      type = types.ints.between 1 limits.maxThreshold;
      default = 1;
      inherit description;
    };
in
{
  notify = {
    successThreshold = threshold "OK results in a row before a recovery is told (every target's default).";
    recovery = mkOption {
      type = types.bool;
      default = true;
      description = "Whether recoveries are told (every target's default).";
    };
    repeat = mkOption {
      type = types.ints.between 0 limits.maxRepeatMinutes;
      default = 0;
      example = 240;
      description = "Minutes between reminders while a problem lasts; 0: no reminders (every target's default).";
    };
    window = mkOption {
      type = types.ints.between 0 limits.maxWindowSeconds;
      default = 30;
      description = ''
        Seconds after a notice during which further changes wait, to go out
        together as one notice listing them all.
      '';
    };
    channels = mkOption {
      type = types.attrsOf channel;
      default = { };
      example = literalExpression ''
        {
          mail = { type = "sendmail"; to = [ "admin@example.org" ]; };
          phone = { type = "ntfy"; topic = "example-alerts"; tokenFile = "/run/keys/ntfy"; };
        }
      '';
      description = ''
        The ways notices leave the machine, each with a queue of its own (a
        mail server that is down delays only its own notices). Names: A-Z
        a-z 0-9 _ - (they name the channel's queue and credentials). Used
        when "notify" is among `backends`.
      '';
    };
    targets = mkOption {
      default = { };
      example = literalExpression ''
        { "''${config.networking.hostName}-restic-daily" = { failureThreshold = 2; repeat = 1440; }; }
      '';
      description = ''
        Overrides per target id, for any passive target: watched units, the
        failed-units check and targets other modules declare, whose own
        options you do not write. Keys set here win over the target's own
        `failureThreshold` and `notify`.
      '';
      type = types.attrsOf (
        types.submodule {
          options = {
            failureThreshold = nullOr (types.ints.between 1 limits.maxThreshold) "The target's `failureThreshold`.";
            enable = nullOr types.bool "Whether the target's changes are told.";
            successThreshold = nullOr (types.ints.between 1 limits.maxThreshold) "OK results in a row before a recovery is told.";
            recovery = nullOr types.bool "Whether recoveries are told.";
            repeat = nullOr (types.ints.between 0 limits.maxRepeatMinutes) "Minutes between reminders; 0: none.";
          };
        }
      );
    };
  };
}
