# Target ids and their escaped form.
#
# A target's id is "<host>-<name>" (docs/config.md). Wherever an id has to be
# part of a systemd unit name, a command name, a file name or a credential
# name, this escaped form is used, everywhere the same way:
#
#   * every character other than A-Z a-z 0-9 . _ - becomes one "_"
#     (a character, not a byte: "快乐" becomes "__", not "______");
#   * a leading "." becomes "_" (no hidden files, no ".service"-like names).
#
# The Rust agent implements the same rule and shares the test vectors in
# nix/tests/escape.nix. Two different ids that escape to the same string are
# rejected like duplicates (see checks.nix).
#
# Nix strings are byte strings, so "one underscore per character" is done by
# counting the bytes of a run of disallowed characters that are NOT UTF-8
# continuation bytes (0x80-0xBF): every character has exactly one such byte.
# Nix has no byte literals; the 64 continuation bytes are taken from the
# second byte of the UTF-8 encodings of U+0080..U+00BF, which fromJSON builds.
let
  inherit (builtins)
    concatStringsSep
    filter
    fromJSON
    genList
    head
    isList
    length
    listToAttrs
    match
    split
    stringLength
    substring
    ;

  allowed = "[A-Za-z0-9._-]*";

  # { "<byte 0x80>" = true; ... "<byte 0xBF>" = true; }
  continuationBytes =
    let
      hexDigits = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
      codepoints = builtins.concatMap (hi: map (lo: "00${hi}${lo}") hexDigits) [ "8" "9" "a" "b" ];
      secondByte = cp: substring 1 1 (fromJSON ''"\u${cp}"'');
    in
    listToAttrs (map (cp: { name = secondByte cp; value = true; }) codepoints);

  bytesOf = s: genList (i: substring i 1 s) (stringLength s);

  # Number of characters in a run of disallowed bytes. Valid UTF-8 is assumed
  # (TOML and the agent only deal in UTF-8); a run of stray continuation bytes
  # still yields at least one "_", so nothing silently disappears.
  charCount =
    run:
    let
      n = length (filter (b: !(continuationBytes ? ${b})) (bytesOf run));
    in
    if n == 0 then 1 else n;

  underscores = n: concatStringsSep "" (genList (_: "_") n);

  # The characters a host or name must not hold, the agent's set
  # (src/config/limits.rs `forbidden`): the C0 controls U+0001..U+001F (Nix
  # strings cannot hold NUL; TOML's "\u0000" cannot reach a Nix string either),
  # U+007F, the C1 controls U+0080..U+009F (U+0085 is a line break), the
  # bidirectional controls (U+202E shows a name backwards) and the line and
  # paragraph separators U+2028, U+2029. fromJSON builds them, as Nix has no
  # escapes for most of them.
  controlChars =
    let
      hex = [ "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" "a" "b" "c" "d" "e" "f" ];
      codes =
        builtins.tail (builtins.concatMap (hi: map (lo: "00${hi}${lo}") hex) [ "0" "1" "8" "9" ])
        ++ [
          "007f"
          "061c"
          "200e"
          "200f"
          "202a"
          "202b"
          "202c"
          "202d"
          "202e"
          "2066"
          "2067"
          "2068"
          "2069"
          "2028"
          "2029"
        ];
    in
    map (cp: fromJSON ''"\u${cp}"'') codes;

  replaceDisallowed =
    s:
    if match allowed s != null then
      s # fast path: the usual host names and check names
    else
      concatStringsSep "" (
        map (part: if isList part then underscores (charCount (head part)) else part) (
          split "([^A-Za-z0-9._-]+)" s
        )
      );
in
rec {
  # "<host>-<name>", the raw id the agent and the server know a target by.
  targetId = target: "${target.host}-${target.name}";

  # The escaped form of a raw id (see the rule above).
  escapeId =
    id:
    let
      body = replaceDisallowed id;
    in
    if substring 0 1 body == "." then "_" + substring 1 (stringLength body) body else body;

  # The number of characters (not bytes) of a UTF-8 string.
  charLength = s: length (filter (b: !(continuationBytes ? ${b})) (bytesOf s));

  # True when an id needs no escaping (shown in docs/error messages).
  isPlainId = id: escapeId id == id;

  # True when a string holds a control character (a newline, a tab, ...), a
  # bidirectional control or a line separator. Such a host or name cannot be
  # part of a unit's one-line description, a server-side name or a log line
  # (or reads as something else), so checks.nix refuses it.
  hasControlChar = s: builtins.replaceStrings controlChars (map (_: "") controlChars) s != s;

  # The string with each such character shown as "_": what unit
  # descriptions use, so that a bad id reaches the assertion that names it
  # instead of failing NixOS's one-line type check first.
  printable = s: builtins.replaceStrings controlChars (map (_: "_") controlChars) s;
}
