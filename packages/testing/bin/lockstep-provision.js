#!/usr/bin/env node
// The bin is a committed file rather than dist/provision.js itself: a workspace install links
// bins before anything is built, and a link to a file that does not exist yet fails.
import '../dist/provision.js';
