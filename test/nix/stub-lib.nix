# Just enough of nixpkgs' `lib` to evaluate two of the hive's Nix files without nixpkgs, for the
# tests (test/nix/nix-files.test.ts, test/core/nixos-container.test.ts):
#
# - nix/module.nix's option declarations: each `mkOption` returns its declaration as written
#   (type as text, default, description). Nothing here checks or merges values the way the NixOS
#   module system does; the module's `config` is never evaluated.
# - a container configuration from src/core/runtime/nixos-container.ts: `getAttrFromPath` and
#   `splitString "."` behave as nixpkgs' do; `trivial.release` is a fixed text.
let
  type = name: name;
in
{
  mkOption = decl: decl // { _option = true; };
  mkEnableOption = what: {
    _option = true;
    type = "bool";
    default = false;
    description = "Whether to enable ${what}.";
  };
  literalExpression = text: { _literalExpression = text; };
  types = {
    bool = type "bool";
    str = type "str";
    path = type "path";
    package = type "package";
    nullOr = t: "null or ${t}";
    listOf = t: "list of ${t}";
    attrsOf = t: "attribute set of ${t}";
    enum = values: "one of ${builtins.concatStringsSep ", " values}";
    ints.between = lo: hi: "integer between ${toString lo} and ${toString hi}";
  };

  trivial.release = "stub";
  splitString =
    sep: s:
    assert sep == ".";
    builtins.filter builtins.isString (builtins.split "\\." s);
  getAttrFromPath = path: set: builtins.foldl' (acc: name: acc.${name}) set path;
}
