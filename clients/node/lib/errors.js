'use strict';
/*
 * CommisError: every rejection of this package. Its code says where it
 * came from: "E_*" when commisd refused the request (the enum commis_err
 * name, with the number in errcode), "ERR_*" when the client failed
 * (connect, I/O, a malformed frame, a bad argument, a closed connection).
 */

const P = require('./proto');

class CommisError extends Error {
  constructor(code, message, extra) {
    super(message, extra && extra.cause !== undefined ?
      { cause: extra.cause } : undefined);
    this.name = 'CommisError';
    this.code = code;
    /* enum commis_err when commisd sent it, else 0. */
    this.errcode = (extra && extra.errcode) || 0;
    if (extra && extra.result !== undefined) this.result = extra.result;
  }

  /* commisd refused the request (an ERROR frame). */
  get rejected() {
    return this.errcode !== 0;
  }
}

/* An ERROR frame from commisd as a CommisError. */
function serverError(errcode, text) {
  const what = P.ERR_TEXT[errcode] || `error ${errcode}`;
  return new CommisError(P.errName(errcode),
    text ? `${what}: ${text}` : what, { errcode });
}

module.exports = { CommisError, serverError };
