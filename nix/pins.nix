# What nix/package.nix pins besides nixpkgs. Builtins only: the tests read it with
# nix-instantiate (test/nix/nix-files.test.ts).
#
# - bun: the Bun the hive is run with (README: `npm install -g bun@1.4.5`), the registry's own
#   tarball of its Linux build, with the registry's integrity hash.
# - nodeModules: the hash of what `bun install --frozen-lockfile --production` makes from
#   bun.lock for each system (a fixed-output derivation: the hash is of its output).
# - bunLock: the sha256 of the bun.lock those hashes were made from. package.nix refuses to
#   evaluate with any other bun.lock, so a changed lockfile fails with a message that says what to
#   do, not with a hash mismatch after the download. To update: set bunLock to
#   `sha256sum bun.lock`, set the system's nodeModules hash to "", build, and copy the hash that
#   Nix reports ("got: sha256-…").
{
  bun = {
    version = "1.4.5";
    x86_64-linux = {
      npm = "@oven/bun-linux-x64";
      hash = "sha512-IWX9BELoGHAUtMonkeSaNaZwXzRk+oDw6Mk+HBFXd3KHYIBNBsIGRupMZPcgNoDbJpLu6gAJjIoIVPZtt1aJ1g==";
    };
    aarch64-linux = {
      npm = "@oven/bun-linux-aarch64";
      hash = "sha512-4BXmsSKnjOrlGWqZV4x/oWa7AVoR+B6lCXddMzOAXBIm3t50eslg9wb66gmtW1AamEQ1l1CDvmmruysEhqOWMg==";
    };
  };

  bunLock = "6c1d18b1838c8b1791b34cf979497abf05780a21da00e859c3531c7c0a699d06";

  nodeModules = {
    x86_64-linux = {
      cpu = "x64";
      hash = "sha256-T7//uo9Rs9k5KIFWkUqJi1uPPnW6IHOGe6QJN0R6Rq0=";
    };
    aarch64-linux = {
      cpu = "arm64";
      hash = "sha256-Br9lPxGFW7sH97SyFymYPjT/b0fhCCf1PIq2AmYCH6o=";
    };
  };
}
