/**
 * `--help` for every command.
 * @module
 */
import { DEFAULT_GRACE_MS, type HelpTopic } from './args.js';
import { EXIT_BUSY, EXIT_LOST, EXIT_SPAWN_FAILED, EXIT_UNAVAILABLE, EXIT_USAGE } from './exit-codes.js';

const URLS = `URLs: memory:// file:///abs/dir redis://h:p rediss://h:p redlock://h1:p1,h2:p2,h3:p3
      etcd://h1:p1[,h2:p2] zookeeper://h1:p1[/chroot] consul://h:p postgres://user:pw@h/db
      (install the adapter next to lockstep: npm i -g lockstep @lockstep/redis ioredis)`;

const RUN = `lockstep run URL NAME [--ttl 30s] [--wait 10s] [--grace 10s] [--json] -- command args…

Holds the lock NAME while the command runs, renewing it, and releases it when the command ends.
The command gets LOCKSTEP_FENCING_TOKEN (a number that grows with every grant: pass it to what
the command writes) and LOCKSTEP_LOCK_NAME in its environment. Signals are passed on to it.

  --ttl D     lease length (default 15s); a holder that dies frees the lock after about this long
  --wait D    how long to wait for the lock (default: until granted); --wait 0 skips at once
              when someone else holds it, the cron way
  --grace D   when the lock is lost: SIGTERM, then SIGKILL after this long (default ${DEFAULT_GRACE_MS / 1000}s)
  --json      status lines on stderr as JSON objects (stdout is the command's)
  D is 500ms, 30s, 2m, 1h, or seconds.

Exit codes: the command's own (128+N when signal N ended it); ${EXIT_BUSY} the lock was held past --wait;
${EXIT_LOST} the lock was lost while the command ran (it was stopped); ${EXIT_USAGE} bad arguments;
${EXIT_UNAVAILABLE} the backend could not be used; ${EXIT_SPAWN_FAILED} the command could not be started.

Crontab, so that one host of many runs the nightly job:
  0 3 * * * lockstep run redis://redis:6379 nightly-report --wait 0 --ttl 5m -- /usr/local/bin/report`;

const LEAD = `lockstep lead URL NAME [--ttl 15s] [--value V] [--grace 10s] [--json] -- command args…

Campaigns in the election NAME, runs the command while leading, and campaigns again when the
command ends or leadership is lost (the command is then stopped: SIGTERM, SIGKILL after --grace),
until lockstep gets SIGINT or SIGTERM (passed on to a running command). The command gets
LOCKSTEP_TERM and LOCKSTEP_FENCING_TOKEN (the term: larger for every new leader) and
LOCKSTEP_ELECTION_NAME. --value is what observers see as the leader (default host:pid). A
command that keeps exiting is restarted with backoff, up to 10 s apart.`;

const INSPECT = `lockstep inspect URL NAME [--json]

Prints who holds the lock NAME (owner id, fencing token, lease left) and how many wait, as the
backend tells it right now. A snapshot for operators: it may have changed by the time it prints.
Backends that cannot tell say so (exit ${EXIT_UNAVAILABLE}).`;

const COUNTER = `lockstep counter URL NAME [get | incr [N] | decr [N] | set N] [--json]

Prints the counter's value after the operation (get is the default) on stdout: a number, or
{"name","value"} with --json. Increments and decrements are atomic on the backend.`;

/** The help text for `topic` (all commands when `undefined`). */
export function helpText(topic: HelpTopic | undefined): string {
  if (topic === 'run') return `${RUN}\n\n${URLS}\n`;
  if (topic === 'lead') return `${LEAD}\n\n${URLS}\n`;
  if (topic === 'inspect') return `${INSPECT}\n\n${URLS}\n`;
  if (topic === 'counter') return `${COUNTER}\n\n${URLS}\n`;
  return `lockstep — distributed locks and counters from the shell, on any lockstep backend.

${RUN}

${LEAD}

${INSPECT}

${COUNTER}

${URLS}
`;
}
