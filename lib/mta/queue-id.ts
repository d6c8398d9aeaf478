// Arrival time decoded from a queue ID alone, without opening the queue file: with 500,000
// messages queued, the oldest one can be found from the directory listing. Pure functions; each
// returns epoch seconds, or undefined when the ID does not carry a time (Postfix short IDs) or is
// not a well-formed ID of that MTA. Formats checked against the MTAs' own sources (cited below).
//
// How far the ID time is from the arrival time recorded in the queue file (Sendmail T line,
// Exim -H line 4, Postfix T record) is measured on the captured Debian spools in
// test/mta/queue-id.test.ts: equal to the second for Sendmail and Exim, 0.7-4.5 ms after T for
// Postfix long IDs. See each function for the cases where the two legitimately drift apart
// (Sendmail processes that queue many messages or split envelopes, Postfix pickup, Exim
// processes that outlive a step of the wall clock): the ID gives an estimate, the file the truth.


/** Lookup table: char code -> digit value in `alphabet`, -1 elsewhere (codes 0-127 only). */
function digitTable(alphabet: string): Int8Array {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) t[alphabet.charCodeAt(i)] = i;
  return t;
}

function digit(table: Int8Array, id: string, i: number): number {
  const c = id.charCodeAt(i);
  return c < 128 ? table[c] : -1;
}

// ---------------------------------------------------------------------------------------------
// Sendmail

/**
 * Sendmail 8.17.1.9 sendmail/queue.c (the version Debian 12 ships and the fixtures come from;
 * read in the deepin-community/sendmail packaging of that release), assign_queueid():
 *
 *   QueueIdChars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
 *   QIC_LEN 60, QIC_LEN_R 62 ("y" and "z" exist only for tm_sec 60 and 61, leap seconds)
 *   tm = gmtime(&LastQueueTime);
 *   id[0] = QueueIdChars[tm->tm_year % QIC_LEN]     tm_year = years since 1900 (2026 -> 126 -> '6')
 *   id[1] = QueueIdChars[tm->tm_mon]                0-11
 *   id[2] = QueueIdChars[tm->tm_mday]               1-31
 *   id[3] = QueueIdChars[tm->tm_hour]               0-23
 *   id[4] = QueueIdChars[tm->tm_min % QIC_LEN_R]    0-59
 *   id[5] = QueueIdChars[tm->tm_sec % QIC_LEN_R]    0-61
 *   id[6], id[7] = QueueIdChars[seq / 60], QueueIdChars[seq % 60]   per-process sequence, 0-3599
 *   then "%06d" of the pid ("%07d" with -d78.100): 14 characters, 15 for pids over 999,999.
 *
 * So the time fields are UTC (gmtime(), not localtime(): the host's time zone plays no part),
 * and the year is (year - 1900) mod 60, not year mod 60. The fixture host ran in UTC, so the
 * captures alone could not tell gmtime from localtime; the source does (an 8.10-era queue.c
 * already used gmtime()). 8.10/8.11 had one sequence character and "%05d" (12 characters; 8.10
 * RELEASE_NOTES: "New queue file naming system ... unique for 60 years"), 8.12 two and "%05d"
 * (13: "Queue file names are now 15 characters long, rather than 14"); both are accepted,
 * up to the 18 characters Sendmail's MAXQFNAME (21, with "qf" and the NUL) allows. Pre-8.10 IDs
 * ("AA12345") carry no time.
 *
 * The time is not the envelope's own: it is LastQueueTime, the second at which this process
 * last took a new ID base (its first ID, a new pid, or after 3600 IDs; assign_queueid sleeps to
 * the next second rather than reuse the previous base). newenvelope() assigns the ID and then
 * sets e_ctime (the T line) to the current time, so for a process that queues one message (the
 * usual SMTP child or sendmail -t; every capture) ID and T agree. Two ways they part:
 *  - one process queueing many messages (a long SMTP session, a batch through the MSP) gives
 *    all of them its first message's second: the ID is EARLIER than T, by up to the session length;
 *  - an envelope split off later (split_env, sendall's owner split) gets a new ID from the
 *    splitting process but keeps the T line it was copied from: the ID is LATER than T.
 * So an ID-based age is an estimate; the T line is the arrival.
 */
const SENDMAIL_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SENDMAIL_DIGIT = digitTable(SENDMAIL_CHARS);
/** Only tm_sec can reach 60 or 61: every other field, and the sequence, stay below QIC_LEN. */
const SENDMAIL_QIC_LEN = 60;
const SENDMAIL_ID_MIN = 12;
const SENDMAIL_ID_MAX = 18;
const DAY = 86_400;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
}

/**
 * Arrival (epoch seconds) of a Sendmail 8.10+ queue ID, or undefined when it is not one. The ID
 * holds the year modulo 60: the year taken is the latest one with that remainder that is not
 * after the (UTC) year of nowSec + 1 day (a day of clock skew around New Year). A message dated
 * later in that year than nowSec is returned as such (a clock that went back), not sent 60 years
 * into the past.
 */
export function sendmailIdArrival(id: string, nowSec: number): number | undefined {
  if (!Number.isFinite(nowSec) || id.length < SENDMAIL_ID_MIN || id.length > SENDMAIL_ID_MAX) return undefined;
  const f: number[] = [];
  for (let i = 0; i < 8; i++) {
    const d = digit(SENDMAIL_DIGIT, id, i);
    // tm_sec (index 5) may be 60 or 61; nothing else reaches QIC_LEN.
    if (d < 0 || (d >= SENDMAIL_QIC_LEN && i !== 5)) return undefined;
    f.push(d);
  }
  for (let i = 8; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return undefined; // the pid, in decimal
  }
  const [yearMod, month, mday, hour, minute, second] = f;
  if (month > 11 || mday < 1 || hour > 23 || minute > 59) return undefined;
  const limitTmYear = new Date((nowSec + DAY) * 1000).getUTCFullYear() - 1900;
  if (!Number.isFinite(limitTmYear)) return undefined;
  const tmYear = limitTmYear - ((((limitTmYear - yearMod) % 60) + 60) % 60);
  const year = 1900 + tmYear;
  if (mday > daysInMonth(year, month)) return undefined; // Feb 30, Apr 31, Feb 29 of a common year
  // A leap second (60, 61) is counted as the next minute's 0 or 1, as POSIX time has no leap seconds.
  return Date.UTC(year, month, mday, hour, minute, second) / 1000;
}

// ---------------------------------------------------------------------------------------------
// Exim

/**
 * Exim (src/src/receive.c, message id creation; spec chapter "Message identification"):
 *
 *   4.96 and older: tttttt-pppppp-ss            (16 characters)
 *   4.97 and later: tttttt-ppppppppppp-ssss     (23 characters; local_scan.h MESSAGE_ID_TIME_LEN 6,
 *                                                MESSAGE_ID_PID_LEN 11, MESSAGE_ID_SUBTIME_LEN 4)
 *
 * tttttt = string_base62_32(message_id_tv.tv_sec): the epoch second, six base-62 digits with
 * leading zeros, alphabet base62_chars (globals.c) "0-9A-Za-z". pppp.. is the pid and ss../ssss
 * the sub-second part (its unit depends on localhost_number, so only whole seconds are decoded).
 * Exim's own ID syntax check (exim.c regex_ismsgid) accepts any letters and digits in all three
 * fields; so does this.
 *
 * On Darwin and Cygwin Exim is built with BASE_62 = 36 (os.h: case-insensitive file names) and
 * the same six characters are base 36: this decoder assumes base 62 (every other platform).
 * message_id_tv comes from exim_gettime(), CLOCK_BOOTTIME/MONOTONIC plus the offset to the wall
 * clock taken when the process started: a process that lived across a step of the wall clock
 * numbers its messages in the old time, while -H line 4 (gettimeofday) has the new one.
 */
const EXIM_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const EXIM_DIGIT = digitTable(EXIM_CHARS);
const EXIM_TIME_LEN = 6;

function eximFieldOk(id: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (digit(EXIM_DIGIT, id, i) < 0) return false;
  return true;
}

/** Arrival (epoch seconds) of an Exim message ID, old (16-char) or 4.97+ (23-char); else undefined. */
export function eximIdArrival(id: string): number | undefined {
  let pidLen: number;
  if (id.length === 16) pidLen = 6;
  else if (id.length === 23) pidLen = 11;
  else return undefined;
  const dash2 = EXIM_TIME_LEN + 1 + pidLen;
  if (id.charCodeAt(EXIM_TIME_LEN) !== 0x2d || id.charCodeAt(dash2) !== 0x2d) return undefined;
  if (!eximFieldOk(id, 0, EXIM_TIME_LEN) || !eximFieldOk(id, EXIM_TIME_LEN + 1, dash2) || !eximFieldOk(id, dash2 + 1, id.length)) {
    return undefined;
  }
  let sec = 0;
  for (let i = 0; i < EXIM_TIME_LEN; i++) sec = sec * 62 + digit(EXIM_DIGIT, id, i);
  return sec;
}

// ---------------------------------------------------------------------------------------------
// Postfix

/**
 * Postfix long queue IDs (enable_long_queue_ids = yes), src/global/mail_queue.h (MQID_LG_*) and
 * src/global/safe_ultostr.c:
 *
 *   safe_chars = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"  (no vowels: 10+21+21 = 52)
 *   ID = seconds  base 52, left-padded with '0' to at least 6 chars  (MQID_LG_SEC_BASE/PAD)
 *      + usec     base 52, exactly 4 chars                           (MQID_LG_USEC_BASE/PAD)
 *      + 'z'                                                         (MQID_LG_INUM_SEP)
 *      + inode    base 51 (the first 51 safe chars: never 'z'), no padding
 *
 * 'z' is digit 51 in the time fields, so the separator is the last 'z', at index 10 or more
 * (MQID_FIND_LG_INUM_SEPARATOR). The time is gettimeofday() in mail_queue_enter() when the queue
 * file was created; the result keeps the microseconds as a fraction (Math.floor() for whole
 * seconds). Short IDs (the default: upper-case hex, microseconds and inode) carry no seconds: undefined.
 *
 * The T record comes from the program that hands the message to cleanup: smtpd (its MAIL FROM
 * time), postdrop (its start, for the sendmail command), post_mail() for bounces and notices.
 * The ID comes from cleanup's mail_queue_enter() when it creates the incoming file, so it is
 * normally a little later than T: smtpd opens the cleanup stream at the first accepted RCPT TO
 * (smtpd_delay_open_until_valid_rcpt = yes), after the recipient restrictions (DNS lookups) ran;
 * mail that waited in maildrop/ for pickup gets its incoming ID (and name) only when picked up.
 * The maildrop file itself is named by postdrop, just after postdrop's T.
 */
const POSTFIX_CHARS = '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz';
const POSTFIX_DIGIT = digitTable(POSTFIX_CHARS);
const MQID_LG_SEC_PAD = 6;
const MQID_LG_USEC_PAD = 4;
const MQID_LG_TIME_PAD = MQID_LG_SEC_PAD + MQID_LG_USEC_PAD;
const MQID_LG_INUM_BASE = 51;

function postfixNumber(id: string, from: number, to: number, base: number): number | undefined {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = digit(POSTFIX_DIGIT, id, i);
    if (d < 0 || d >= base) return undefined;
    n = n * base + d;
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Arrival (epoch seconds, with the microseconds as a fraction) of a Postfix long queue ID; else undefined. */
export function postfixIdArrival(id: string): number | undefined {
  const sep = id.lastIndexOf('z');
  if (sep < MQID_LG_TIME_PAD || sep === id.length - 1) return undefined; // short ID, or no inode
  if (postfixNumber(id, sep + 1, id.length, MQID_LG_INUM_BASE) === undefined) return undefined;
  const sec = postfixNumber(id, 0, sep - MQID_LG_USEC_PAD, 52);
  const usec = postfixNumber(id, sep - MQID_LG_USEC_PAD, sep, 52);
  if (sec === undefined || usec === undefined || usec > 999_999) return undefined;
  return sec + usec / 1e6;
}

/**
 * The name Postfix hashes a queue ID by (src/global/mail_queue.c mail_queue_dir): a short ID
 * itself; for a long ID its microseconds in hex, "%05X" (MQID_LG_GET_HEX_USEC). The hash
 * directories are this name's first hash_queue_depth characters, one level each (dir_forest()):
 * short ID 4F1C21A0B2 -> deferred/4/, long ID 4jY3D101DQzBynd (usec 3350 = 00D16) -> deferred/0/.
 * Undefined for a name that is not a Postfix queue ID of either form.
 */
export function postfixHashName(id: string): string | undefined {
  const sep = id.lastIndexOf('z');
  if (sep >= MQID_LG_TIME_PAD && sep < id.length - 1) {
    const usec = postfixNumber(id, sep - MQID_LG_USEC_PAD, sep, 52);
    if (usec === undefined || usec > 999_999 || postfixNumber(id, 0, sep - MQID_LG_USEC_PAD, 52) === undefined) return undefined;
    return usec.toString(16).toUpperCase().padStart(5, '0');
  }
  return id.length ? id : undefined;
}
