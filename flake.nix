{
  description = "hyperhive: a swarm of Claude Code agents on one host";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # Claude Code is unfree: the hive's own packages allow it, and nothing else
      pkgsFor =
        system:
        import nixpkgs {
          inherit system;
          config.allowUnfreePredicate = pkg: lib.getName pkg == "claude-code";
        };
      forAll = f: lib.genAttrs systems (system: f (pkgsFor system));
    in
    {
      # `nix build`, `nix run . -- doctor`: the hive with its pinned Bun, node_modules and claude
      # (nix/package.nix)
      packages = forAll (pkgs: rec {
        hyperhive = pkgs.callPackage ./nix/package.nix { };
        default = hyperhive;
      });

      overlays.default = final: _prev: {
        hyperhive = final.callPackage ./nix/package.nix { };
      };

      # services.hyperhive (nix/module.nix), with this flake's package
      nixosModules.default =
        { pkgs, ... }:
        {
          imports = [ ./nix/module.nix ];
          services.hyperhive.package = lib.mkDefault self.packages.${pkgs.stdenv.hostPlatform.system}.default;
        };

      # `nix develop`: Bun, git and sqlite for working on the hive; `bun install` fetches the rest
      # (including the pinned claude CLI) from the lockfile.
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.bun
            pkgs.nodejs_22
            pkgs.git
            pkgs.sqlite
            pkgs.chromium
          ];
          shellHook = ''
            export HIVE_DATA_DIR="''${HIVE_DATA_DIR:-$PWD/.hive}"
          '';
        };
      });
    };
}
