// A one-node Slurm cluster for a test, on this machine: munged, slurmctld and slurmd with every
// path (key, sockets, state, spool, pids, logs) under one temp dir and random ports, so it never
// touches a system install or another test's cluster. `stop` cancels the jobs, ends the three
// daemons by their pid files and removes the dir; call it from t.teardown so it runs on failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, hostname, tmpdir, totalmem } from 'node:os';
import path from 'node:path';

export interface SlurmCluster {
  dir: string;
  /** The environment for sbatch, squeue, scontrol: SLURM_CONF points at this cluster. */
  env: NodeJS.ProcessEnv;
  scontrol: (...args: string[]) => string;
  stop: () => Promise<void>;
  /** The same, synchronous and without waiting: for process 'exit' when the test is killed. */
  stopNow: () => void;
}

/** Why the test cannot run here, or null when it can. */
export function slurmMissing(): string | null {
  for (const bin of ['munged', 'slurmctld', 'slurmd', 'sbatch']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`],
      { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` } }).status !== 0) {
      return `${bin} is not installed (apt-get install slurm-wlm; .ci/run does)`;
    }
  }
  if (process.getuid?.() !== 0) return 'slurmd and munged run as root here (SlurmUser=root); run the test as root';
  return null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function pidOf(file: string): number | null {
  if (!existsSync(file)) return null;
  const n = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(n) && n > 0 ? n : null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function killPid(pid: number | null): Promise<void> {
  if (pid === null || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export async function startSlurm(): Promise<SlurmCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wgpt-slurm-'));
  const p = (...s: string[]): string => path.join(dir, ...s);
  for (const d of ['state', 'spool', 'log']) mkdirSync(p(d));
  const sbin = `${process.env.PATH}:/usr/sbin:/sbin`;
  const env = { ...process.env, PATH: sbin, SLURM_CONF: p('slurm.conf') };
  const run = (cmd: string, args: string[]): string =>
    execFileSync(cmd, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const pids = { munged: p('munged.pid'), slurmctld: p('slurmctld.pid'), slurmd: p('slurmd.pid') };

  const stop = async (): Promise<void> => {
    // Jobs first: slurmstepd outlives slurmd, so cancel and wait for the node to be empty.
    if (pidOf(pids.slurmctld) !== null) {
      try {
        run('scancel', ['--full', '--user', 'root']);
        for (let i = 0; i < 50 && run('squeue', ['-h']).trim() !== ''; i++) await sleep(200);
      } catch {
        // the controller is already gone: nothing left to cancel through it
      }
    }
    await killPid(pidOf(pids.slurmd));
    await killPid(pidOf(pids.slurmctld));
    await killPid(pidOf(pids.munged));
    rmSync(dir, { recursive: true, force: true });
  };

  const stopNow = (): void => {
    try {
      run('scancel', ['--full', '--user', 'root']);
    } catch {
      // no controller: nothing to cancel
    }
    for (const f of [pids.slurmd, pids.slurmctld, pids.munged]) {
      const pid = pidOf(f);
      if (pid !== null && alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    writeFileSync(p('munge.key'), randomBytes(1024), { mode: 0o400 });
    run('munged', [`--key-file=${p('munge.key')}`, `--socket=${p('munge.sock')}`, `--pid-file=${pids.munged}`,
      `--log-file=${p('log', 'munged.log')}`, `--seed-file=${p('munge.seed')}`, '--force']);
    const host = hostname().split('.')[0];
    const port = 20000 + Math.floor(Math.random() * 20000);
    const mib = Math.floor(totalmem() / 2 ** 20 / 2);
    writeFileSync(p('slurm.conf'), [
      'ClusterName=wgpttest', `SlurmctldHost=${host}`, `SlurmctldPort=${port}`, `SlurmdPort=${port + 1}`,
      'AuthType=auth/munge', `AuthInfo=socket=${p('munge.sock')}`, 'CredType=cred/munge',
      'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
      'SlurmUser=root', 'SlurmdUser=root', `StateSaveLocation=${p('state')}`, `SlurmdSpoolDir=${p('spool')}`,
      `SlurmctldPidFile=${pids.slurmctld}`, `SlurmdPidFile=${pids.slurmd}`,
      `SlurmctldLogFile=${p('log', 'slurmctld.log')}`, `SlurmdLogFile=${p('log', 'slurmd.log')}`,
      'ReturnToService=2', 'MpiDefault=none', 'JobCompType=jobcomp/none', 'AccountingStorageType=accounting_storage/none',
      // A short grace between SIGTERM and SIGKILL keeps the test quick; checkpoints take well under it.
      'KillWait=15', 'SchedulerParameters=sched_interval=1',
      `NodeName=${host} CPUs=${availableParallelism()} RealMemory=${mib} State=UNKNOWN`,
      'PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP', '',
    ].join('\n'));
    run('slurmctld', ['-f', p('slurm.conf')]);
    run('slurmd', ['-f', p('slurm.conf')]);
    // Ready when the node reports idle.
    for (let i = 0; ; i++) {
      let state = '';
      try {
        state = run('sinfo', ['-h', '-o', '%T']).trim();
      } catch {
        // the controller is still starting
      }
      if (state === 'idle') break;
      if (i > 100) throw new Error(`the test Slurm cluster did not come up (node state "${state}"); logs in ${p('log')}`);
      await sleep(200);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, env, scontrol: (...args) => run('scontrol', args), stop, stopNow };
}
