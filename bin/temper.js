#!/usr/bin/env node
// Thin shim: the command line lives in the compiled sources.
import '../dist/src/cli/main.js';
