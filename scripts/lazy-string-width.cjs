// string-width for the bundle of dist/cli.js, evaluated on its first call. The real module makes
// an Intl.Segmenter when it loads, which maps ICU data (~3 MB of resident memory) into every
// running proxy; yargs only measures text when it prints help or a usage error.
let impl;
module.exports = function stringWidth(string, options) {
  impl ??= require("string-width").default;
  return impl(string, options);
};
