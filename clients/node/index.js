'use strict';
/*
 * commis-client: a Node.js client for commisd's control socket
 * (docs/protocol.md, version 4). CommonJS; the exports are plain
 * `exports.NAME =` assignments so that Node's ES module loader finds them
 * by name: `import { connect } from 'commis-client'` works too.
 */

const P = require('./lib/proto');
const client = require('./lib/client');
const errors = require('./lib/errors');

exports.connect = client.connect;
exports.Client = client.Client;
exports.CommisError = errors.CommisError;
exports.PROTO_VERSION = P.PROTO_VERSION;
exports.STATUS = P.STATUS_NAMES;
exports.ERRORS = P.ERR_CODES;
