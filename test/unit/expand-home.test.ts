// The sdk's expandHome: `~` and `~/…` as the home folder, as every path option reads them; other
// paths (another user's `~name`, `~` inside a path, relative and absolute paths) as they are.
import { homedir } from "node:os";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { closestName, expandHome } from "@interloper/sdk";
import { expandUser } from "../../addons/modify/replacement.ts";

test("expandHome: ~ and ~/ expand; everything else stays", () => {
  const home = homedir();
  assert.is(expandHome("~"), home);
  assert.is(expandHome("~/"), `${home}/`);
  assert.is(expandHome("~/.interloper/config.yaml"), `${home}/.interloper/config.yaml`);
  for (const same of ["~other/x", "a/~/b", "./~", "/abs/~", "", "~~", " ~/x", "relative/path"]) {
    assert.is(expandHome(same), same, same);
  }
  assert.is(expandUser, expandHome, "modify's @file and map_local paths use the same helper");
});

test("closestName is public in the sdk: the did-you-mean of options and config keys", () => {
  assert.is(closestName("map_remot", ["mapRemote", "mapLocal"]), "mapRemote");
  assert.is(closestName("zzz", ["mapRemote"]), undefined);
});

test.run();
