// yargs through its CommonJS build. The ES module build wraps help text at a fixed column, in the middle of words and
// flags ("wri/te", "--job/s"): its cliui has no word-aware wrap (yargs/yargs#2112, fixed only in yargs 18). The
// CommonJS build wraps with wrap-ansi, on word boundaries. esbuild bundles this require like any other.
import Yargs = require('yargs/yargs');
export = Yargs;
