// `wgpt sweep run DIR --scheduler k8s`: DIR/sweep-job.yaml, an Indexed Job. Kubernetes gives pod i
// JOB_COMPLETION_INDEX=i, which `wgpt sweep task` reads to pick line i of runs.jsonl; the sweep
// directory is a volume every pod mounts, so checkpoints outlive evicted pods.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { WgptError } from '../../engine/errors.ts';

export const K8S_FILE = 'sweep-job.yaml';

export interface K8sOptions {
  runs: number;
  maxParallel: number;
  name: string;
  /** A container image with wgpt installed. */
  image: string;
  /** The PersistentVolumeClaim that holds the sweep directory. */
  claim: string;
  /** Where the claim is mounted in the pod: the sweep directory there. */
  mountPath: string;
  /** How the image starts wgpt, e.g. ['wgpt'] or ['node', '/app/bin/wgpt.js']. */
  wgpt: string[];
  /** GPUs per pod (nvidia.com/gpu); 0: none requested. */
  gpus: number;
}

/** A DNS-1123 name from a directory name (what Kubernetes accepts as a Job name). */
export function jobName(sweepDir: string): string {
  const base = path.basename(path.resolve(sweepDir)).toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return `wgpt-sweep-${base || 'runs'}`.slice(0, 52).replace(/-+$/, '');
}

export function indexedJobYaml(o: K8sOptions): string {
  const s = JSON.stringify; // JSON strings are valid YAML scalars: no quoting mistakes
  const command = [...o.wgpt, 'sweep', 'task', o.mountPath];
  return [
    `# Written by \`wgpt sweep run --scheduler k8s\`: kubectl apply -f ${K8S_FILE}`,
    '# Pod i runs line i of runs.jsonl (JOB_COMPLETION_INDEX, set by Kubernetes for Indexed Jobs).',
    'apiVersion: batch/v1',
    'kind: Job',
    'metadata:',
    `  name: ${s(o.name)}`,
    'spec:',
    '  completionMode: Indexed',
    `  completions: ${o.runs}`,
    `  parallelism: ${o.maxParallel}`,
    // Retries per run: an evicted or failed pod starts again and resumes from the checkpoint.
    `  backoffLimit: ${3 * o.runs}`,
    '  template:',
    '    spec:',
    '      restartPolicy: Never',
    // SIGTERM first: the task asks its run to checkpoint, which needs a little time.
    '      terminationGracePeriodSeconds: 120',
    '      containers:',
    '        - name: wgpt',
    `          image: ${s(o.image)}`,
    `          command: ${s(command)}`,
    `          workingDir: ${s(o.mountPath)}`,
    '          volumeMounts:',
    `            - { name: sweep, mountPath: ${s(o.mountPath)} }`,
    ...(o.gpus > 0 ? ['          resources:', '            limits:', `              nvidia.com/gpu: ${o.gpus}`] : []),
    '      volumes:',
    `        - { name: sweep, persistentVolumeClaim: { claimName: ${s(o.claim)} } }`,
    '',
  ].join('\n');
}

export function writeK8sJob(sweepDir: string, o: K8sOptions): string {
  if (!o.image) throw new WgptError('--scheduler k8s needs --image IMAGE: a container image with wgpt installed');
  if (!o.claim) throw new WgptError('--scheduler k8s needs --volume CLAIM: the PersistentVolumeClaim holding the sweep directory');
  if (!path.posix.isAbsolute(o.mountPath)) throw new WgptError(`--mount must be an absolute path in the pod, got "${o.mountPath}"`);
  const file = path.join(sweepDir, K8S_FILE);
  writeFileSync(file, indexedJobYaml(o));
  return file;
}
