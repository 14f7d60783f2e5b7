import { Socket } from 'node:net';
import { NetworkNamespace } from '../lib/network-namespace.ts';
import { closeFd, createSocketFd } from '../lib/socket-fd.ts';
import { resolveContainerCommand } from './container-command.ts';
import type { ExecPlan } from './container-exec.ts';
import type { LogSource } from './kubelet-server.ts';
import { refused, type AttachSource, type StreamingBackend, type StreamRefusal } from './kubelet-streaming.ts';
import type { NodeContainer } from './node-container.ts';
import type { NodePod } from './node-pod.ts';

export interface PodStreamsOptions {
  nodeName: string;
  nodeBinary: string;
  cliEntry: string;
  findPod(namespace: string, name: string): NodePod | undefined;
}

/**
 * What the kubelet API serves from the pods of a node: logs (their files); exec exec enters the container's running
 * process with `nsenter` (its mount and network namespaces, working directory) and runs the
 * command as the container's user with its environment; attach follows the container's output;
 * port-forward connects to the pod's localhost from a socket made in its network namespace.
 */
export class PodStreams implements StreamingBackend {
  private readonly o: PodStreamsOptions;

  constructor(o: PodStreamsOptions) {
    this.o = o;
  }

  private pod(namespace: string, name: string, uid: string | undefined): NodePod | StreamRefusal {
    const pod = this.o.findPod(namespace, name);
    if (!pod || pod.isTerminating || (uid !== undefined && uid !== '' && pod.uid !== uid)) return { status: 404, message: `pod "${name}" in namespace "${namespace}" is not running on node ${this.o.nodeName}` };
    return pod;
  }

  private container(namespace: string, name: string, uid: string | undefined, container: string | undefined): NodeContainer | StreamRefusal {
    const pod = this.pod(namespace, name, uid);
    if (refused(pod)) return pod;
    const c = container ? pod.containers.find((x) => x.name === container) ?? pod.initContainers.find((x) => x.name === container) : pod.containers[0];
    if (!c) return { status: 400, message: `container ${container} is not valid for pod ${name}` };
    return c;
  }

  /** A container's log files (kubectl logs); a string says why there are none. */
  logSource(namespace: string, name: string, container: string): LogSource | string {
    const pod = this.o.findPod(namespace, name);
    if (!pod) return `pod "${name}" in namespace "${namespace}" is not running on node ${this.o.nodeName}`;
    const c = pod.container(container);
    if (!c || c.name !== container) return `container "${container}" is not in pod "${name}"`;
    if (!c.started) return `container "${container}" in pod "${name}" is waiting to start: ${c.waitingReason}`;
    return c;
  }

  execPlan(namespace: string, name: string, uid: string | undefined, container: string | undefined, command: string[]): ExecPlan | StreamRefusal {
    const c = this.container(namespace, name, uid, container);
    if (refused(c)) return c;
    const target = c.execTarget();
    if (!target) return { status: 400, message: `unable to upgrade connection: container not found ("${c.name}"): it is not running` };
    const resolved = resolveContainerCommand({ name: c.name, command }, { nodeBinary: this.o.nodeBinary, cliEntry: this.o.cliEntry, workdir: target.cwd, path: target.env.PATH ?? '' });
    if ('waiting' in resolved) return { status: 400, message: `exec in container ${c.name}: ${command[0]}: executable file not found in $PATH (mizzen node runs programs of this machine)` };
    return { argv: ['nsenter', `--target=${target.pid}`, '--mount', '--net', '--wd', ...target.user, ...resolved.argv], env: target.env };
  }

  attachSource(namespace: string, name: string, uid: string | undefined, container: string | undefined): AttachSource | StreamRefusal {
    const c = this.container(namespace, name, uid, container);
    if (refused(c)) return c;
    if (!c.isRunning()) return { status: 400, message: `container ${c.name} is not running` };
    return c;
  }

  dialer(namespace: string, name: string, uid: string | undefined): { pod: string; dial: (port: number) => Socket } | StreamRefusal {
    const pod = this.pod(namespace, name, uid);
    if (refused(pod)) return pod;
    const netns = pod.netns;
    return {
      pod: pod.key,
      dial: (port) => {
        const home = NetworkNamespace.current();
        const ns = NetworkNamespace.open(`/run/netns/${netns}`);
        let fd: number;
        try {
          fd = ns.run(home, () => createSocketFd());
        } finally {
          ns.close();
          home.close();
        }
        let s: Socket;
        try {
          s = new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
        } catch (err) {
          closeFd(fd);
          throw err;
        }
        return s.connect(port, '127.0.0.1');
      },
    };
  }
}
